package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// DefaultFluxNamespace is where a fluxKustomization reference without a
// namespace points: the namespace Flux installs itself into.
const DefaultFluxNamespace = "flux-system"

// SetDefaults_EnvironmentSpec defaults the strategy to Images and a
// fluxKustomization's namespace to flux-system. It runs on every write
// through the API and on every definition read from Git, so everything past
// decoding (status, admission's owner lookup, the one-claim check) sees the
// defaulted reference. The branch default (the repository's default branch)
// depends on the repository and is applied by the engine.
func SetDefaults_EnvironmentSpec(spec *EnvironmentSpec) {
	if spec.Strategy == "" {
		spec.Strategy = StrategyImages
	}
	if ref := spec.FluxKustomization; ref != nil && ref.Namespace == "" {
		ref.Namespace = DefaultFluxNamespace
	}
}

// PromotionEnvironmentField is the field selector on a Promotion's target.
const PromotionEnvironmentField = "spec.environment"

func addFieldLabelConversions(scheme *runtime.Scheme) error {
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Promotion"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "metadata.namespace", PromotionEnvironmentField:
				return label, value, nil
			default:
				return "", "", fmt.Errorf("field label %q is not supported for promotions: use metadata.name, metadata.namespace or %s", label, PromotionEnvironmentField)
			}
		})
}
