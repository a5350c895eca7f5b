package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// ConditionFrozen is True while the environment is frozen, by its switch
// or inside one of its windows (informational: a frozen environment
// refuses promotions, rollbacks and seals).
const ConditionFrozen = gitgate.ConditionFrozen

// Reasons of the Frozen condition.
const (
	// ReasonFrozenBySwitch (Frozen=True): spec.freeze.frozen is on.
	ReasonFrozenBySwitch = gitgate.ReasonFrozenBySwitch
	// ReasonFreezeWindow (Frozen=True): one of spec.freeze.windows is open.
	ReasonFreezeWindow = gitgate.ReasonFreezeWindow
	// ReasonNotFrozen (Frozen=False).
	ReasonNotFrozen = gitgate.ReasonNotFrozen
)

// AnnotationOverrideFreeze on a Promotion or SealedSecretRequest carries
// the reason for passing a freeze. It needs the verb breakglass on the
// environment and is recorded in the commit's trailers
// (Gitgate-Freeze-Override, Gitgate-Freeze-Override-By).
const AnnotationOverrideFreeze = gitgate.AnnotationOverrideFreeze

// FreezeSpec is an environment's freeze windows and switch.
type FreezeSpec struct {
	// Windows are recurring windows during which the environment is frozen.
	// +optional
	// +listType=atomic
	Windows []FreezeWindow `json:"windows,omitempty"`
	// Frozen is the switch: true freezes the environment until switched
	// off (kubectl gitgate freeze / unfreeze, verb freeze).
	// +optional
	Frozen bool `json:"frozen,omitempty"`
	// Reason says why the switch is on; shown in refusals.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// FreezeWindow is one recurring window.
type FreezeWindow struct {
	// Start is a 5-field cron expression (minute hour day-of-month month
	// day-of-week), read in TimeZone, e.g. "0 18 * * FRI".
	Start string `json:"start"`
	// Duration is how long each window lasts, in wall-clock time of
	// TimeZone (so 62h from Friday 18:00 ends Monday 08:00 local time,
	// across daylight-saving changes too): whole minutes, at most 8784h.
	Duration metav1.Duration `json:"duration"`
	// TimeZone is an IANA time zone name such as Europe/Berlin; empty
	// means UTC.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// FreezeStatus is what the freeze says at the time of reading.
type FreezeStatus struct {
	// Frozen is true while the switch is on or a window is open.
	Frozen bool `json:"frozen"`
	// Reason says why: the switch's reason, or the open window.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Until is when the open windows end (following windows that start
	// before the previous one ends); unset when none is open. With the
	// switch on, the environment stays frozen after it.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
	// NextWindow is the next window to start (after Until, when one is open).
	// +optional
	NextWindow *FreezeWindowStatus `json:"nextWindow,omitempty"`
}

// FreezeWindowStatus is one occurrence of a window.
type FreezeWindowStatus struct {
	// Window describes it: start expression, duration and time zone.
	Window string `json:"window"`
	// Start is when it opens.
	Start metav1.Time `json:"start"`
	// End is when it closes.
	End metav1.Time `json:"end"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EnvironmentFreeze switches an environment's freeze on or off: the body of
// the environments/<name>/freeze subresource. A create needs the verb
// freeze on the environment (besides create on environments/freeze), and
// commits the changed definition.
type EnvironmentFreeze struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec EnvironmentFreezeSpec `json:"spec"`
	// +optional
	Status EnvironmentFreezeStatus `json:"status,omitempty"`
}

// EnvironmentFreezeSpec is the switch's new position.
type EnvironmentFreezeSpec struct {
	// Frozen switches the freeze on (true) or off (false).
	Frozen bool `json:"frozen"`
	// Reason says why; required to freeze.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// EnvironmentFreezeStatus is the outcome.
type EnvironmentFreezeStatus struct {
	// Commit changed the environment's definition; empty when the switch
	// was already in that position, or for a dry run.
	// +optional
	Commit string `json:"commit,omitempty"`
	// Freeze is the environment's freeze after the change.
	// +optional
	Freeze FreezeStatus `json:"freeze"`
}
