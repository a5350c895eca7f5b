package plugin

import (
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// AddOverrideFreezeFlag adds --override-freeze, which passes a frozen
// environment with a reason (the verb breakglass on it is needed).
func AddOverrideFreezeFlag(f *pflag.FlagSet, reason *string) {
	f.StringVar(reason, "override-freeze", "", `Pass a freeze of the environment, with this reason (needs the "breakglass" verb on it); recorded in the commit.`)
}

// SetOverrideFreeze carries an override reason as the annotation the API
// reads; an empty reason sets nothing.
func SetOverrideFreeze(meta *metav1.ObjectMeta, reason string) {
	if reason == "" {
		return
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[v1alpha1.AnnotationOverrideFreeze] = reason
}
