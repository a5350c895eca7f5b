package admission

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Names of the webhook entries. kube-apiserver calls gitgate only through
// them, so while gitgate is down only what they match is refused.
const (
	// WebhookManaged matches changes of objects that carry a managed label
	// or a break-glass annotation (on the new or the stored object).
	WebhookManaged = "managed.gitgate.dev"
	// WebhookDerived matches people's changes of namespaced objects that
	// have a controller (a Pod, a ReplicaSet): gitgate looks it up.
	WebhookDerived = "derived.gitgate.dev"
	// WebhookEnforced matches changes of namespaced objects in namespaces
	// labelled gitgate.dev/enforce=true, exempt kinds left out.
	WebhookEnforced = "enforced.gitgate.dev"
	// WebhookScale matches scale requests when scale is protected: a Scale
	// carries no labels, so only gitgate can tell whether it is managed.
	WebhookScale = "scale.gitgate.dev"
)

// WebhookOptions shape the rendered ValidatingWebhookConfiguration.
type WebhookOptions struct {
	// Name of the configuration; default "gitgate".
	Name string
	// ExcludedNamespaces are never checked (kube-system, flux-system, gitgate's own).
	ExcludedNamespaces []string
	// FailurePolicy is Fail or Ignore; default Fail.
	FailurePolicy admissionregistrationv1.FailurePolicyType
	// TimeoutSeconds bounds each call; default DefaultTimeoutSeconds.
	TimeoutSeconds int32
	// ClientConfig is how kube-apiserver reaches gitgate-apiserver's
	// /validate; left empty for the chart to fill in.
	ClientConfig admissionregistrationv1.WebhookClientConfig
}

// DefaultTimeoutSeconds bounds a webhook call. A decision is made from
// memory in microseconds; the slow paths are the first request for a kind
// of controller (a metadata informer syncs, bounded inside the handler) and
// a namespace the cache lacks (one GET). Three seconds cover them under
// load, and a person's guarded change while gitgate is down fails after
// three seconds rather than kube-apiserver's default ten.
const DefaultTimeoutSeconds = 3

// RenderWebhook returns the webhook's ValidatingWebhookConfiguration in
// YAML: the entries Webhooks makes, with o's name, failure policy, timeout
// and client configuration.
func RenderWebhook(p Policy, o WebhookOptions) ([]byte, error) {
	if o.Name == "" {
		o.Name = "gitgate"
	}
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Webhooks:   p.Webhooks(o),
	}
	return yaml.Marshal(config)
}

// Webhooks are the entries of gitgate's ValidatingWebhookConfiguration.
// kube-apiserver filters with them before calling: only a person's change
// (the allowed identities are skipped) to a managed object, to an object
// with a controller, or to an object in an enforced namespace reaches
// gitgate, and never a status write that changes only status. Cluster-scoped
// objects, Namespaces included, reach it only when they are managed.
// Between them the entries match every request Decide could refuse
// (webhookconfig_test.go proves it with kube-apiserver's own matchers), and
// each request matches at most one entry.
func (p *Policy) Webhooks(o WebhookOptions) []admissionregistrationv1.ValidatingWebhook {
	if o.FailurePolicy == "" {
		o.FailurePolicy = admissionregistrationv1.Fail
	}
	if o.TimeoutSeconds == 0 {
		o.TimeoutSeconds = DefaultTimeoutSeconds
	}
	managed := "(" + p.celManaged("object") + " || " + p.celManaged("oldObject") + " || " + celBreakGlass("object") + " || " + celBreakGlass("oldObject") + ")"
	controlled := "(" + celControlled("object") + " || " + celControlled("oldObject") + ")"
	person := "!request.userInfo.username.startsWith('system:serviceaccount:')"
	// What every entry skips: gitgate.dev, scale (its own entry), status
	// writes that change only status, the allowed identities.
	common := []admissionregistrationv1.MatchCondition{celNotGitgate, celNotScale, celNotStatusOnly, p.identityCondition()}
	withCommon := func(more ...admissionregistrationv1.MatchCondition) []admissionregistrationv1.MatchCondition {
		return append(append([]admissionregistrationv1.MatchCondition(nil), common...), more...)
	}
	all := []string{"*/*"}
	hooks := []admissionregistrationv1.ValidatingWebhook{
		o.webhook(WebhookManaged, admissionregistrationv1.AllScopes, all, nil, withCommon(
			admissionregistrationv1.MatchCondition{Name: "managed-or-break-glass", Expression: managed})),
		o.webhook(WebhookDerived, admissionregistrationv1.NamespacedScope, all, nil, withCommon(
			admissionregistrationv1.MatchCondition{Name: "a-person", Expression: person},
			admissionregistrationv1.MatchCondition{Name: "controlled-and-not-managed", Expression: controlled + " && !" + managed})),
		o.webhook(WebhookEnforced, admissionregistrationv1.NamespacedScope, enforcedResources(), map[string]string{EnforceLabel: "true"}, withCommon(
			admissionregistrationv1.MatchCondition{Name: "not-an-exempt-kind", Expression: "!(" + p.celExempt() + ")"},
			admissionregistrationv1.MatchCondition{Name: "not-managed-nor-derived", Expression: "!" + managed + " && !(" + person + " && " + controlled + ")"})),
	}
	if p.ProtectScale {
		hooks = append(hooks, o.webhook(WebhookScale, admissionregistrationv1.AllScopes, []string{"*/scale"}, nil,
			[]admissionregistrationv1.MatchCondition{celNotGitgate, p.identityCondition()}))
	}
	return hooks
}

// enforcedResources: objects and the subresources that change them.
func enforcedResources() []string {
	out := []string{"*"}
	for _, sub := range objectSubresources {
		if sub != "scale" { // its own entry
			out = append(out, "*/"+sub)
		}
	}
	return out
}

func (o *WebhookOptions) webhook(name string, scope admissionregistrationv1.ScopeType, resources []string, namespaceLabels map[string]string, conditions []admissionregistrationv1.MatchCondition) admissionregistrationv1.ValidatingWebhook {
	selector := excludeNamespaces(o.ExcludedNamespaces)
	selector.MatchLabels = namespaceLabels
	return admissionregistrationv1.ValidatingWebhook{
		Name:                    name,
		AdmissionReviewVersions: []string{"v1"},
		SideEffects:             ptr(admissionregistrationv1.SideEffectClassNoneOnDryRun),
		FailurePolicy:           ptr(o.FailurePolicy),
		TimeoutSeconds:          ptr(o.TimeoutSeconds),
		ClientConfig:            o.ClientConfig,
		MatchPolicy:             ptr(admissionregistrationv1.Equivalent),
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: resources, Scope: ptr(scope)},
		}},
		NamespaceSelector: selector,
		ObjectSelector:    &metav1.LabelSelector{},
		MatchConditions:   conditions,
	}
}

// celManaged is true when an object carries a managed label and Flux still
// reconciles it, as Policy.managedBy says.
func (p *Policy) celManaged(object string) string {
	labels, annotations := celMap(object, "labels"), celMap(object, "annotations")
	keys := []string{"false"}
	for _, k := range p.ManagedLabelKeys {
		keys = append(keys, quote(k)+" in "+labels)
	}
	disabled := fmt.Sprintf("(%[1]s in %[3]s && %[3]s[%[1]s] == %[2]s) || (%[1]s in %[4]s && %[4]s[%[1]s] == %[2]s)",
		quote(ReconcileKey), quote(ReconcileDisabled), labels, annotations)
	return fmt.Sprintf("(%s != null && (%s) && !(%s))", object, strings.Join(keys, " || "), disabled)
}

// celBreakGlass is true when an object carries the break-glass annotation.
func celBreakGlass(object string) string {
	return fmt.Sprintf("(%s != null && %s in %s)", object, quote(BreakGlassAnnotation), celMap(object, "annotations"))
}

// celControlled is true when an object has a controller ownerReference.
func celControlled(object string) string {
	return fmt.Sprintf("(%[1]s != null && has(%[1]s.metadata.ownerReferences) && %[1]s.metadata.ownerReferences.exists(r, has(r.controller) && r.controller == true))", object)
}
