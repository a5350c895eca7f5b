package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_EnvironmentSpec defaults the strategy to Images. The branch
// default (the repository's default branch) depends on the repository and is
// applied by the engine.
func SetDefaults_EnvironmentSpec(spec *EnvironmentSpec) {
	if spec.Strategy == "" {
		spec.Strategy = StrategyImages
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
