package server

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/registry"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// breakGlassDrift lists the break-glass changes recorded against an
// environment, from the audit ref of its repository: Events expire and
// anyone allowed to may create or delete them, so they neither show nor
// hide drift. The Events only tell Environment watches when to look again.
type breakGlassDrift struct {
	manager *repositories.Manager
}

// newBreakGlassDrift returns the drift source and the informer factory
// (only Events with reason BreakGlass) that the server must start; each
// new Event is told to changes, for the Environment it relates to.
func newBreakGlassDrift(client kubernetes.Interface, manager *repositories.Manager, changes *registry.StatusNotifier) (*breakGlassDrift, informers.SharedInformerFactory) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "reason=" + admission.BreakGlassReason }))
	events := factory.Core().V1().Events()
	_, _ = events.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if ev, ok := obj.(*corev1.Event); ok && ev.Related != nil && ev.Related.Kind == "Environment" {
			changes.Notify(registry.StatusChange{Namespace: ev.Related.Namespace, Environment: ev.Related.Name})
		}
	}})
	return &breakGlassDrift{manager: manager}, factory
}

// Drift lists the break-glass changes recorded against namespace/environment
// after since (a commit time, to the second, as Git records them).
func (b *breakGlassDrift) Drift(namespace, environment string, since time.Time) []string {
	e, _, ok := b.manager.Engine(namespace)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range e.BreakGlassRecords(environment, since) {
		out = append(out, fmt.Sprintf("%s: %s", r.Object(), r.Summary()))
	}
	return out
}
