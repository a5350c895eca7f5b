package clusterstate

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func TestNamespaceLabelsLooksUpWhatTheCacheLacks(t *testing.T) {
	ctx := context.Background()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cached", Labels: map[string]string{"a": "b"}}}); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "new", Labels: map[string]string{"gitgate.dev/enforce": "true"}}})
	gets := 0
	client.PrependReactor("get", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if a.(k8stesting.GetAction).GetName() == "unreadable" {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	n := newNamespaceLabels(corelisters.NewNamespaceLister(indexer), client)

	if l, err := n.Labels(ctx, "cached"); err != nil || l["a"] != "b" || gets != 0 {
		t.Fatalf("cached namespace: %v %v, %d GETs", l, err, gets)
	}
	// Just created: not in the cache yet, so read once, then remembered.
	for range 3 {
		if l, err := n.Labels(ctx, "new"); err != nil || l["gitgate.dev/enforce"] != "true" {
			t.Fatalf("new namespace read as %v (%v), not as enforced", l, err)
		}
	}
	if gets != 1 {
		t.Errorf("%d GETs for a namespace the cache lacks, want 1", gets)
	}
	if l, err := n.Labels(ctx, "gone"); err != nil || l != nil {
		t.Errorf("a namespace that does not exist: %v %v", l, err)
	}
	// Unreadable: an error, never "unlabelled".
	if _, err := n.Labels(ctx, "unreadable"); err == nil || !strings.Contains(err.Error(), "reading namespace unreadable") {
		t.Errorf("an unreadable namespace gave %v, want an error", err)
	}
}
