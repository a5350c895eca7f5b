package clusterstate

import (
	"sync"

	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// Bounds of the ancestry cache: how many revisions' histories are kept,
// and how many commits of each are read. A promotion older than
// maxAncestors commits before the applied revision is not told Applied.
const (
	ancestryRevisions = 16
	maxAncestors      = 20000
)

// ancestry remembers the history of the revisions Flux applied: a list of
// promotions asks whether each of their commits is in the same one or two
// revisions, which one walk per revision answers. The history of a commit
// never changes, so every read and watch shares it, whatever repository
// asked.
type ancestry struct {
	mu        sync.Mutex
	histories map[string]map[string]struct{} // revision commit → its history
}

func newAncestry() *ancestry {
	return &ancestry{histories: map[string]map[string]struct{}{}}
}

// Contains reports whether Flux revision (main@sha1:<sha>) is commit or
// one of its descendants, as e's mirror knows; false while it cannot tell
// (a revision the mirror has not fetched yet is read again next time).
func (s *State) Contains(e *engine.Engine, revision, commit string) bool {
	return s.ancestry.contains(RevisionCommit(revision), commit, e.Ancestors)
}

func (a *ancestry) contains(descendant, commit string, read func(descendant string, limit int) ([]string, bool, error)) bool {
	a.mu.Lock()
	history, ok := a.histories[descendant]
	a.mu.Unlock()
	if !ok {
		commits, _, err := read(descendant, maxAncestors)
		if err != nil {
			return false
		}
		history = make(map[string]struct{}, len(commits))
		for _, c := range commits {
			history[c] = struct{}{}
		}
		a.mu.Lock()
		if len(a.histories) >= ancestryRevisions {
			a.histories = map[string]map[string]struct{}{}
		}
		a.histories[descendant] = history
		a.mu.Unlock()
	}
	_, ok = history[commit]
	return ok
}
