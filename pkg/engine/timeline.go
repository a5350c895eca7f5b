package engine

import (
	"iter"
	"sort"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// timeline holds promotions oldest first (by time, then by name in reverse,
// so that read backwards it is newest first with names breaking ties).
// Snapshots share it instead of copying it: a snapshot keeps the prefix
// that existed when it was built (view), the timeline only appends past
// that prefix, and any other change copies what it changes first.
//
// The newest promotions (at most 2×newestKept) are kept apart from the
// older ones, so that a change among them (a promotion landing in the same
// second as the last one, a phase that changes) copies that short part,
// not history. A write that adds the newest promotion, the common case,
// copies nothing: the cost is the same whatever the history's length.
type timeline struct {
	older, newer []*gitgate.Promotion
	// olderShared and newerShared say a snapshot holds that part: change
	// a copy, except by append.
	olderShared, newerShared bool
}

// newestKept is how many of the newest promotions a timeline keeps apart
// after it moves the rest to the older part.
const newestKept = 256

// promotionSeq is a timeline as a snapshot holds it, oldest first. It
// never changes.
type promotionSeq struct{ older, newer []*gitgate.Promotion }

// Len is the number of promotions.
func (q promotionSeq) Len() int { return len(q.older) + len(q.newer) }

// All yields the promotions oldest first.
func (q promotionSeq) All() iter.Seq[*gitgate.Promotion] {
	return func(yield func(*gitgate.Promotion) bool) {
		for _, part := range [][]*gitgate.Promotion{q.older, q.newer} {
			for _, p := range part {
				if !yield(p) {
					return
				}
			}
		}
	}
}

// NewestFirst yields the promotions newest first, with their position in
// that order. Stopping early costs nothing for those not reached.
func (q promotionSeq) NewestFirst() iter.Seq2[int, *gitgate.Promotion] {
	return func(yield func(int, *gitgate.Promotion) bool) {
		n := 0
		for _, part := range [][]*gitgate.Promotion{q.newer, q.older} {
			for i := len(part) - 1; i >= 0; i-- {
				if !yield(n, part[i]) {
					return
				}
				n++
			}
		}
	}
}

// view is the timeline as it is now, for a snapshot; it never changes.
func (t *timeline) view() promotionSeq {
	t.olderShared, t.newerShared = true, true
	return promotionSeq{older: t.older[:len(t.older):len(t.older)], newer: t.newer[:len(t.newer):len(t.newer)]}
}

func (t *timeline) len() int { return len(t.older) + len(t.newer) }

func (t *timeline) at(i int) *gitgate.Promotion {
	if i < len(t.older) {
		return t.older[i]
	}
	return t.newer[i-len(t.older)]
}

// search is the index of the first item not older than p.
func (t *timeline) search(p *gitgate.Promotion) int {
	return sort.Search(t.len(), func(i int) bool { return !newerPromotion(p, t.at(i)) })
}

// part is the slice holding index i (the newer part for the end), owned
// by the timeline, and i's index in it.
func (t *timeline) part(i int) (*[]*gitgate.Promotion, int) {
	if i < len(t.older) {
		if t.olderShared {
			t.older = append(make([]*gitgate.Promotion, 0, len(t.older)+1), t.older...)
			t.olderShared = false
		}
		return &t.older, i
	}
	if t.newerShared {
		t.newer = append(make([]*gitgate.Promotion, 0, len(t.newer)+1), t.newer...)
		t.newerShared = false
	}
	return &t.newer, i - len(t.older)
}

// insert adds p in its place.
func (t *timeline) insert(p *gitgate.Promotion) {
	i := t.search(p)
	if i == t.len() {
		t.newer = append(t.newer, p) // past every view's end: no copy
	} else {
		s, j := t.part(i)
		*s = append(*s, nil)
		copy((*s)[j+1:], (*s)[j:])
		(*s)[j] = p
	}
	t.fold()
}

// fold moves all but the newestKept newest promotions to the older part
// once the newer one holds twice that: an append to the older part, and a
// fresh newer part, so that no view sees a change.
func (t *timeline) fold() {
	if len(t.newer) <= 2*newestKept {
		return
	}
	k := len(t.newer) - newestKept
	t.older = append(t.older, t.newer[:k]...)
	t.newer = append(make([]*gitgate.Promotion, 0, 2*newestKept+1), t.newer[k:]...)
	t.newerShared = false
}

// remove takes p out, when it is there.
func (t *timeline) remove(p *gitgate.Promotion) {
	for i := t.search(p); i < t.len() && !newerPromotion(t.at(i), p); i++ {
		if t.at(i) == p {
			s, j := t.part(i)
			*s = append((*s)[:j], (*s)[j+1:]...)
			return
		}
	}
}

// newerPromotion orders promotions newest first, by name when equally new.
func newerPromotion(a, b *gitgate.Promotion) bool {
	ta, tb := a.Status.Time, b.Status.Time
	if !ta.Equal(tb) {
		return tb.Before(ta)
	}
	return a.Name < b.Name
}
