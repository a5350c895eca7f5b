package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// AuditRef is the commit chain that records break-glass changes durably:
// one commit per change, on a ref that is not a branch, so Flux (which
// reads branches) never applies it and promotions never carry it.
const AuditRef = gitstore.GitgateRefs + "audit"

// Trailers of an audit commit.
const (
	TrailerBreakGlass   = "Gitgate-Break-Glass"
	TrailerBreakGlassBy = "Gitgate-Break-Glass-By"
	TrailerObject       = "Gitgate-Object"
	TrailerOperation    = "Gitgate-Operation"
	TrailerObserved     = "Gitgate-Observed"
	TrailerObservedAt   = "Gitgate-Observed-At"
)

// auditReadme is the only file of the audit chain's tree, for whoever
// checks the ref out.
const auditReadme = `This ref is gitgate's break-glass audit: one commit per emergency change
made outside Git, with who, when, what and why in its trailers.
Read it with: git fetch origin 'refs/gitgate/*:refs/gitgate/*' && git log refs/gitgate/audit
`

// BreakGlass is one break-glass change, observed on the cluster.
type BreakGlass struct {
	// Environment is the gitgate Environment whose breakglass verb
	// allowed it; empty when no environment owns the object.
	Environment string
	// User is the Kubernetes user who made the change.
	User string
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	// APIVersion and Kind, Namespace and Name say which object changed.
	APIVersion, Kind, Namespace, Name string
	// Reason is the object's gitgate.dev/break-glass annotation.
	Reason string
	// Key identifies the observed change (object UID @ resourceVersion), so
	// that a change seen by several replicas is recorded once.
	Key string
	// Time is when the change was observed.
	Time time.Time
	// Commit is the audit commit that records it (set when read back).
	Commit string
}

// Object is "Kind namespace/name" (or "Kind name" when cluster-scoped).
func (b BreakGlass) Object() string {
	if b.Namespace == "" {
		return b.Kind + " " + b.Name
	}
	return b.Kind + " " + b.Namespace + "/" + b.Name
}

// Summary is one line for people: who did what to which object, and why.
func (b BreakGlass) Summary() string {
	return fmt.Sprintf("%s changed %s outside Git (%s): %s", b.User, b.Object(), b.Operation, b.Reason)
}

// auditIndex is what the audit chain holds, read once per new tip.
type auditIndex struct {
	tip     gitstore.Hash
	records []BreakGlass // oldest first
	keys    map[string]bool
}

// errRecorded ends a write whose record the chain already holds.
var errRecorded = errors.New("already recorded")

// RecordBreakGlass appends b to the repository's audit chain, unless the
// chain already records b.Key (another replica saw the same change). It
// reports whether this call wrote the record. Like every write it is a
// compare-and-swap on the remote ref, re-planned when the ref moved.
func (e *Engine) RecordBreakGlass(ctx context.Context, b BreakGlass) (bool, error) {
	if b.Key == "" || b.User == "" || b.Reason == "" {
		return false, fmt.Errorf("a break-glass record needs a key, a user and a reason")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.writeLocked(ctx, func(*Snapshot) (gitstore.PushRequest, error) {
		idx, err := e.updateAuditLocked()
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		if idx.keys[b.Key] {
			return gitstore.PushRequest{}, errRecorded
		}
		var parents []gitstore.Hash
		var edits []gitstore.FileEdit
		if idx.tip.IsZero() {
			edits = []gitstore.FileEdit{{Path: "README", Content: []byte(auditReadme)}}
		} else {
			parents = []gitstore.Hash{idx.tip}
		}
		sig := e.signature()
		commit, err := e.repo.CreateCommit(parents, gitstore.ZeroHash, edits, auditMessage(b), sig, sig)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		return gitstore.PushRequest{Ref: AuditRef, Old: idx.tip, New: commit}, nil
	})
	if errors.Is(err, errRecorded) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = e.updateAuditLocked()
	return err == nil, err
}

func auditMessage(b BreakGlass) string {
	subject := fmt.Sprintf("break-glass: %s %s by %s", b.Operation, b.Object(), b.User)
	return formatMessage(subject, b.Reason, []trailer{
		{TrailerBreakGlass, b.Reason},
		{TrailerEnvironment, orNone(b.Environment)},
		{TrailerBreakGlassBy, b.User},
		{TrailerOperation, b.Operation},
		{TrailerObject, b.APIVersion + " " + b.Object()},
		{TrailerObserved, b.Key},
		{TrailerObservedAt, b.Time.UTC().Format(time.RFC3339)},
	})
}

func orNone(s string) string {
	if s == "" {
		return noValue
	}
	return s
}

// parseAudit reads a record back from an audit commit; ok is false for a
// commit that is not one (the chain's first commit may be).
func parseAudit(c *gitstore.Commit) (BreakGlass, bool) {
	ts := parseTrailers(c.Message)
	key := trailerValue(ts, TrailerObserved)
	if key == "" {
		return BreakGlass{}, false
	}
	b := BreakGlass{
		Environment: trailerValue(ts, TrailerEnvironment),
		User:        trailerValue(ts, TrailerBreakGlassBy),
		Operation:   trailerValue(ts, TrailerOperation),
		Reason:      trailerValue(ts, TrailerBreakGlass),
		Key:         key,
		Time:        c.Author.When,
		Commit:      c.Hash.String(),
	}
	if b.Environment == noValue {
		b.Environment = ""
	}
	if t, err := time.Parse(time.RFC3339, trailerValue(ts, TrailerObservedAt)); err == nil {
		b.Time = t
	}
	// "apps/v1 Deployment shop-prod/app"
	if f := strings.Fields(trailerValue(ts, TrailerObject)); len(f) == 3 {
		b.APIVersion, b.Kind = f[0], f[1]
		if ns, name, ok := strings.Cut(f[2], "/"); ok {
			b.Namespace, b.Name = ns, name
		} else {
			b.Name = f[2]
		}
	}
	return b, true
}

// updateAuditLocked indexes the audit commits the mirror gained since the
// last call; a rewritten chain is read again from its tip.
func (e *Engine) updateAuditLocked() (*auditIndex, error) {
	cur := e.audit.Load()
	tip := e.repo.Refs()[AuditRef] // ZeroHash when the remote has no chain yet
	if cur != nil && cur.tip == tip {
		return cur, nil
	}
	next := &auditIndex{tip: tip, keys: map[string]bool{}}
	stop := gitstore.ZeroHash
	if cur != nil && !cur.tip.IsZero() && !tip.IsZero() {
		if ff, err := e.repo.IsAncestor(cur.tip, tip); err != nil {
			return nil, err
		} else if ff {
			stop = cur.tip
			next.records = append(next.records, cur.records...)
			for k := range cur.keys {
				next.keys[k] = true
			}
		}
	}
	var gained []BreakGlass
	if !tip.IsZero() {
		err := e.repo.Walk([]gitstore.Hash{tip}, func(h gitstore.Hash) bool { return h == stop }, func(c *gitstore.Commit) error {
			if b, ok := parseAudit(c); ok && !next.keys[b.Key] {
				gained = append(gained, b)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", AuditRef, err)
		}
	}
	for i := len(gained) - 1; i >= 0; i-- { // the walk is newest first
		if !next.keys[gained[i].Key] {
			next.keys[gained[i].Key] = true
			next.records = append(next.records, gained[i])
		}
	}
	e.audit.Store(next)
	return next, nil
}

// refreshAuditLocked indexes the audit chain after a fetch or push; a
// chain that cannot be read keeps the previous index and does not stop the
// refresh of everything else.
func (e *Engine) refreshAuditLocked() {
	if _, err := e.updateAuditLocked(); err != nil {
		klog.ErrorS(err, "Reading the break-glass audit chain; keeping the previous records", "ref", AuditRef)
	}
}

// BreakGlassRecords lists the recorded break-glass changes of an
// environment observed after since, oldest first, from memory.
func (e *Engine) BreakGlassRecords(environment string, since time.Time) []BreakGlass {
	idx := e.audit.Load()
	if idx == nil {
		return nil
	}
	var out []BreakGlass
	for _, b := range idx.records {
		if b.Environment == environment && b.Time.After(since) {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
