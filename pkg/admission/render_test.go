package admission

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

func TestRenderPolicy(t *testing.T) {
	p := DefaultPolicy()
	p.TenantServiceAccounts = []string{"shop:applier", "*:flux"}
	p.AllowedGroups = []string{"platform-admins"}
	p.ProtectScale = true
	out, err := RenderPolicy(p, RenderOptions{ExcludedNamespaces: []string{"kube-system", "flux-system"}, FailurePolicy: admissionregistrationv1.Ignore})
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(strings.TrimPrefix(string(out), "---\n"), "---\n")
	if len(docs) != 2 {
		t.Fatalf("want a policy and a binding, got %d documents", len(docs))
	}
	var policy admissionregistrationv1.ValidatingAdmissionPolicy
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &policy); err != nil {
		t.Fatal(err)
	}
	var binding admissionregistrationv1.ValidatingAdmissionPolicyBinding
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &binding); err != nil {
		t.Fatal(err)
	}
	if binding.Spec.PolicyName != "gitgate" || binding.Spec.ValidationActions[0] != admissionregistrationv1.Deny {
		t.Errorf("binding = %+v", binding.Spec)
	}
	spec := policy.Spec
	if *spec.FailurePolicy != admissionregistrationv1.Ignore {
		t.Errorf("failurePolicy = %s", *spec.FailurePolicy)
	}
	if got := spec.MatchConstraints.ResourceRules[0].Resources; strings.Join(got, ",") != "*/*" {
		t.Errorf("resources = %v, want every resource and subresource", got)
	}
	for _, c := range spec.MatchConditions {
		if c.Name == "not-scale" {
			t.Error("scale is protected, yet skipped")
		}
	}
	if got := spec.MatchConstraints.NamespaceSelector.MatchExpressions[0].Values; strings.Join(got, ",") != "kube-system,flux-system" {
		t.Errorf("excluded namespaces = %v", got)
	}
	identities := spec.MatchConditions[len(spec.MatchConditions)-1].Expression
	for _, s := range []string{
		"request.userInfo.username.startsWith('system:serviceaccount:flux-system:')",
		"request.userInfo.username == 'system:serviceaccount:shop:applier'",
		"request.userInfo.username.endsWith(':flux')",
		"'platform-admins' in request.userInfo.groups",
	} {
		if !strings.Contains(identities, s) {
			t.Errorf("allowed identities lack %s:\n%s", s, identities)
		}
	}
	if !strings.Contains(spec.Validations[0].MessageExpression, PolicyModeLimits) {
		t.Error("the message does not say what policy mode cannot do")
	}
	if strings.Contains(PolicyModeLimits, "'") {
		t.Error("PolicyModeLimits must not contain a quote: it is inside a CEL string")
	}
}
