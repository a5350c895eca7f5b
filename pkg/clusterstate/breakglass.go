package clusterstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/breakglass"
	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// breakGlassEvents returns the informer factory (only Events with reason
// BreakGlass) that tells onDrift of each new Event, for the Environment it
// relates to. The Events only say when to look again: drift itself is read
// from Git (Drift), since Events expire and anyone allowed to may create or
// delete them.
func breakGlassEvents(client kubernetes.Interface, onDrift func(namespace, environment string)) informers.SharedInformerFactory {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "reason=" + admission.BreakGlassReason }))
	_, _ = factory.Core().V1().Events().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if ev, ok := obj.(*corev1.Event); ok && ev.Related != nil && ev.Related.Kind == "Environment" {
			onDrift(ev.Related.Namespace, ev.Related.Name)
		}
	}})
	return factory
}

// Drift lists the break-glass changes recorded against namespace/environment
// after since (a commit time, to the second, as Git records them), from the
// audit ref of its repository, one line each.
func (s *State) Drift(namespace, environment string, since time.Time) []string {
	e, _, ok := s.opts.Repositories.Engine(namespace)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range e.BreakGlassRecords(environment, since) {
		out = append(out, fmt.Sprintf("%s: %s", r.Object(), r.Summary()))
	}
	return out
}

// DriftCondition is an Environment's Drift condition: True, naming each
// change, while break-glass changes (lines, see Drift) are recorded against
// it since its last commit at since.
func DriftCondition(lines []string, since time.Time) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionDrift, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonInSync,
		Message: "no break-glass change since the last commit", LastTransitionTime: metav1.NewTime(since)}
	if len(lines) > 0 {
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonBreakGlass
		c.Message = "changed outside Git until a commit catches up: " + strings.Join(lines, "; ")
	}
	return c
}

// recordAttempts bounds how often a record is retried while Git is down.
const recordAttempts = 5

// RecordBreakGlass records a confirmed break-glass change: durably on the
// audit ref of the environment's repository, then as an Event (which also
// tells the Environment's watches). It is breakglass.Options.Record.
func (s *State) RecordBreakGlass(ctx context.Context, rec *breakglass.Record) {
	logger := klog.FromContext(ctx).WithValues("user", rec.User, "kind", rec.Kind.Kind, "namespace", rec.Namespace, "name", rec.Name)
	b := engine.BreakGlass{
		Environment: rec.Environment, User: rec.User, Operation: rec.Operation,
		APIVersion: rec.Kind.GroupVersion().String(), Kind: rec.Kind.Kind, Namespace: rec.Namespace, Name: rec.Name,
		Reason: rec.Reason, Key: rec.Key(), Time: rec.Observed,
	}
	// The environment's repository; else the one bound to the object's namespace.
	where := rec.EnvironmentNamespace
	if where == "" {
		where = rec.Namespace
	}
	note := ""
	if e, _, ok := s.opts.Repositories.Engine(where); ok {
		wrote, err := recordWithRetry(ctx, e, b)
		switch {
		case err != nil:
			logger.Error(err, "Recording a break-glass change in Git failed")
			note = " (not recorded in Git: the repository could not be written; see gitgate-apiserver's log)"
		case !wrote:
			return // another replica recorded it, and writes the Event
		}
	} else {
		logger.Info("No repository serves the namespace of a break-glass change; it is recorded as an Event only", "namespace", where)
		note = " (no gitgate repository serves namespace " + where + ", so it is not recorded in Git)"
	}
	ref := &corev1.ObjectReference{APIVersion: rec.Kind.GroupVersion().String(), Kind: rec.Kind.Kind, Namespace: rec.Namespace, Name: rec.Name, UID: rec.UID, ResourceVersion: rec.ResourceVersion}
	var related *corev1.ObjectReference // the Environment shows the drift
	if rec.Environment != "" {
		related = &corev1.ObjectReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Environment", Namespace: rec.EnvironmentNamespace, Name: rec.Environment}
	}
	s.recorder.Eventf(ref, related, corev1.EventTypeWarning, admission.BreakGlassReason, "Admit",
		"%s changed %s %s outside Git (%s): %s%s", rec.User, rec.Kind.Kind, rec.Name, rec.Operation, rec.Reason, note)
}

func recordWithRetry(ctx context.Context, e *engine.Engine, b engine.BreakGlass) (bool, error) {
	backoff := time.Second
	for i := 1; ; i++ {
		wrote, err := e.RecordBreakGlass(ctx, b)
		if err == nil || i == recordAttempts || !errors.Is(err, engine.ErrUnavailable) {
			return wrote, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
