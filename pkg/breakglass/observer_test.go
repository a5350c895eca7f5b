package breakglass

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// observe runs one claim against a watch that delivers events, then ends
// (as the TTL would), and returns what was recorded and how the watch was
// opened.
func observe(t *testing.T, c Claim, events ...watch.Event) ([]*Record, clienttesting.WatchRestrictions) {
	t.Helper()
	client := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	fw := watch.NewFakeWithChanSize(len(events), false)
	var opened clienttesting.WatchRestrictions
	client.PrependWatchReactor("deployments", func(a clienttesting.Action) (bool, watch.Interface, error) {
		opened = a.(clienttesting.WatchActionImpl).WatchRestrictions
		return true, fw, nil
	})
	for _, e := range events {
		fw.Action(e.Type, e.Object)
	}
	fw.Stop() // no more events: the watch ends as if its TTL passed
	var recorded []*Record
	o := NewObserver(context.Background(), Options{Metadata: client, TTL: 5 * time.Second, Record: func(_ context.Context, r *Record) {
		recorded = append(recorded, r)
	}})
	o.watch(c)
	return recorded, opened
}

func TestObserverRecordsOnlyWhatHappens(t *testing.T) {
	admitted := object("1", "", "INC-7", "kubectl-annotate")
	claim := Claim{User: "bob", Operation: "UPDATE", Resource: deployments, Namespace: "shop-prod", Name: "app",
		UID: "u-1", OldResourceVersion: "10", Reason: "INC-7", Fingerprint: Fingerprint(&admitted.ObjectMeta)}

	t.Run("not recorded: a forged claim, whose object moves on without it", func(t *testing.T) {
		recorded, opened := observe(t, claim,
			watch.Event{Type: watch.Modified, Object: object("1", "11", "", "kube-controller-manager")},
			watch.Event{Type: watch.Modified, Object: object("1", "12", "INC-7", "kubectl-annotate")})
		if len(recorded) != 0 {
			t.Errorf("recorded %+v", recorded[0])
		}
		if opened.ResourceVersion != "10" || opened.Fields.String() != "metadata.name=app" {
			t.Errorf("watch opened with %+v, want from resourceVersion 10 on metadata.name=app", opened)
		}
	})
	t.Run("not recorded: a claim nothing happens to", func(t *testing.T) {
		if recorded, _ := observe(t, claim); len(recorded) != 0 {
			t.Errorf("recorded %+v", recorded[0])
		}
	})
	t.Run("recorded once: the next revision is the admitted object", func(t *testing.T) {
		recorded, _ := observe(t, claim,
			watch.Event{Type: watch.Modified, Object: object("1", "11", "INC-7", "kubectl-annotate")},
			watch.Event{Type: watch.Modified, Object: object("1", "12", "INC-7", "kubectl-annotate")})
		if len(recorded) != 1 || recorded[0].Key() != "u-1@11" || recorded[0].User != "bob" || recorded[0].Reason != "INC-7" {
			t.Fatalf("recorded %+v, want one record of u-1@11 by bob", recorded)
		}
	})
	t.Run("create: watched from the current state", func(t *testing.T) {
		create := Claim{User: "bob", Operation: "CREATE", Resource: deployments, Namespace: "shop-prod", Name: "app", UID: "u-1", Reason: "INC-7"}
		recorded, opened := observe(t, create, watch.Event{Type: watch.Added, Object: object("1", "5", "INC-7")})
		if len(recorded) != 1 || opened.ResourceVersion != "" {
			t.Errorf("recorded %+v, watch from %q", recorded, opened.ResourceVersion)
		}
	})
}

func TestObserverBoundsPendingClaims(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	client.PrependWatchReactor("deployments", func(clienttesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil // never says anything
	})
	o := NewObserver(ctx, Options{Metadata: client, MaxPending: 2, TTL: time.Minute, Record: func(context.Context, *Record) {}})
	c := Claim{Operation: "UPDATE", Resource: deployments, Namespace: "n", Name: "a", UID: "u", OldResourceVersion: "1", Reason: "r"}
	if !o.Claim(c) || !o.Claim(c) {
		t.Fatal("the first two claims were dropped")
	}
	if o.Claim(c) {
		t.Error("a third claim was taken beyond MaxPending 2")
	}
}
