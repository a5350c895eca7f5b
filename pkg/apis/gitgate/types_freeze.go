package gitgate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionFrozen is True while the environment is frozen: by its switch
// or inside one of its windows. It is informational (neither good nor
// bad): a frozen environment refuses promotions, rollbacks and seals.
const ConditionFrozen = "Frozen"

// Reasons of the Frozen condition.
const (
	ReasonFrozenBySwitch = "FrozenBySwitch"
	ReasonFreezeWindow   = "FreezeWindow"
	ReasonNotFrozen      = "NotFrozen"
)

// AnnotationOverrideFreeze on a Promotion or SealedSecretRequest carries
// the reason for passing a freeze; it needs the verb breakglass on the
// environment and is recorded in the commit's trailers.
const AnnotationOverrideFreeze = "gitgate.dev/override-freeze"

// FreezeSpec is an environment's freeze windows and switch.
type FreezeSpec struct {
	// Windows are recurring windows during which the environment is frozen.
	Windows []FreezeWindow
	// Frozen is the switch: true freezes the environment until switched off.
	Frozen bool
	// Reason says why the switch is on.
	Reason string
}

// FreezeWindow is one recurring window.
type FreezeWindow struct {
	// Start is a 5-field cron expression, read in TimeZone.
	Start string
	// Duration is how long each window lasts, in wall-clock time.
	Duration metav1.Duration
	// TimeZone is an IANA time zone name; empty means UTC.
	TimeZone string
}

// FreezeStatus is what the freeze says at the time of reading.
type FreezeStatus struct {
	// Frozen is true while the switch is on or a window is open.
	Frozen bool
	// Reason says why: the switch's reason, or the open window.
	Reason string
	// Until is when the open windows end; unset when none is open.
	Until *metav1.Time
	// NextWindow is the next window to start.
	NextWindow *FreezeWindowStatus
}

// FreezeWindowStatus is one occurrence of a window.
type FreezeWindowStatus struct {
	// Window describes it: start expression, duration and time zone.
	Window string
	// Start and End bound it.
	Start metav1.Time
	End   metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentFreeze switches an environment's freeze on or off: the body of
// the environments/<name>/freeze subresource, authorized by the verb
// freeze on the environment.
type EnvironmentFreeze struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   EnvironmentFreezeSpec
	Status EnvironmentFreezeStatus
}

// EnvironmentFreezeSpec is the switch's new position.
type EnvironmentFreezeSpec struct {
	// Frozen switches the freeze on (true) or off (false).
	Frozen bool
	// Reason says why; required to freeze.
	Reason string
}

// EnvironmentFreezeStatus is the outcome.
type EnvironmentFreezeStatus struct {
	// Commit changed the environment's definition; empty when nothing
	// changed or for a dry run.
	Commit string
	// Freeze is the environment's freeze after the change.
	Freeze FreezeStatus
}
