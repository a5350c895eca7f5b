package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// eventLine is what a watcher sees of an event, resourceVersion included.
func eventLine(ev Event) string {
	name := ""
	switch {
	case ev.Promotion != nil:
		name = "promotion/" + ev.Promotion.Name
	case ev.Environment != nil:
		name = "environment/" + ev.Environment.Name
	}
	return fmt.Sprintf("%d %s %s", ev.ResourceVersion, ev.Type, name)
}

// drain collects a subscription's events until none comes for a while.
func drain(t *testing.T, sub *Subscription) []Event {
	t.Helper()
	var out []Event
	for {
		select {
		case ev := <-sub.C:
			out = append(out, ev)
		case <-time.After(500 * time.Millisecond):
			return out
		}
	}
}

// TestReplicasNumberPromotionsAlike is two replicas of one repository: the
// writer reads its commits one write at a time, the other reads all of
// them in one refresh. Each promotion gets the same resourceVersion on
// both, so a watch resumed on the other replica from any promotion's
// resourceVersion gets exactly the promotions after it.
func TestReplicasNumberPromotionsAlike(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	writer, reader := f.engine("main"), f.engine("main")
	from := writer.Snapshot().ResourceVersion()
	if got := reader.Snapshot().ResourceVersion(); got != from {
		t.Fatalf("the replicas start at %d and %d", from, got)
	}
	onWriter, err := writer.Watch(from)
	if err != nil {
		t.Fatal(err)
	}
	defer onWriter.Stop()
	onReader, err := reader.Watch(from)
	if err != nil {
		t.Fatal(err)
	}
	defer onReader.Stop()
	ctx := context.Background()
	var names []string
	for i := 1; i <= 3; i++ {
		f.commitFile("main", "overlays/dev/kustomization.yaml", devOverlay(fmt.Sprintf("development-9.0.%d", i)))
		name := fmt.Sprintf("replicated-%d", i)
		if _, err := writer.Promote(ctx, PromotionRequest{Promotion: promotion(name, "test", "dev"), User: "ci"}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := reader.Refresh(ctx); err != nil { // all six commits at once
		t.Fatal(err)
	}
	promotionRVs := func(events []Event) map[string]uint64 {
		out := map[string]uint64{}
		for _, ev := range events {
			if ev.Promotion != nil {
				out[ev.Promotion.Name] = ev.ResourceVersion
			}
		}
		return out
	}
	written, read := drain(t, onWriter), drain(t, onReader)
	w, r := promotionRVs(written), promotionRVs(read)
	for _, name := range names {
		if w[name] == 0 || w[name] != r[name] {
			t.Errorf("%s: resourceVersion %d on the writer, %d on the reader", name, w[name], r[name])
		}
	}
	for _, events := range [][]Event{written, read} {
		for i := 1; i < len(events); i++ {
			if events[i].ResourceVersion <= events[i-1].ResourceVersion {
				t.Fatalf("events out of order: %s after %s", eventLine(events[i]), eventLine(events[i-1]))
			}
		}
	}
	if wr, rr := writer.Snapshot().ResourceVersion(), reader.Snapshot().ResourceVersion(); wr != rr {
		t.Fatalf("the replicas end at %d and %d", wr, rr)
	}
	// Resume on the reader from the writer's first promotion: the other
	// two, once each, and nothing from before.
	resumed, err := reader.Watch(w[names[0]])
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	var got []string
	for _, ev := range drain(t, resumed) {
		if ev.Promotion != nil {
			got = append(got, ev.Promotion.Name)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(names[1:]) {
		t.Fatalf("resumed on the reader after %s: promotions %v, want %v", names[0], got, names[1:])
	}
}
