package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

// DefaultWait is how long --wait without a value waits.
const DefaultWait = 5 * time.Minute

// WaitOptions are the --wait and --wait-for flags of the commands that
// create a promotion.
type WaitOptions struct {
	// Timeout is how long to wait; 0 does not wait.
	Timeout time.Duration
	// For is "applied" or "healthy".
	For string
}

// AddFlags adds --wait[=timeout] and --wait-for.
func (w *WaitOptions) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&w.Timeout, "wait", 0, "Wait until Flux applied the promotion (or it failed), at most this long (--wait alone: "+DefaultWait.String()+"). Exits non-zero with Flux's message when it fails or the time is up.")
	fs.Lookup("wait").NoOptDefVal = DefaultWait.String()
	fs.StringVar(&w.For, "wait-for", "applied", "With --wait, what to wait for: applied (the Applied condition) or healthy (Flux's health checks passed too).")
}

// Validate checks --wait-for.
func (w *WaitOptions) Validate() error {
	if w.For != "applied" && w.For != "healthy" {
		return fmt.Errorf("--wait-for must be applied or healthy, not %q", w.For)
	}
	if w.Timeout < 0 {
		return errors.New("--wait must not be negative")
	}
	return nil
}

// condition is the condition type --wait-for names.
func (w *WaitOptions) condition() string {
	if w.For == "healthy" {
		return v1alpha1.ConditionHealthy
	}
	return v1alpha1.ConditionApplied
}

// Wait watches the promotion until the awaited condition is True (it
// returns that condition), or Applied or Healthy is Failed, or the timeout
// passes (errors that say what Flux said last).
func (w *WaitOptions) Wait(ctx context.Context, client versioned.Interface, namespace, name string) (*metav1.Condition, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	promotions := client.GitgateV1alpha1().Promotions(namespace)
	var last *v1alpha1.Promotion
	for {
		p, err := promotions.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, w.timedOut(ctx, name, last, err)
		}
		if done, cond, err := Verdict(p, w.condition()); done {
			return cond, err
		}
		last = p
		watcher, err := promotions.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: p.ResourceVersion})
		if err != nil {
			return nil, w.timedOut(ctx, name, last, err)
		}
		for ev := range watcher.ResultChan() {
			p, ok := ev.Object.(*v1alpha1.Promotion)
			if !ok || ev.Type == watch.Error {
				break
			}
			last = p
			if done, cond, err := Verdict(p, w.condition()); done {
				watcher.Stop()
				return cond, err
			}
		}
		watcher.Stop()
		if ctx.Err() != nil {
			return nil, w.timedOut(ctx, name, last, ctx.Err())
		}
	}
}

// timedOut says why waiting ended without a verdict, with the last word.
func (w *WaitOptions) timedOut(ctx context.Context, name string, last *v1alpha1.Promotion, err error) error {
	if ctx.Err() == nil {
		return fmt.Errorf("waiting for promotion %s: %w", name, err)
	}
	said := "it has no " + w.condition() + " condition yet"
	if last != nil {
		if c := apimeta.FindStatusCondition(last.Status.Conditions, w.condition()); c != nil {
			said = fmt.Sprintf("%s is %s (%s): %s", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	return fmt.Errorf("promotion %s was not %s within %s: %s", name, w.For, w.Timeout, said)
}

// Verdict says whether a promotion is done for --wait-for condition: the
// condition True (done, no error), or Applied or Healthy False with reason
// Failed (done, an error with Flux's message).
func Verdict(p *v1alpha1.Promotion, condition string) (done bool, met *metav1.Condition, err error) {
	for _, t := range []string{v1alpha1.ConditionApplied, v1alpha1.ConditionHealthy} {
		if c := apimeta.FindStatusCondition(p.Status.Conditions, t); c != nil && c.Reason == v1alpha1.ReasonFailed {
			return true, nil, fmt.Errorf("promotion %s failed: %s", p.Name, c.Message)
		}
	}
	if p.Status.Phase == v1alpha1.PromotionSuperseded {
		return true, nil, fmt.Errorf("promotion %s was superseded before it was merged: Flux will not apply it", p.Name)
	}
	if c := apimeta.FindStatusCondition(p.Status.Conditions, condition); c != nil && c.Status == metav1.ConditionTrue {
		return true, c, nil
	}
	return false, nil, nil
}
