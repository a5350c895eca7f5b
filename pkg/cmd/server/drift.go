package server

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

// breakGlassEvents reads the Events that record break-glass changes (from
// any replica) and lists those against an environment.
type breakGlassEvents struct {
	lister corelisters.EventLister
}

// newBreakGlassEvents returns the drift source and the informer factory
// (only Events with reason BreakGlass) that the server must start; each
// new Event is told to changes, for the Environment it relates to.
func newBreakGlassEvents(client kubernetes.Interface, changes *registry.StatusNotifier) (*breakGlassEvents, informers.SharedInformerFactory) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "reason=" + admission.BreakGlassReason }))
	events := factory.Core().V1().Events()
	_, _ = events.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if ev, ok := obj.(*corev1.Event); ok && ev.Related != nil && ev.Related.Kind == "Environment" {
			changes.Notify(registry.StatusChange{Namespace: ev.Related.Namespace, Environment: ev.Related.Name})
		}
	}})
	return &breakGlassEvents{lister: events.Lister()}, factory
}

// Drift lists the break-glass changes related to namespace/environment
// that happened after since.
func (b *breakGlassEvents) Drift(namespace, environment string, since time.Time) []string {
	all, err := b.lister.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []string
	for _, ev := range all {
		r := ev.Related
		// Git records commit times to the second: compare at that precision.
		if r == nil || r.Kind != "Environment" || r.Namespace != namespace || r.Name != environment || !eventTime(ev).Truncate(time.Second).After(since) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s/%s: %s", ev.InvolvedObject.Kind, ev.InvolvedObject.Namespace, ev.InvolvedObject.Name, ev.Message))
	}
	return out
}

func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	}
	return ev.FirstTimestamp.Time
}
