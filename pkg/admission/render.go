package admission

import (
	"fmt"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// RenderOptions shape the rendered ValidatingAdmissionPolicy.
type RenderOptions struct {
	// Name of the policy and its binding; default "gitgate".
	Name string
	// ExcludedNamespaces are never checked (kube-system, flux-system, gitgate's own).
	ExcludedNamespaces []string
	// FailurePolicy is Fail or Ignore; default Fail.
	FailurePolicy admissionregistrationv1.FailurePolicyType
}

// PolicyModeLimits is what the in-process CEL mode cannot do, told in every
// message it renders and in docs/operations.md.
const PolicyModeLimits = "(policy mode: no break-glass and no Environment lookup; both need the gitgate webhook)"

// RenderPolicy returns the policy as a ValidatingAdmissionPolicy and its
// binding, in YAML: the same rules as the webhook, evaluated by
// kube-apiserver itself with nothing to keep alive.
func RenderPolicy(p Policy, o RenderOptions) ([]byte, error) {
	if o.Name == "" {
		o.Name = "gitgate"
	}
	if o.FailurePolicy == "" {
		o.FailurePolicy = admissionregistrationv1.Fail
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &o.FailurePolicy,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: excludeNamespaces(o.ExcludedNamespaces),
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*/*"}},
					},
				}},
			},
			MatchConditions: p.matchConditions(),
			Variables:       p.variables(),
			Validations: []admissionregistrationv1.Validation{{
				Expression:        "!variables.managed && !variables.enforced",
				MessageExpression: p.messageExpression(),
				Reason:            ptr(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        o.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	var out []byte
	for _, obj := range []any{policy, binding} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(append(out, "---\n"...), b...)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func excludeNamespaces(names []string) *metav1.LabelSelector {
	if len(names) == 0 {
		return &metav1.LabelSelector{}
	}
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: names,
	}}}
}

// matchConditions skip what the webhook allows whatever the object:
// gitgate.dev's own API, scale (unless protected), status writes that
// change only status, and the allowed identities.
func (p *Policy) matchConditions() []admissionregistrationv1.MatchCondition {
	conditions := []admissionregistrationv1.MatchCondition{celNotGitgate}
	if !p.ProtectScale {
		conditions = append(conditions, celNotScale)
	}
	return append(conditions, celNotStatusOnly, p.identityCondition())
}

// Conditions shared by the policy and the webhook; the chart finds them by
// name (not-scale, not-an-allowed-identity) to apply its values.
var (
	celNotGitgate = admissionregistrationv1.MatchCondition{Name: "not-gitgate-itself", Expression: celGroup + " != 'gitgate.dev'"}
	celNotScale   = admissionregistrationv1.MatchCondition{Name: "not-scale", Expression: celSubResource + " != 'scale'"}
	// A status write that changes neither labels nor annotations changes
	// only status; one that does is decided like an update.
	celNotStatusOnly = admissionregistrationv1.MatchCondition{Name: "not-a-status-only-write", Expression: "!(" + celSubResource + " == 'status' && object != null && oldObject != null && " +
		celMap("object", "labels") + " == " + celMap("oldObject", "labels") + " && " +
		celMap("object", "annotations") + " == " + celMap("oldObject", "annotations") + ")"}
)

// identityCondition is false for the identities allowed to change managed
// objects, as Policy.allowedIdentity says.
func (p *Policy) identityCondition() admissionregistrationv1.MatchCondition {
	user := "request.userInfo.username"
	var allowed []string
	allowed = append(allowed, user+".startsWith('system:serviceaccount:kube-system:')", user+".startsWith('system:node:')")
	for _, u := range sortedCopy(keys(systemUsers)) {
		allowed = append(allowed, fmt.Sprintf("%s == %s", user, quote(u)))
	}
	for _, ns := range p.ApplierNamespaces {
		allowed = append(allowed, fmt.Sprintf("%s.startsWith(%s)", user, quote("system:serviceaccount:"+ns+":")))
	}
	for _, sa := range p.TenantServiceAccounts {
		ns, name, _ := strings.Cut(sa, ":")
		if ns == "*" {
			allowed = append(allowed, fmt.Sprintf("(%s.startsWith('system:serviceaccount:') && %s.endsWith(%s))", user, user, quote(":"+name)))
		} else {
			allowed = append(allowed, fmt.Sprintf("%s == %s", user, quote("system:serviceaccount:"+ns+":"+name)))
		}
	}
	for _, u := range p.AllowedUsers {
		allowed = append(allowed, fmt.Sprintf("%s == %s", user, quote(u)))
	}
	for _, g := range p.AllowedGroups {
		allowed = append(allowed, fmt.Sprintf("(has(request.userInfo.groups) && %s in request.userInfo.groups)", quote(g)))
	}
	return admissionregistrationv1.MatchCondition{Name: "not-an-allowed-identity", Expression: "!(" + strings.Join(allowed, " || ") + ")"}
}

// celExempt is true for the kinds an enforced namespace does not manage.
func (p *Policy) celExempt() string {
	exempt := []string{"false"}
	for _, gk := range p.ExemptKinds {
		exempt = append(exempt, fmt.Sprintf("(%s == %s && request.kind.kind == %s)", celKindGroup, quote(gk.Group), quote(gk.Kind)))
	}
	return strings.Join(exempt, " || ")
}

// celObjectSubresource: the object itself, or a subresource that changes it.
var celObjectSubresource = "(" + celSubResource + " in ['', '" + strings.Join(objectSubresources, "', '") + "'])"

// celIsNamespace: a Namespace is cluster-scoped, never "in" an enforced namespace.
const celIsNamespace = "(" + celKindGroup + " == '' && request.kind.kind == 'Namespace')"

// celMap is an object's labels or annotations, empty when it has none.
func celMap(object, field string) string {
	return fmt.Sprintf("(has(%[1]s.metadata.%[2]s) ? %[1]s.metadata.%[2]s : {})", object, field)
}

// variables compute whether the object is managed, as Decide does: the
// stored object decides on UPDATE and DELETE.
func (p *Policy) variables() []admissionregistrationv1.Variable {
	var keysExpr []string
	for _, k := range p.ManagedLabelKeys {
		keysExpr = append(keysExpr, quote(k)+" in variables.labels")
	}
	if len(keysExpr) == 0 {
		keysExpr = []string{"false"}
	}
	return []admissionregistrationv1.Variable{
		{Name: "meta", Expression: "request.operation == 'CREATE' ? object.metadata : oldObject.metadata"},
		{Name: "labels", Expression: "has(variables.meta.labels) ? variables.meta.labels : {}"},
		{Name: "annotations", Expression: "has(variables.meta.annotations) ? variables.meta.annotations : {}"},
		{Name: "disabled", Expression: fmt.Sprintf("(%[1]s in variables.labels && variables.labels[%[1]s] == %[2]s) || (%[1]s in variables.annotations && variables.annotations[%[1]s] == %[2]s)",
			quote(ReconcileKey), quote(ReconcileDisabled))},
		{Name: "managed", Expression: "!variables.disabled && (" + strings.Join(keysExpr, " || ") + ")"},
		{Name: "enforced", Expression: fmt.Sprintf("!variables.managed && "+celObjectSubresource+" && "+celNamespace+" != '' && namespaceObject != null && has(namespaceObject.metadata.labels) && %[1]s in namespaceObject.metadata.labels && namespaceObject.metadata.labels[%[1]s] == 'true' && !(%[2]s)",
			quote(EnforceLabel), p.celExempt()+" || "+celIsNamespace)},
		{Name: "owner", Expression: fmt.Sprintf("%[1]s in variables.labels ? 'Flux Kustomization ' + (%[2]s in variables.labels ? variables.labels[%[2]s] + '/' : '') + variables.labels[%[1]s] : (%[3]s in variables.labels ? 'Flux HelmRelease ' + (%[4]s in variables.labels ? variables.labels[%[4]s] + '/' : '') + variables.labels[%[3]s] : 'GitOps')",
			quote(KustomizationNameLabel), quote(KustomizationNamespaceLabel), quote(HelmReleaseNameLabel), quote(HelmReleaseNamespaceLabel))},
	}
}

func (p *Policy) messageExpression() string {
	return `'gitgate: ' + request.operation.lowerAscii() + ' of ' + request.kind.kind + ' ' +
  (` + celNamespace + ` != '' ? ` + celNamespace + ` + '/' : '') + ` + celName + ` +
  (` + celSubResource + ` != '' ? '/' + ` + celSubResource + ` : '') + ' by ' + request.userInfo.username + ' refused: ' +
  (variables.enforced ? 'namespace ' + ` + celNamespace + ` + ' is enforced (gitgate.dev/enforce=true): every change there comes from Git.'
                      : 'it is managed by ' + variables.owner + ', so changes come from Git.') +
  ' Commit the change to the Git repository that Flux applies it from, or promote into its environment: kubectl create promotion --to ENV.' +
  (` + celKindGroup + ` == '' && request.kind.kind == 'Secret' ? ' Secrets reach Git only sealed: kubectl gitgate seal.' : '') +
  ' ` + PolicyModeLimits + `'`
}

// Fields of the admission request that are absent, not empty, when unset.
const (
	celSubResource = "(has(request.subResource) ? request.subResource : '')"
	celNamespace   = "(has(request.namespace) ? request.namespace : '')"
	celName        = "(has(request.name) ? request.name : '')"
	celGroup       = "(has(request.resource.group) ? request.resource.group : '')"
	celKindGroup   = "(has(request.kind.group) ? request.kind.group : '')"
)

func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
