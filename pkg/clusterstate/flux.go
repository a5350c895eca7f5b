package server

import (
	"context"
	"sync"
	"time"

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
// Each Kustomization is read once per change, not per request.
type fluxKustomizations struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	// changes hears of every change of a Kustomization's status.
	changes *registry.StatusNotifier

	mu    sync.RWMutex
	byKey map[string]registry.FluxKustomization // namespace/name
}

func newFluxKustomizations(dyn dynamic.Interface, disc discovery.DiscoveryInterface, changes *registry.StatusNotifier) *fluxKustomizations {
	return &fluxKustomizations{dynamic: dyn, discovery: disc, changes: changes, byKey: map[string]registry.FluxKustomization{}}
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
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.set(obj, false) },
		UpdateFunc: func(_, obj any) { f.set(obj, false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			f.set(obj, true)
		},
	})
	factory.Start(ctx.Done())
	klog.InfoS("Reading Flux Kustomizations for environment sync status")
}

// set records what Environments show of a Kustomization, and tells the
// watches when that changed.
func (f *fluxKustomizations) set(obj any, deleted bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key := u.GetNamespace() + "/" + u.GetName()
	next := readKustomization(u)
	f.mu.Lock()
	prev, existed := f.byKey[key]
	if deleted {
		delete(f.byKey, key)
	} else {
		f.byKey[key] = next
	}
	f.mu.Unlock()
	if deleted || !existed || prev != next {
		f.changes.Notify(registry.StatusChange{Kustomization: key})
	}
}

// readKustomization reads the Ready condition, the applied revision and
// the target namespace.
func readKustomization(u *unstructured.Unstructured) registry.FluxKustomization {
	var out registry.FluxKustomization
	out.TargetNamespace, _, _ = unstructured.NestedString(u.Object, "spec", "targetNamespace")
	out.AppliedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			out.Ready = m["status"] == "True"
			out.Message, _ = m["message"].(string)
		}
	}
	return out
}

// Kustomization implements registry.SyncSource.
func (f *fluxKustomizations) Kustomization(namespace, name string) (registry.FluxKustomization, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	k, ok := f.byKey[namespace+"/"+name]
	return k, ok
}
