package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestDefaultsAndFieldSelectors(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env := &Environment{}
	scheme.Default(env)
	if env.Spec.Strategy != StrategyImages {
		t.Errorf("default strategy = %q, want Images", env.Spec.Strategy)
	}
	explicit := &Environment{Spec: EnvironmentSpec{Strategy: StrategyMerge}}
	scheme.Default(explicit)
	if explicit.Spec.Strategy != StrategyMerge {
		t.Errorf("an explicit strategy was overwritten: %q", explicit.Spec.Strategy)
	}
	flux := &Environment{Spec: EnvironmentSpec{FluxKustomization: &ObjectReference{Name: "apps-prod"}}}
	scheme.Default(flux)
	if got := flux.Spec.FluxKustomization.Namespace; got != DefaultFluxNamespace {
		t.Errorf("fluxKustomization without a namespace defaults to %q, want %q", got, DefaultFluxNamespace)
	}
	elsewhere := &Environment{Spec: EnvironmentSpec{FluxKustomization: &ObjectReference{Namespace: "tenants", Name: "apps-prod"}}}
	scheme.Default(elsewhere)
	if got := elsewhere.Spec.FluxKustomization.Namespace; got != "tenants" {
		t.Errorf("an explicit fluxKustomization namespace was overwritten: %q", got)
	}
	gvk := SchemeGroupVersion.WithKind("Promotion")
	for _, label := range []string{"spec.environment", "metadata.name", "metadata.namespace"} {
		if _, _, err := scheme.ConvertFieldLabel(gvk, label, "x"); err != nil {
			t.Errorf("field selector %s refused: %v", label, err)
		}
	}
	if _, _, err := scheme.ConvertFieldLabel(gvk, "spec.from", "x"); err == nil {
		t.Error("field selector spec.from accepted, want a refusal naming the supported fields")
	}
}
