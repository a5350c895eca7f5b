package server

import (
	"context"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/registry"
)

// kustomizationsGVR is Flux's Kustomization API.
var kustomizationsGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

// fluxKustomizations reads Flux Kustomizations from an informer that starts
// once Flux's CRD exists, so that gitgate runs the same with or without Flux.
type fluxKustomizations struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	// store is the informer's cache once it runs.
	store atomic.Pointer[cache.Store]
	// changes hears of every change of a Kustomization's status.
	changes *registry.StatusNotifier
}

func newFluxKustomizations(dyn dynamic.Interface, disc discovery.DiscoveryInterface, changes *registry.StatusNotifier) *fluxKustomizations {
	return &fluxKustomizations{dynamic: dyn, discovery: disc, changes: changes}
}

// run waits for the Kustomization API to be served, then keeps an informer
// on it until ctx ends.
func (f *fluxKustomizations) run(ctx context.Context, poll time.Duration) {
	for {
		if _, err := f.discovery.ServerResourcesForGroupVersion(kustomizationsGVR.GroupVersion().String()); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(f.dynamic, 0)
	inf := factory.ForResource(kustomizationsGVR).Informer()
	notify := func(obj any) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			f.changes.Notify(registry.StatusChange{Kustomization: u.GetNamespace() + "/" + u.GetName()})
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: notify,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*unstructured.Unstructured)
			c, ok2 := cur.(*unstructured.Unstructured)
			if ok1 && ok2 && equality.Semantic.DeepEqual(o.Object["status"], c.Object["status"]) {
				return // only status shows on Environments
			}
			notify(cur)
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			notify(obj)
		},
	})
	factory.Start(ctx.Done())
	klog.InfoS("Reading Flux Kustomizations for environment sync status")
	store := inf.GetStore()
	f.store.Store(&store)
}

// Kustomization implements registry.SyncSource.
func (f *fluxKustomizations) Kustomization(namespace, name string) (registry.FluxKustomization, bool) {
	store := f.store.Load()
	if store == nil {
		return registry.FluxKustomization{}, false
	}
	obj, exists, err := (*store).GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return registry.FluxKustomization{}, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return registry.FluxKustomization{}, false
	}
	out := registry.FluxKustomization{}
	out.AppliedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		out.Ready = m["status"] == "True"
		out.Message, _ = m["message"].(string)
	}
	return out, true
}
