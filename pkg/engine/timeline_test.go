package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func timelinePromotion(name string, minute int) *gitgate.Promotion {
	t := metav1.NewTime(time.Date(2026, 11, 29, 12, minute, 0, 0, time.UTC))
	p := &gitgate.Promotion{}
	p.Name, p.Status.Time = name, &t
	return p
}

func promotionNames(q promotionSeq) []string {
	out := make([]string, 0, q.Len())
	for p := range q.All() {
		out = append(out, p.Name)
	}
	return out
}

// TestTimelineViewsNeverChange checks that what a snapshot holds stays as
// it was whatever the timeline does next, and that the timeline keeps its
// order.
func TestTimelineViewsNeverChange(t *testing.T) {
	a, b, c := timelinePromotion("a", 1), timelinePromotion("b", 2), timelinePromotion("c", 3)
	tied := timelinePromotion("a2", 3) // as new as c: the name orders them
	cases := []struct {
		name   string
		change func(tl *timeline)
		want   []string
	}{
		{"the newest is appended", func(tl *timeline) { tl.insert(timelinePromotion("d", 4)) }, []string{"a", "b", "c", "d"}},
		{"an older one is inserted in its place", func(tl *timeline) { tl.insert(timelinePromotion("ab", 1)) }, []string{"ab", "a", "b", "c"}},
		{"a tie goes by name, newest first read backwards", func(tl *timeline) { tl.insert(tied) }, []string{"a", "b", "c", "a2"}},
		{"one is removed", func(tl *timeline) { tl.remove(b) }, []string{"a", "c"}},
		{"one not held is not removed", func(tl *timeline) { tl.remove(timelinePromotion("b", 2)) }, []string{"a", "b", "c"}},
		{"one is replaced by its copy", func(tl *timeline) {
			cp := b.DeepCopy()
			tl.remove(b)
			tl.insert(cp)
		}, []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := &timeline{}
			for _, p := range []*gitgate.Promotion{b, c, a} {
				tl.insert(p)
			}
			view := tl.view()
			before := promotionNames(view)
			tc.change(tl)
			if got := promotionNames(view); !slices.Equal(got, before) {
				t.Errorf("the snapshot's view changed to %v, was %v", got, before)
			}
			if got := promotionNames(tl.view()); !slices.Equal(got, tc.want) {
				t.Errorf("timeline is %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTimelineKeepsTheNewestApart checks, past the point where the newest
// promotions are moved to the older part, that every kind of change keeps
// the order, leaves every earlier view as it was, and copies only the
// newest part for a change among the newest.
func TestTimelineKeepsTheNewestApart(t *testing.T) {
	tl := &timeline{}
	var views []promotionSeq
	var names [][]string
	const n = 3*newestKept + 2 // the last insert moves the older ones
	for i := 0; i < n; i++ {
		tl.insert(timelinePromotion(fmt.Sprintf("p%04d", i), i))
		// Views now and then, and one just before each move (the last
		// view is that one, so the change below finds nothing shared).
		if i%97 == 0 && i < 2*newestKept || len(tl.newer) == 2*newestKept {
			views = append(views, tl.view())
			names = append(names, promotionNames(views[len(views)-1]))
		}
	}
	if len(tl.newer) > 2*newestKept || len(tl.older) == 0 {
		t.Fatalf("after %d promotions the newer part holds %d and the older %d: nothing was moved", n, len(tl.newer), len(tl.older))
	}
	olderArray := &tl.older[0]
	tl.remove(tl.at(tl.len() - 3))            // right after the move
	tl.insert(timelinePromotion("late", n-2)) // among the newest: ties p{n-2} by time
	if &tl.older[0] != olderArray {
		t.Error("a change among the newest copied the older part")
	}
	tl.insert(timelinePromotion("early", 0)) // older than all but p0000
	for i, v := range views {
		if got := promotionNames(v); !slices.Equal(got, names[i]) {
			t.Fatalf("view %d changed", i)
		}
	}
	// Oldest first: p0000 and early share a minute (early's name sorts
	// first, so it is the newer); p{n-3} was removed; late comes after
	// p{n-2}, whose minute it shares.
	want := []string{"p0000", "early"}
	for i := 1; i < n; i++ {
		if i != n-3 {
			want = append(want, fmt.Sprintf("p%04d", i))
		}
		if i == n-2 {
			want = append(want, "late")
		}
	}
	if got := promotionNames(tl.view()); !slices.Equal(got, want) {
		t.Fatalf("timeline holds %d promotions, want %d in order; first %v, last %v", len(got), len(want), got[:3], got[len(got)-2:])
	}
}

// TestNewestFirstStopsEarly checks the order promotions are yielded in,
// across both parts, and that a page stops where its reader stops.
func TestNewestFirstStopsEarly(t *testing.T) {
	q := promotionSeq{
		older: []*gitgate.Promotion{timelinePromotion("a", 1), timelinePromotion("b", 2)},
		newer: []*gitgate.Promotion{timelinePromotion("c", 3)},
	}
	var got []string
	for i, p := range q.NewestFirst() {
		if i == 2 {
			break
		}
		got = append(got, p.Name)
	}
	if want := []string{"c", "b"}; !slices.Equal(got, want) {
		t.Errorf("first page is %v, want %v", got, want)
	}
}
