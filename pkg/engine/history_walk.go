package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// maxHistoryWalk bounds how many commits History reads.
const maxHistoryWalk = 5000

// History lists up to limit commits that changed an environment's path on
// its branch, newest first, following first parents (what `git log
// --first-parent -- <path>` shows). Promotion commits carry their name.
// The environment's break-glass records (audit.go) are interleaved by time.
// It reads the mirror's published objects: it never waits on a write.
func (e *Engine) History(name string, limit int) (*gitgate.EnvironmentHistory, error) {
	s := e.snap.Load()
	env, err := s.Environment(name)
	if err != nil {
		return nil, err
	}
	repo := e.repo.Published()
	out := &gitgate.EnvironmentHistory{ObjectMeta: metav1.ObjectMeta{Name: name}}
	cur, ok := s.heads[env.Spec.Branch]
	for i := 0; ok && i < maxHistoryWalk && len(out.Entries) < limit; i++ {
		c, err := repo.Commit(cur)
		if err != nil {
			return nil, err
		}
		tree, _ := repo.TreeHash(cur, env.Spec.Path)
		var parentTree gitstore.Hash
		if len(c.Parents) > 0 {
			parentTree, _ = repo.TreeHash(c.Parents[0], env.Spec.Path)
		}
		if tree != parentTree {
			out.Entries = append(out.Entries, historyEntry(c))
		}
		if len(c.Parents) == 0 {
			break
		}
		cur = c.Parents[0]
	}
	for _, b := range e.BreakGlassRecords(name, time.Time{}) {
		when := metav1.NewTime(b.Time)
		out.Entries = append(out.Entries, gitgate.HistoryEntry{
			Commit: b.Commit, Time: &when, Author: b.User,
			Subject: fmt.Sprintf("break-glass %s of %s: %s", b.Operation, b.Object(), b.Reason),
		})
	}
	sort.SliceStable(out.Entries, func(i, j int) bool { return out.Entries[j].Time.Before(out.Entries[i].Time) })
	if len(out.Entries) > limit {
		out.Entries = out.Entries[:limit]
	}
	return out, nil
}

func historyEntry(c *gitstore.Commit) gitgate.HistoryEntry {
	ts := parseTrailers(c.Message)
	subject, _, _ := strings.Cut(c.Message, "\n")
	when := metav1.NewTime(c.Author.When)
	return gitgate.HistoryEntry{
		Commit: c.Hash.String(), Time: &when, Author: c.Author.Name, Subject: subject,
		Promotion: trailerValue(ts, TrailerPromotion), PromotedBy: trailerValue(ts, TrailerPromotedBy),
	}
}
