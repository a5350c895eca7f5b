package validation

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/freeze"
)

// maxFreezeWindows bounds how many windows an environment has.
const maxFreezeWindows = 32

// maxFreezeReason bounds the length of a freeze or override reason.
const maxFreezeReason = 1024

// ValidateFreeze checks an environment's freeze windows (at most 32): a
// 5-field cron start that names a day within 8 years, a whole-minute duration up to a year and a day, an IANA time zone.
func ValidateFreeze(spec *gitgate.FreezeSpec, fld *field.Path) field.ErrorList {
	if spec == nil {
		return nil
	}
	var allErrs field.ErrorList
	if len(spec.Windows) > maxFreezeWindows {
		allErrs = append(allErrs, field.TooMany(fld.Child("windows"), len(spec.Windows), maxFreezeWindows))
	}
	for i, w := range spec.Windows {
		wf := fld.Child("windows").Index(i)
		if c, err := freeze.ParseCron(w.Start); err != nil {
			allErrs = append(allErrs, field.Invalid(wf.Child("start"), w.Start, err.Error()))
		} else if !c.HasStart(time.Now()) {
			allErrs = append(allErrs, field.Invalid(wf.Child("start"), w.Start,
				"names no start in the next 8 years (e.g. 31 February): pick a day that exists"))
		}
		if err := freeze.ValidateDuration(w.Duration.Duration); err != nil {
			allErrs = append(allErrs, field.Invalid(wf.Child("duration"), w.Duration.Duration.String(), err.Error()))
		}
		if _, err := freeze.LoadTimeZone(w.TimeZone); err != nil {
			allErrs = append(allErrs, field.Invalid(wf.Child("timeZone"), w.TimeZone, err.Error()))
		}
	}
	allErrs = append(allErrs, ValidateFreezeReason(spec.Reason, fld.Child("reason"))...)
	return allErrs
}

// ValidateFreezeReason checks a freeze or override reason: one line of
// printable text, as it is written into commit trailers.
func ValidateFreezeReason(reason string, fld *field.Path) field.ErrorList {
	switch {
	case len(reason) > maxFreezeReason:
		return field.ErrorList{field.TooLong(fld, "", maxFreezeReason)}
	case containsControl(reason):
		return field.ErrorList{field.Invalid(fld, reason, "must be one line of text without control characters")}
	}
	return nil
}

func containsControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// WeakensFreeze reports whether the update from oldSpec to newSpec
// weakens the freeze (a window removed or changed, the switch turned
// off). Such an update needs the verb freeze on the environment besides
// update and promote, as unfreezing through the freeze subresource does.
func WeakensFreeze(newSpec, oldSpec *gitgate.EnvironmentSpec) bool {
	return len(weakenedFreeze(newSpec.Freeze, oldSpec.Freeze, field.NewPath("spec", "freeze"))) > 0
}

// weakenedFreeze lists the freeze fields whose change lowers protection:
// a window removed or changed (adding one is tightening), and the switch
// turned off.
func weakenedFreeze(newSpec, oldSpec *gitgate.FreezeSpec, fld *field.Path) []string {
	if oldSpec == nil {
		return nil
	}
	var out []string
	var newWindows []gitgate.FreezeWindow
	frozen := false
	if newSpec != nil {
		newWindows, frozen = newSpec.Windows, newSpec.Frozen
	}
	for _, old := range oldSpec.Windows {
		if !containsWindow(newWindows, old) {
			out = append(out, fld.Child("windows").String())
			break
		}
	}
	if oldSpec.Frozen && !frozen {
		out = append(out, fld.Child("frozen").String())
	}
	return out
}

func containsWindow(ws []gitgate.FreezeWindow, w gitgate.FreezeWindow) bool {
	for _, x := range ws {
		if x.Start == w.Start && x.Duration == w.Duration && x.TimeZone == w.TimeZone {
			return true
		}
	}
	return false
}
