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
// that prefix, and any other change copies the slice first. A write that
// adds the newest promotion, the common case, so costs the same whatever
// the history's length.
type timeline struct {
	items []*gitgate.Promotion
	// shared says a snapshot holds items: change a copy, except by append.
	shared bool
}

// view is the timeline as it is now, for a snapshot; it never changes.
func (t *timeline) view() []*gitgate.Promotion {
	t.shared = true
	return t.items[:len(t.items):len(t.items)]
}

// own makes items the timeline's own before a change other than an append.
func (t *timeline) own() {
	if t.shared {
		t.items = append(make([]*gitgate.Promotion, 0, len(t.items)+1), t.items...)
		t.shared = false
	}
}

// search is the index of the first item not older than p.
func (t *timeline) search(p *gitgate.Promotion) int {
	return sort.Search(len(t.items), func(i int) bool { return !newerPromotion(p, t.items[i]) })
}

// insert adds p in its place.
func (t *timeline) insert(p *gitgate.Promotion) {
	i := t.search(p)
	if i == len(t.items) {
		t.items = append(t.items, p) // past every view's end: no copy
		return
	}
	t.own()
	t.items = append(t.items, nil)
	copy(t.items[i+1:], t.items[i:])
	t.items[i] = p
}

// remove takes p out, when it is there.
func (t *timeline) remove(p *gitgate.Promotion) {
	for i := t.search(p); i < len(t.items) && !newerPromotion(t.items[i], p); i++ {
		if t.items[i] == p {
			t.own()
			t.items = append(t.items[:i], t.items[i+1:]...)
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

// newestFirst yields the promotions of an oldest-first slice newest first,
// with their position in that order.
func newestFirst(items []*gitgate.Promotion) iter.Seq2[int, *gitgate.Promotion] {
	return func(yield func(int, *gitgate.Promotion) bool) {
		for i := len(items) - 1; i >= 0; i-- {
			if !yield(len(items)-1-i, items[i]) {
				return
			}
		}
	}
}
