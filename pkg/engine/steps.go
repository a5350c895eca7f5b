package engine

import (
	"slices"

	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// step is what one rebuild discovered: the commits the refs gained,
// parents before children. The i-th of them (from 1) brings the repository
// to base+i commits, so the events it causes take resourceVersions just
// above (base+i-1)*rvScale. Replicas that read the same commits in
// different refreshes (one per write here, several at once after a poll
// there) therefore give every promotion the same resourceVersion, and a
// watch resumed on another replica neither repeats nor misses one.
type step struct {
	base    uint64                   // commits known before the step
	commits []gitstore.Hash          // the step's commits in order
	index   map[gitstore.Hash]uint64 // commit → its place, from 1
}

// newStep orders the commits a rebuild discovered: parents first, then by
// committer time, then by hash, so that every replica orders a linear push
// the same way (and concurrent pushes to different branches the same way
// unless they share a second).
func newStep(base uint64, fresh []*gitstore.Commit) step {
	s := step{base: base, index: make(map[gitstore.Hash]uint64, len(fresh))}
	byHash := make(map[gitstore.Hash]*gitstore.Commit, len(fresh))
	for _, c := range fresh {
		byHash[c.Hash] = c
	}
	waiting := make(map[gitstore.Hash]int, len(fresh)) // parents in the step not yet placed
	children := map[gitstore.Hash][]*gitstore.Commit{}
	var ready []*gitstore.Commit
	for _, c := range fresh {
		for _, p := range c.Parents {
			if _, ok := byHash[p]; ok {
				waiting[c.Hash]++
				children[p] = append(children[p], c)
			}
		}
		if waiting[c.Hash] == 0 {
			ready = append(ready, c)
		}
	}
	before := func(a, b *gitstore.Commit) int {
		if c := a.Committer.When.Compare(b.Committer.When); c != 0 {
			return c
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	}
	for len(ready) > 0 {
		slices.SortFunc(ready, before)
		c := ready[0]
		ready = ready[1:]
		s.commits = append(s.commits, c.Hash)
		s.index[c.Hash] = uint64(len(s.commits))
		for _, child := range children[c.Hash] {
			if waiting[child.Hash]--; waiting[child.Hash] == 0 {
				ready = append(ready, child)
			}
		}
	}
	return s
}

// assignResourceVersions numbers a rebuild's events. A promotion added by
// a commit of the step goes just above its commit's place; every other
// event (environments, phase changes) just above the step's last commit's
// place, after the promotions there, since it reflects the step's end
// state. Events come back in resourceVersion order. When the step does
// not account for the change from oldRV to nextRV (history was rewritten,
// or nothing was added), the events are packed just below nextRV.
func assignResourceVersions(events []Event, oldRV, nextRV uint64, st step) []Event {
	n := uint64(len(st.commits))
	if n > 0 && st.base*rvScale == oldRV && (st.base+n)*rvScale == nextRV {
		placed := map[uint64]uint64{}
		var rest []int
		for i := range events {
			if p := events[i].Promotion; p != nil && events[i].Type == watch.Added {
				if h, err := gitstore.ParseHash(p.Status.Commit); err == nil {
					if j, ok := st.index[h]; ok {
						placed[j]++
						events[i].ResourceVersion = (st.base+j-1)*rvScale + placed[j]
						continue
					}
				}
			}
			rest = append(rest, i)
		}
		for _, i := range rest {
			placed[n]++
			events[i].ResourceVersion = (st.base+n-1)*rvScale + placed[n]
		}
		fits := true
		for _, k := range placed {
			fits = fits && k < rvScale
		}
		if fits {
			slices.SortStableFunc(events, func(a, b Event) int {
				switch {
				case a.ResourceVersion < b.ResourceVersion:
					return -1
				case a.ResourceVersion > b.ResourceVersion:
					return 1
				}
				return 0
			})
			return events
		}
	}
	k := uint64(len(events))
	for i := range events {
		events[i].ResourceVersion = nextRV
		if nextRV-oldRV >= k {
			events[i].ResourceVersion = nextRV - k + 1 + uint64(i)
		}
	}
	return events
}
