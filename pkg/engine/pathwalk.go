package engine

import (
	"sync"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// maxTouchWalk bounds the search for the commit that last changed a path.
const maxTouchWalk = 5000

// pathWalk is what one walk down a branch's first-parent chain found for
// many paths at once.
type pathWalk struct {
	// touched is, for each path followed, the newest commit that changed
	// it (the head when the walk ran out before finding one).
	touched map[string]gitstore.Hash
	// added is, for each file followed, the committer time of the newest
	// commit whose parent lacks it (of the oldest commit read, when the
	// walk ran out).
	added map[string]time.Time
	// chain is the first-parent chain read, head first.
	chain []gitstore.Hash
}

// walkPaths walks head's first-parent chain once, at most limit commits,
// and answers for every path in touch the commit that last changed it and
// for every file in added when it appeared. Each step reads the parent's
// entries for the paths still open in one EntryHashes call, so the cost
// is the depth walked, not the depth times the number of paths: a fleet of
// 200 environments is one walk, not 200. known, when it has an answer for
// a path at a commit (a previous head), ends that path's search there.
func walkPaths(git gitReader, head gitstore.Hash, touch, added []string, limit int, known func(commit gitstore.Hash, path string) (gitstore.Hash, bool)) (*pathWalk, error) {
	ps := &pathSearch{w: &pathWalk{touched: map[string]gitstore.Hash{}, added: map[string]time.Time{}},
		touch: map[string]bool{}, added: map[string]bool{}, hashes: map[string]gitstore.Hash{}, known: known}
	for _, p := range touch {
		ps.touch[p] = true
	}
	for _, f := range added {
		ps.added[f] = true
	}
	paths := ps.open()
	if len(paths) > 0 {
		hs, err := git.EntryHashes(head, paths)
		if err != nil {
			return nil, err
		}
		for i, p := range paths {
			ps.hashes[p] = hs[i]
		}
	}
	cur := head
	for i := 0; i < limit && len(paths) > 0; i, paths = i+1, ps.open() {
		ps.w.chain = append(ps.w.chain, cur)
		c, err := git.Commit(cur)
		var parentHashes []gitstore.Hash
		if err == nil && len(c.Parents) > 0 {
			parentHashes, err = git.EntryHashes(c.Parents[0], paths)
		}
		if err != nil || len(c.Parents) == 0 { // the chain ends here
			var when time.Time
			if c != nil {
				when = c.Committer.When
			}
			ps.end(cur, when)
			return ps.w, nil
		}
		ps.step(c, paths, parentHashes)
		cur = c.Parents[0]
	}
	var when time.Time
	if c, err := git.Commit(cur); err == nil && len(ps.added) > 0 {
		when = c.Committer.When
	}
	ps.end(head, when) // ran out: the head, and the oldest commit read
	return ps.w, nil
}

// pathSearch is the state of walkPaths: the paths still open and their
// entries at the commit the walk is at.
type pathSearch struct {
	w            *pathWalk
	touch, added map[string]bool // open searches
	hashes       map[string]gitstore.Hash
	known        func(gitstore.Hash, string) (gitstore.Hash, bool)
}

// open lists the paths still searched for.
func (ps *pathSearch) open() []string {
	out := make([]string, 0, len(ps.touch)+len(ps.added))
	for p := range ps.touch {
		out = append(out, p)
	}
	for f := range ps.added {
		if !ps.touch[f] {
			out = append(out, f)
		}
	}
	return out
}

// step compares commit c with its first parent, whose entries for paths
// are parentHashes, and closes the searches that end at c.
func (ps *pathSearch) step(c *gitstore.Commit, paths []string, parentHashes []gitstore.Hash) {
	parent := c.Parents[0]
	for j, p := range paths {
		if ps.touch[p] {
			if parentHashes[j] != ps.hashes[p] {
				ps.w.touched[p] = c.Hash
				delete(ps.touch, p)
			} else if h, ok := knownAt(ps.known, parent, p); ok {
				ps.w.touched[p] = h
				delete(ps.touch, p)
			}
		}
		if ps.added[p] && parentHashes[j].IsZero() {
			ps.w.added[p] = c.Committer.When
			delete(ps.added, p)
		}
		ps.hashes[p] = parentHashes[j]
	}
}

// end closes every open search: last changes at touched, appearances at when.
func (ps *pathSearch) end(touched gitstore.Hash, when time.Time) {
	for p := range ps.touch {
		ps.w.touched[p] = touched
	}
	for f := range ps.added {
		ps.w.added[f] = when
	}
}

func knownAt(known func(gitstore.Hash, string) (gitstore.Hash, bool), commit gitstore.Hash, path string) (gitstore.Hash, bool) {
	if known == nil {
		return gitstore.ZeroHash, false
	}
	return known(commit, path)
}

// touchKey is a path at a commit, for the cache of last changes.
type touchKey struct {
	head gitstore.Hash
	path string
}

// walkTouchesLocked finds the last change of every path at once with one
// walk down head, caches the answers by (head, path) and keeps the chain
// it read for currentChainLocked.
func (e *Engine) walkTouchesLocked(branch string, head gitstore.Hash, paths []string) {
	var todo []string
	for _, p := range paths {
		if _, ok := e.touched[touchKey{head, p}]; !ok {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return
	}
	w, err := walkPaths(e.repo, head, todo, nil, maxTouchWalk, e.knownTouch)
	if err != nil {
		return // lastTouchLocked answers one by one
	}
	for p, h := range w.touched {
		e.touched[touchKey{head, p}] = h
	}
	e.spines[branch] = w.chain
}

// walkAllTouchesLocked runs walkTouchesLocked once per branch for the
// paths of the snapshot's usable environments on it.
func (e *Engine) walkAllTouchesLocked(s *Snapshot) {
	byBranch := map[string][]string{}
	for _, name := range s.envNames {
		if st := s.envs[name]; st.err == nil {
			byBranch[st.env.Spec.Branch] = append(byBranch[st.env.Spec.Branch], st.env.Spec.Path)
		}
	}
	for branch, paths := range byBranch {
		if head, ok := s.heads[branch]; ok {
			e.walkTouchesLocked(branch, head, paths)
		}
	}
}

func (e *Engine) knownTouch(commit gitstore.Hash, path string) (gitstore.Hash, bool) {
	h, ok := e.touched[touchKey{commit, path}]
	return h, ok
}

// lastTouchLocked is the newest first-parent commit from head that changed
// dir (or head itself when the walk is too long), from the cache that
// walkTouchesLocked fills, or by a walk of its own.
func (e *Engine) lastTouchLocked(head gitstore.Hash, dir string) gitstore.Hash {
	key := touchKey{head, dir}
	if h, ok := e.touched[key]; ok {
		return h
	}
	result := head
	if w, err := walkPaths(e.repo, head, []string{dir}, nil, maxTouchWalk, e.knownTouch); err == nil {
		result = w.touched[dir]
	}
	e.touched[key] = result
	return result
}

// addedAtLocked finds when each file appeared on head's first-parent
// history (see pathWalk.added), with one walk for all of them.
func (e *Engine) addedAtLocked(head gitstore.Hash, files []string) map[string]time.Time {
	if len(files) == 0 {
		return nil
	}
	w, err := walkPaths(e.repo, head, nil, files, maxTouchWalk, nil)
	if err != nil {
		return nil // zero times: unknown
	}
	return w.added
}

// chainKey names a path on a branch.
type chainKey struct{ branch, path string }

// currentChain holds the commits at which a path is what it was at rev: the
// first-parent chain from rev up to the newest head walked. While rev stays
// the path's last change, the chain only grows, and every commit in it stays
// true for every snapshot with that rev, so snapshots share it; a new rev
// starts a new chain.
type currentChain struct {
	rev, tip gitstore.Hash // tip is read and written under the engine's lock
	commits  sync.Map      // gitstore.Hash → struct{}; read by snapshots
}

func (c *currentChain) has(h gitstore.Hash) bool {
	_, ok := c.commits.Load(h)
	return ok
}

// currentChainLocked extends the chain of branch:dir from head down to
// where the last walk started (or to rev), at most maxTouchWalk commits:
// each refresh walks only the commits that are new. It follows the chain
// walkTouchesLocked read for the branch when that starts at head, and
// reads commits only beyond it.
func (e *Engine) currentChainLocked(branch, dir string, head, rev gitstore.Hash) *currentChain {
	key := chainKey{branch, dir}
	c := e.chains[key]
	if c == nil || c.rev != rev {
		c = &currentChain{rev: rev}
		e.chains[key] = c
	}
	spine := e.spines[branch]
	if len(spine) == 0 || spine[0] != head {
		spine = nil
	}
	for cur, i := head, 0; i < maxTouchWalk && cur != c.tip; i++ {
		c.commits.Store(cur, struct{}{})
		if cur == rev {
			break
		}
		if i+1 < len(spine) {
			cur = spine[i+1]
			continue
		}
		commit, err := e.repo.Commit(cur)
		if err != nil || len(commit.Parents) == 0 {
			break
		}
		cur = commit.Parents[0]
	}
	c.tip = head
	return c
}
