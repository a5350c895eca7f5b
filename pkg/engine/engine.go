package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// Options configure an Engine.
type Options struct {
	// Repository is the remote and its credentials.
	Repository gitstore.Options
	// DefaultBranch holds the environment definitions; default "main".
	DefaultBranch string
	// Author signs every commit gitgate makes.
	Author gitstore.Signature
	// PushAttempts bounds how often a write re-plans after the remote
	// moved; default 8.
	PushAttempts int
	// RetryAfter is what an unavailable error tells clients to wait; default
	// 1s. client-go (and so kubectl) retries a 503 with Retry-After up to 10
	// times, so this also bounds how long a write waits for Git to return.
	RetryAfter time.Duration
	// EventHistory is how many changes a watch can resume over; default 1000.
	EventHistory int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ObserveGit, when set, is told about every fetch, push and ref check
	// ("fetch", "push", "ls-remote").
	ObserveGit func(operation string, took time.Duration, err error)
	// SyncTimeout bounds the ref check of a consistent read; default 3s.
	SyncTimeout time.Duration
	// ApprovalKey seals the commits approvals rely on (approvals_seal.go);
	// every replica serving the repository needs the same key. Without
	// one, promotions into environments with approvals are refused.
	ApprovalKey []byte
	// Health measures spec.promotionPolicy.minSoak; without it a
	// promotion into an environment with a soak is refused.
	Health HealthClock
}

func (o *Options) setDefaults() {
	if o.DefaultBranch == "" {
		o.DefaultBranch = "main"
	}
	if o.Author.Name == "" {
		o.Author = gitstore.Signature{Name: "gitgate", Email: "gitgate@localhost"}
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = 8
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.EventHistory <= 0 {
		o.EventHistory = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 3 * time.Second
	}
	if o.ObserveGit == nil {
		o.ObserveGit = func(string, time.Duration, error) {}
	}
}

// Engine serves one repository.
type Engine struct {
	opts   Options
	events *broadcaster
	snap   atomic.Pointer[Snapshot]
	// audit indexes the break-glass audit chain (audit.go).
	audit atomic.Pointer[auditIndex]

	// syncs shares ref checks between concurrent consistent reads.
	syncs syncGroup
	// lastCheckFailed is when a consistent read's ref check last failed
	// (UnixNano; 0 when it worked): reads skip the check for RetryAfter.
	lastCheckFailed atomic.Int64

	// repo is set once; its Published reader and Refs, Current and
	// ListRefs are safe for concurrent use, the rest is used under mu.
	repo *gitstore.Repository
	// mu serializes every other use of repo and of the fields below it.
	mu       writeLock
	heads    map[string]gitstore.Hash
	known    map[gitstore.Hash]struct{}
	history  *history
	overlays map[gitstore.Hash]overlayFile // by the overlay directory's tree hash
	touched  map[touchKey]gitstore.Hash    // last commit that changed a path, by head
	chains   map[chainKey]*currentChain    // where a path is current, by branch and path
	spines   map[string][]gitstore.Hash    // by branch: the first-parent chain its last path walk read
	renders  map[string]*rendered          // by branch:overlay directory
	reach    reachability
	hadFetch bool
}

// writeLock serializes the engine's writers. Unlocking it drops whatever
// the holder staged in the mirror and did not push: a dry run, a refused
// plan or a lost race leaves nothing behind in memory.
type writeLock struct {
	sync.Mutex
	repo *gitstore.Repository
}

// Unlock discards the staged objects, then unlocks.
func (l *writeLock) Unlock() {
	l.repo.Discard()
	l.Mutex.Unlock()
}

type reachability struct {
	ok      bool
	message string
	at      time.Time
}

// New makes an engine. It reads nothing until Refresh.
func New(opts Options) (*Engine, error) {
	opts.setDefaults()
	repo, err := gitstore.Open(opts.Repository)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts:     opts,
		events:   newBroadcaster(opts.EventHistory),
		repo:     repo,
		mu:       writeLock{repo: repo},
		heads:    map[string]gitstore.Hash{},
		known:    map[gitstore.Hash]struct{}{},
		history:  newHistory(),
		overlays: map[gitstore.Hash]overlayFile{},
		touched:  map[touchKey]gitstore.Hash{},
		chains:   map[chainKey]*currentChain{},
		spines:   map[string][]gitstore.Hash{},
		renders:  map[string]*rendered{},
	}
	e.history.verify = e.verifyCommit
	e.snap.Store(&Snapshot{defaultBranch: opts.DefaultBranch})
	return e, nil
}

// Snapshot is the state as of the last refresh or write. It never blocks.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Ready reports whether the repository has been read at least once.
func (e *Engine) Ready() bool { return e.snap.Load().ready }

// Refresh fetches the remote and publishes what changed. When the remote
// cannot be reached, the previous snapshot stays (marked GitReachable=False)
// and the error wraps ErrUnavailable.
func (e *Engine) Refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refreshLocked(ctx)
}

func (e *Engine) refreshLocked(ctx context.Context) error {
	start := time.Now()
	err := e.repo.Fetch(ctx)
	e.opts.ObserveGit("fetch", time.Since(start), err)
	if err != nil {
		e.reach = unreachable(err, e.opts.Now())
		if e.hadFetch {
			// Keep serving the last good state, marked unreachable.
			if rerr := e.rebuildLocked(); rerr != nil {
				return rerr
			}
		}
		return e.unavailable(err)
	}
	e.hadFetch = true
	e.reach = reachability{ok: true, at: e.opts.Now()}
	return e.rebuildLocked()
}

// unreachable records a failed Git operation. gitstore's errors carry no
// credential, so the message can be shown in conditions and logs.
func unreachable(err error, now time.Time) reachability {
	return reachability{ok: false, message: err.Error(), at: now}
}

func (e *Engine) unavailable(err error) error {
	return &UnavailableError{RetryAfter: e.opts.RetryAfter, Err: err}
}

// Run checks the remote every interval until ctx ends, and fetches when it
// moved (see Sync): the check holds no lock, so a hung remote never keeps
// writers waiting on a poll. Errors are reported through onError (and
// through the snapshot's GitReachable condition).
func (e *Engine) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Sync(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// rebuildLocked reads the mirror's branches, updates the history index and
// publishes a new snapshot with the changes as events.
func (e *Engine) rebuildLocked() error {
	heads, err := e.repo.Branches()
	if err != nil {
		return err
	}
	st, err := e.updateHistoryLocked(heads)
	if err != nil {
		return err
	}
	old := e.snap.Load()
	next, err := e.buildSnapshotLocked(heads, st)
	if err != nil {
		return err
	}
	e.heads = heads
	e.snap.Store(next)
	e.events.publish(old, next, st)
	e.pruneCachesLocked()
	e.refreshAuditLocked()
	return nil
}

// maxOverlayCache bounds the cache of parsed overlays (by tree hash).
const maxOverlayCache = 4096

// pruneCachesLocked keeps the derived caches bounded by the branches, not
// by the number of writes: last-touch answers are kept for current heads
// only (the next refresh starts from them), and the overlay cache starts
// over when it outgrows maxOverlayCache.
func (e *Engine) pruneCachesLocked() {
	current := make(map[gitstore.Hash]bool, len(e.heads))
	for _, h := range e.heads {
		current[h] = true
	}
	for k := range e.touched {
		if !current[k.head] {
			delete(e.touched, k)
		}
	}
	for b := range e.spines {
		if _, ok := e.heads[b]; !ok {
			delete(e.spines, b)
		}
	}
	if len(e.overlays) > maxOverlayCache {
		clear(e.overlays)
	}
}

// updateHistoryLocked discovers the commits that the branches gained and
// indexes their promotion trailers. When a branch was deleted or rewritten,
// it starts over from the current branches. It returns the commits found,
// in the order the step gives them.
func (e *Engine) updateHistoryLocked(heads map[string]gitstore.Hash) (step, error) {
	for branch, old := range e.heads {
		head, ok := heads[branch]
		if ok && head == old {
			continue
		}
		ff := false
		if ok {
			var err error
			if ff, err = e.repo.IsAncestor(old, head); err != nil {
				return step{}, err
			}
		}
		if !ff {
			e.known = map[gitstore.Hash]struct{}{}
			version := e.history.version
			e.history = newHistory()
			e.history.version = version + 1 // never a version an older snapshot has
			e.history.verify = e.verifyCommit
			break
		}
	}
	base := uint64(len(e.known))
	var fresh []*gitstore.Commit
	for _, branch := range branchOrder(heads, e.opts.DefaultBranch) {
		err := e.repo.Walk([]gitstore.Hash{heads[branch]}, func(h gitstore.Hash) bool {
			_, ok := e.known[h]
			return ok
		}, func(c *gitstore.Commit) error {
			e.known[c.Hash] = struct{}{}
			fresh = append(fresh, c)
			e.history.add(c, branch)
			return nil
		})
		if err != nil {
			return step{}, fmt.Errorf("reading history of %s: %w", branch, err)
		}
	}
	return newStep(base, fresh), e.history.settle(e.repo, heads)
}
