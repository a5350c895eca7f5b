package engine

import (
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

func promotionNames(items []*gitgate.Promotion) []string {
	out := make([]string, 0, len(items))
	for _, p := range items {
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
			before := slices.Clone(view)
			tc.change(tl)
			if !slices.Equal(view, before) {
				t.Errorf("the snapshot's view changed to %v, was %v", promotionNames(view), promotionNames(before))
			}
			if got := promotionNames(tl.items); !slices.Equal(got, tc.want) {
				t.Errorf("timeline is %v, want %v", got, tc.want)
			}
			if got := promotionNames(tl.view()); !slices.Equal(got, tc.want) {
				t.Errorf("a new view is %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNewestFirstStopsEarly checks the order promotions are yielded in and
// that a page stops where its reader stops.
func TestNewestFirstStopsEarly(t *testing.T) {
	items := []*gitgate.Promotion{timelinePromotion("a", 1), timelinePromotion("b", 2), timelinePromotion("c", 3)}
	var got []string
	for i, p := range newestFirst(items) {
		if i == 2 {
			break
		}
		got = append(got, p.Name)
	}
	if want := []string{"c", "b"}; !slices.Equal(got, want) {
		t.Errorf("first page is %v, want %v", got, want)
	}
}
