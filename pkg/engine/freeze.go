package engine

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/freeze"
)

// Trailers that record a freeze passed by a holder of the verb breakglass.
const (
	// TrailerFreezeOverride is the reason given for passing the freeze.
	TrailerFreezeOverride = "Gitgate-Freeze-Override"
	// TrailerFreezeOverrideBy is the Kubernetes user who passed it.
	TrailerFreezeOverrideBy = "Gitgate-Freeze-Override-By"
	// TrailerFreeze says what was frozen: the switch or the window, and until when.
	TrailerFreeze = "Gitgate-Freeze"
)

// FreezeOverride passes a freeze. The caller has checked that User holds
// the verb breakglass on the environment; the engine records both in the
// commit's trailers, and only when the environment is frozen.
type FreezeOverride struct {
	// Reason says why the freeze is passed.
	Reason string
	// User is the Kubernetes user who passes it.
	User string
}

// FrozenError refuses a write into a frozen environment. It is a conflict
// with the environment's state (409), and its message names the switch or
// the window and when it ends.
type FrozenError struct {
	Environment string
	Message     string
}

func (e *FrozenError) Error() string { return e.Message }

// Unwrap lets errors.Is find ErrConflict.
func (e *FrozenError) Unwrap() error { return ErrConflict }

// freezeState evaluates env's freeze at now. Windows that do not compile
// (a definition written straight to Git) are skipped here: such an
// environment is not Ready, and writes into it are refused before this.
func freezeState(env *gitgate.Environment, now time.Time) (freeze.State, []gitgate.FreezeWindow) {
	spec := env.Spec.Freeze
	if spec == nil {
		return freeze.State{Window: -1, NextWindow: -1}, nil
	}
	var scheds []*freeze.Schedule
	var windows []gitgate.FreezeWindow
	for _, w := range spec.Windows {
		s, err := freeze.Compile(freeze.Window{Start: w.Start, Duration: w.Duration.Duration, TimeZone: w.TimeZone})
		if err != nil {
			continue
		}
		scheds, windows = append(scheds, s), append(windows, w)
	}
	return freeze.Evaluate(spec.Frozen, scheds, now), windows
}

// DescribeFreezeWindow renders a window for people: "0 18 * * FRI" for 62h in Europe/Berlin.
func DescribeFreezeWindow(w gitgate.FreezeWindow) string {
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%q for %s in %s", w.Start, shortDuration(w.Duration.Duration), tz)
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// localTime renders t in the window's zone, e.g. "2026-06-08T08:00:00+02:00 (Mon 08:00 Europe/Berlin)".
func localTime(t time.Time, tz string) string {
	loc, err := freeze.LoadTimeZone(tz)
	if err != nil {
		loc = time.UTC
	}
	if tz == "" {
		tz = "UTC"
	}
	l := t.In(loc)
	return fmt.Sprintf("%s (%s %s)", l.Format(time.RFC3339), l.Format("Mon 15:04"), tz)
}

// FreezeStatus says what env's freeze means at now: the status block and
// the Frozen condition. It is computed when an environment is read, never
// stored: a window opens and closes without a commit.
func FreezeStatus(env *gitgate.Environment, now time.Time) (*gitgate.FreezeStatus, metav1.Condition) {
	st, windows := freezeState(env, now)
	out := &gitgate.FreezeStatus{Frozen: st.Frozen, Reason: freezeReason(env, st, windows)}
	if !st.Until.IsZero() {
		out.Until = &metav1.Time{Time: st.Until}
	}
	if st.NextWindow >= 0 {
		out.NextWindow = &gitgate.FreezeWindowStatus{Window: DescribeFreezeWindow(windows[st.NextWindow]),
			Start: metav1.Time{Time: st.Next.Start}, End: metav1.Time{Time: st.Next.End}}
	}
	cond := metav1.Condition{Type: gitgate.ConditionFrozen, Status: metav1.ConditionFalse, Reason: gitgate.ReasonNotFrozen,
		Message: "promotions, rollbacks and seals are open", ObservedGeneration: env.Generation}
	switch {
	case st.Manual:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, gitgate.ReasonFrozenBySwitch, out.Reason
	case st.Frozen:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, gitgate.ReasonFreezeWindow, out.Reason
	}
	switch {
	case st.Window >= 0:
		cond.LastTransitionTime = metav1.Time{Time: st.Current.Start}
	case !st.LastEnded.IsZero() && !st.Manual:
		cond.LastTransitionTime = metav1.Time{Time: st.LastEnded}
	default: // the switch, or no window yet: when it was read
		cond.LastTransitionTime = metav1.Time{Time: now.Truncate(time.Second)}
	}
	return out, cond
}

// freezeReason says, for people, why env is frozen and until when.
func freezeReason(env *gitgate.Environment, st freeze.State, windows []gitgate.FreezeWindow) string {
	var parts []string
	if st.Manual {
		s := "frozen by its switch"
		if r := env.Spec.Freeze.Reason; r != "" {
			s += fmt.Sprintf(" (reason: %q)", r)
		}
		parts = append(parts, s+" until it is unfrozen (kubectl gitgate unfreeze "+env.Name+", verb freeze)")
	}
	if st.Window >= 0 {
		w := windows[st.Window]
		parts = append(parts, fmt.Sprintf("frozen by window %s until %s", DescribeFreezeWindow(w), localTime(st.Until, w.TimeZone)))
	}
	return strings.Join(parts, "; and ")
}

// checkFreeze refuses a write into env while it is frozen, unless o passes
// the freeze; then it returns the trailers that record the override.
// action says what was refused: "promote into", "seal secrets into".
func (e *Engine) checkFreeze(env *gitgate.Environment, action string, o *FreezeOverride) ([]trailer, error) {
	st, windows := freezeState(env, e.opts.Now())
	if !st.Frozen {
		return nil, nil
	}
	reason := freezeReason(env, st, windows)
	if o == nil {
		return nil, &FrozenError{Environment: env.Name, Message: fmt.Sprintf(
			"cannot %s environment %s: it is %s. Promotions, rollbacks and seals wait until then; a holder of the verb breakglass on environment %s may pass with --override-freeze=<reason> (the annotation %s), recorded in the commit",
			action, env.Name, reason, env.Name, gitgate.AnnotationOverrideFreeze)}
	}
	return []trailer{
		{TrailerFreeze, reason},
		{TrailerFreezeOverride, o.Reason},
		{TrailerFreezeOverrideBy, o.User},
	}, nil
}

// checkTargetFreeze is checkFreeze for a promotion's target, before it is
// planned: a frozen environment refuses whatever the plan would be. An
// unknown or unusable target is left to planning, which names it.
func (e *Engine) checkTargetFreeze(s *Snapshot, p *gitgate.Promotion, o *FreezeOverride) ([]trailer, error) {
	st, ok := s.envs[p.Spec.Environment]
	if !ok || st.err != nil {
		return nil, nil
	}
	return e.checkFreeze(st.env, "promote into", o)
}
