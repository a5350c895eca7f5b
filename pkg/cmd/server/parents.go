package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/pkg/admission"
)

// parentMetadata caches the metadata (labels, annotations) of the objects
// whose scale subresource is protected: one metadata informer per resource,
// started by the first scale request of that resource and kept running.
type parentMetadata struct {
	ctx     context.Context
	factory metadatainformer.SharedInformerFactory
	mu      sync.Mutex
	synced  map[schema.GroupVersionResource]cache.GenericLister
}

func newParentMetadata(ctx context.Context, client metadata.Interface) *parentMetadata {
	return &parentMetadata{ctx: ctx, factory: metadatainformer.NewSharedInformerFactory(client, 0), synced: map[schema.GroupVersionResource]cache.GenericLister{}}
}

// Get returns an object's metadata from the cache.
func (p *parentMetadata) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*admission.ObjectMeta, error) {
	lister, err := p.lister(ctx, gvr)
	if err != nil {
		return nil, err
	}
	obj, err := lister.ByNamespace(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in the metadata cache", obj)
	}
	return &admission.ObjectMeta{Labels: m.Labels, Annotations: m.Annotations}, nil
}

func (p *parentMetadata) lister(ctx context.Context, gvr schema.GroupVersionResource) (cache.GenericLister, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.synced[gvr]; ok {
		return l, nil
	}
	informer := p.factory.ForResource(gvr)
	p.factory.Start(p.ctx.Done())
	// Well inside the webhook's timeout, so a missing RBAC grant shows as
	// this error rather than as a timeout.
	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(wait.Done(), informer.Informer().HasSynced) {
		return nil, fmt.Errorf("the %s metadata cache did not sync: gitgate-apiserver needs list and watch on %s", gvr.Resource, gvr.GroupResource())
	}
	p.synced[gvr] = informer.Lister()
	return informer.Lister(), nil
}
