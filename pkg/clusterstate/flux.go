package clusterstate

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// Flux's APIs that gitgate reads.
var (
	kustomizationsGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepositoriesGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// Kustomization is what gitgate reads from a Flux Kustomization.
type Kustomization struct {
	// Ready is true when its Ready condition is True.
	Ready bool
	// ReadyStatus is its Ready condition's status; empty when it has none.
	ReadyStatus metav1.ConditionStatus
	// ReadyReason and Message are its Ready condition's reason and message.
	ReadyReason, Message string
	// ReadySince is its Ready condition's lastTransitionTime.
	ReadySince time.Time
	// AppliedRevision is status.lastAppliedRevision, e.g. main@sha1:3f2a….
	AppliedRevision string
	// AttemptedRevision is status.lastAttemptedRevision: the revision of
	// the last reconciliation, whether it worked or not.
	AttemptedRevision string
	// TargetNamespace is spec.targetNamespace, empty when unset.
	TargetNamespace string
	// Source is spec.sourceRef as namespace/name, for a GitRepository.
	Source string
	// History is status.history (newest first): when each revision whose
	// manifests Flux reconciled was first and last reconciled, and how.
	History []Reconciled
}

// Reconciled is one entry of a Kustomization's status.history.
type Reconciled struct {
	Revision string
	// First is when Flux first reconciled these manifests.
	First time.Time
	// Status is how the last reconciliation of them ended, e.g.
	// ReconciliationSucceeded or HealthCheckFailed.
	Status string
}

// reconciliationSucceeded is the status of a reconciliation that applied
// its revision and passed its health checks.
const reconciliationSucceeded = "ReconciliationSucceeded"

// Succeeded reports whether the last reconciliation of r worked.
func (r Reconciled) Succeeded() bool { return r.Status == reconciliationSucceeded }

func (k *Kustomization) equal(o *Kustomization) bool {
	return k.Ready == o.Ready && k.ReadyStatus == o.ReadyStatus && k.ReadyReason == o.ReadyReason && k.Message == o.Message &&
		k.ReadySince.Equal(o.ReadySince) && k.AppliedRevision == o.AppliedRevision && k.AttemptedRevision == o.AttemptedRevision &&
		k.TargetNamespace == o.TargetNamespace && k.Source == o.Source && slices.EqualFunc(k.History, o.History, func(x, y Reconciled) bool {
		return x.Revision == y.Revision && x.First.Equal(y.First) && x.Status == y.Status
	})
}

// GitRepository is what gitgate reads from a Flux GitRepository.
type GitRepository struct {
	// Ready is true when its Ready condition is True; Message is that
	// condition's message.
	Ready   bool
	Message string
	// Revision is status.artifact.revision: what Flux fetched last.
	Revision string
}

// fluxObjects reads Flux Kustomizations and GitRepositories from informers
// that start once Flux's CRDs exist, so that gitgate runs the same with or
// without Flux. Each object is read once per change, not per request.
type fluxObjects struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	// changed hears of every change of a Kustomization gitgate shows.
	changed func(key string, before, after *Kustomization)

	mu             sync.RWMutex
	kustomizations map[string]*Kustomization // namespace/name
	repositories   map[string]GitRepository  // namespace/name
}

func newFluxObjects(dyn dynamic.Interface, disc discovery.DiscoveryInterface, changed func(string, *Kustomization, *Kustomization)) *fluxObjects {
	return &fluxObjects{dynamic: dyn, discovery: disc, changed: changed,
		kustomizations: map[string]*Kustomization{}, repositories: map[string]GitRepository{}}
}

// run waits for each Flux API to be served, then keeps an informer on it
// until ctx ends.
func (f *fluxObjects) run(ctx context.Context, poll time.Duration) {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(f.dynamic, 0)
	var wg sync.WaitGroup
	for gvr, set := range map[schema.GroupVersionResource]func(*unstructured.Unstructured, bool){
		kustomizationsGVR:  f.setKustomization,
		gitRepositoriesGVR: f.setGitRepository,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !f.waitServed(ctx, gvr, poll) {
				return
			}
			_, _ = factory.ForResource(gvr).Informer().AddEventHandler(handler(set))
			factory.Start(ctx.Done())
			klog.FromContext(ctx).Info("Reading Flux objects", "resource", gvr.GroupResource())
		}()
	}
	wg.Wait()
}

// waitServed polls discovery until gvr is served; false when ctx ended first.
func (f *fluxObjects) waitServed(ctx context.Context, gvr schema.GroupVersionResource, poll time.Duration) bool {
	for {
		if list, err := f.discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String()); err == nil {
			for _, r := range list.APIResources {
				if r.Name == gvr.Resource {
					return true
				}
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(poll):
		}
	}
}

func handler(set func(*unstructured.Unstructured, bool)) cache.ResourceEventHandlerFuncs {
	call := func(obj any, deleted bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			set(u, deleted)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { call(obj, false) },
		UpdateFunc: func(_, obj any) { call(obj, false) },
		DeleteFunc: func(obj any) { call(obj, true) },
	}
}

// setKustomization records what gitgate shows of a Kustomization, and
// tells changed when that changed.
func (f *fluxObjects) setKustomization(u *unstructured.Unstructured, deleted bool) {
	key := u.GetNamespace() + "/" + u.GetName()
	var next *Kustomization
	if !deleted {
		k := readKustomization(u)
		next = &k
	}
	f.mu.Lock()
	prev := f.kustomizations[key]
	if next == nil {
		delete(f.kustomizations, key)
	} else {
		f.kustomizations[key] = next
	}
	f.mu.Unlock()
	if prev == nil && next == nil || prev != nil && next != nil && prev.equal(next) {
		return
	}
	f.changed(key, prev, next)
}

func (f *fluxObjects) setGitRepository(u *unstructured.Unstructured, deleted bool) {
	key := u.GetNamespace() + "/" + u.GetName()
	f.mu.Lock()
	defer f.mu.Unlock()
	if deleted {
		delete(f.repositories, key)
		return
	}
	f.repositories[key] = readGitRepository(u)
}

func (f *fluxObjects) kustomization(namespace, name string) (Kustomization, bool) {
	return f.kustomizationByKey(namespace + "/" + name)
}

func (f *fluxObjects) kustomizationByKey(key string) (Kustomization, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	k, ok := f.kustomizations[key]
	if !ok {
		return Kustomization{}, false
	}
	return *k, true
}

func (f *fluxObjects) gitRepository(namespace, name string) (GitRepository, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.repositories[namespace+"/"+name]
	return r, ok
}

// readKustomization reads the Ready condition, the applied and attempted
// revisions, the target namespace, the source and the history.
func readKustomization(u *unstructured.Unstructured) Kustomization {
	var out Kustomization
	out.TargetNamespace, _, _ = unstructured.NestedString(u.Object, "spec", "targetNamespace")
	out.AppliedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	out.AttemptedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	if kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind"); kind == "GitRepository" {
		name, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
		ns, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = u.GetNamespace()
		}
		out.Source = ns + "/" + name
	}
	if ready, ok := readyCondition(u); ok {
		out.ReadyStatus = metav1.ConditionStatus(ready["status"].(string))
		out.Ready = out.ReadyStatus == metav1.ConditionTrue
		out.ReadyReason, _ = ready["reason"].(string)
		out.Message, _ = ready["message"].(string)
		if at, ok := ready["lastTransitionTime"].(string); ok {
			out.ReadySince, _ = time.Parse(time.RFC3339, at)
		}
	}
	history, _, _ := unstructured.NestedSlice(u.Object, "status", "history")
	for _, h := range history {
		m, ok := h.(map[string]any)
		if !ok {
			continue
		}
		var r Reconciled
		r.Revision, _, _ = unstructured.NestedString(m, "metadata", "revision")
		first, _ := m["firstReconciled"].(string)
		r.First, _ = time.Parse(time.RFC3339, first)
		r.Status, _ = m["lastReconciledStatus"].(string)
		out.History = append(out.History, r)
	}
	return out
}

func readGitRepository(u *unstructured.Unstructured) GitRepository {
	var out GitRepository
	out.Revision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
	if ready, ok := readyCondition(u); ok {
		out.Ready = ready["status"] == "True"
		out.Message, _ = ready["message"].(string)
	}
	return out
}

// readyCondition returns the object's Ready condition.
func readyCondition(u *unstructured.Unstructured) (map[string]any, bool) {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			if _, ok := m["status"].(string); ok {
				return m, true
			}
		}
	}
	return nil, false
}

// SyncStatus is an Environment's status.sync from its Flux Kustomization;
// upToDate says whether the environment's path at the applied revision is
// what its branch holds now.
func SyncStatus(k Kustomization, upToDate bool) *gitgate.SyncStatus {
	return &gitgate.SyncStatus{Ready: k.Ready, AppliedRevision: k.AppliedRevision, Message: k.Message, UpToDate: upToDate}
}

// RevisionCommit is the commit of a Flux revision: main@sha1:3f2a… → 3f2a….
func RevisionCommit(revision string) string {
	if i := strings.LastIndex(revision, ":"); i >= 0 {
		return revision[i+1:]
	}
	return revision
}
