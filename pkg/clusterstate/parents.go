package clusterstate

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/pkg/admission"
)

// ObjectMetadata caches the metadata (labels, annotations, controller) of
// the objects admission decisions read but requests do not carry: the
// parent of a protected Scale, the controllers of derived objects. One
// metadata informer per resource, started by the first request that needs
// it and kept running; kinds map to resources through discovery, cached.
type ObjectMetadata struct {
	ctx     context.Context
	client  metadata.Interface
	mapper  meta.RESTMapper
	factory metadatainformer.SharedInformerFactory

	mu       sync.Mutex
	informer map[schema.GroupVersionResource]cache.SharedIndexInformer
	failed   map[schema.GroupVersionResource]time.Time
}

// syncWait bounds the wait for a new informer, well inside the webhook's
// timeout, so a missing RBAC grant shows as this error rather than a timeout.
const syncWait = 2 * time.Second

// syncRetry is how long a resource whose informer did not sync is refused
// at once, rather than waiting syncWait on every request.
const syncRetry = 10 * time.Second

func newObjectMetadata(ctx context.Context, client metadata.Interface, disco discovery.DiscoveryInterface) *ObjectMetadata {
	return &ObjectMetadata{
		ctx:      ctx,
		client:   client,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
		factory:  metadatainformer.NewSharedInformerFactory(client, 0),
		informer: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		failed:   map[schema.GroupVersionResource]time.Time{},
	}
}

// Get returns an object's metadata from the cache (a live GET when the
// cache does not have it yet); nil and no error when it does not exist.
func (o *ObjectMetadata) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*admission.ObjectMeta, error) {
	informer, err := o.synced(ctx, gvr)
	if err != nil {
		return nil, err
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, exists, err := informer.GetStore().GetByKey(key)
	if err != nil {
		return nil, err
	}
	if !exists {
		// Created a moment ago, or gone: ask once rather than guess.
		live, err := o.client.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		obj = live
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the metadata cache", obj)
	}
	return &admission.ObjectMeta{Labels: m.Labels, Annotations: m.Annotations, Controller: admission.ControllerOf(m.OwnerReferences)}, nil
}

// Lookup is Get for an ownerReference's apiVersion and kind.
func (o *ObjectMetadata) Lookup(ctx context.Context, apiVersion, kind, namespace, name string) (*admission.ObjectMeta, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("ownerReference apiVersion %q: %w", apiVersion, err)
	}
	mapping, err := o.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: kind}, gv.Version)
	if meta.IsNoMatchError(err) {
		return nil, nil // no such kind is served: no such owner
	}
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	return o.Get(ctx, mapping.Resource, namespace, name)
}

// synced returns the resource's informer once it has synced.
func (o *ObjectMetadata) synced(ctx context.Context, gvr schema.GroupVersionResource) (cache.SharedIndexInformer, error) {
	o.mu.Lock()
	informer, ok := o.informer[gvr]
	if !ok {
		informer = o.factory.ForResource(gvr).Informer()
		o.informer[gvr] = informer
		o.factory.Start(o.ctx.Done())
	}
	failedAt := o.failed[gvr]
	o.mu.Unlock()
	if informer.HasSynced() {
		return informer, nil
	}
	notSynced := fmt.Errorf("the %s metadata cache has not synced: gitgate-apiserver needs list and watch on %s", gvr.Resource, gvr.GroupResource())
	if time.Since(failedAt) < syncRetry {
		return nil, notSynced
	}
	wait, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	if !cache.WaitForCacheSync(wait.Done(), informer.HasSynced) {
		o.mu.Lock()
		o.failed[gvr] = time.Now()
		o.mu.Unlock()
		return nil, notSynced
	}
	return informer, nil
}

// namespaceLabels reads namespaces' labels from the informer cache and
// looks up, once, a namespace the cache does not have yet (just created):
// an unknown namespace is never taken for an unlabelled one.
type namespaceLabels struct {
	lister corelisters.NamespaceLister
	client kubernetes.Interface

	mu      sync.Mutex
	fetched map[string]fetchedNamespace
}

type fetchedNamespace struct {
	labels map[string]string
	at     time.Time
}

// fetchedTTL is how long a looked-up namespace is trusted before the
// informer has it: the informer catches up within moments.
const fetchedTTL = 5 * time.Second

func newNamespaceLabels(lister corelisters.NamespaceLister, client kubernetes.Interface) *namespaceLabels {
	return &namespaceLabels{lister: lister, client: client, fetched: map[string]fetchedNamespace{}}
}

// Labels returns a namespace's labels; nil when it does not exist, an
// error when it cannot be read.
func (n *namespaceLabels) Labels(ctx context.Context, name string) (map[string]string, error) {
	if ns, err := n.lister.Get(name); err == nil {
		return ns.Labels, nil
	}
	n.mu.Lock()
	f, ok := n.fetched[name]
	n.mu.Unlock()
	if ok && time.Since(f.at) < fetchedTTL {
		return f.labels, nil
	}
	ns, err := n.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, v := range n.fetched { // keep only what the informer may still lack
		if time.Since(v.at) >= fetchedTTL {
			delete(n.fetched, k)
		}
	}
	n.fetched[name] = fetchedNamespace{labels: ns.Labels, at: time.Now()}
	return ns.Labels, nil
}
