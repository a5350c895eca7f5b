package admission

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Labels and annotations the policy reads.
const (
	// KustomizationNameLabel and KustomizationNamespaceLabel are set by
	// Flux's kustomize-controller on every object it applies.
	KustomizationNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	KustomizationNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"
	// HelmReleaseNameLabel and HelmReleaseNamespaceLabel are set by
	// Flux's helm-controller.
	HelmReleaseNameLabel      = "helm.toolkit.fluxcd.io/name"
	HelmReleaseNamespaceLabel = "helm.toolkit.fluxcd.io/namespace"
	// ReconcileKey with value ReconcileDisabled (label or annotation) means
	// Flux no longer reconciles the object.
	ReconcileKey      = "kustomize.toolkit.fluxcd.io/reconcile"
	ReconcileDisabled = "disabled"
	// EnforceLabel "true" on a namespace makes every change there managed.
	EnforceLabel = "gitgate.dev/enforce"
	// BreakGlassAnnotation carries the reason of an emergency change.
	BreakGlassAnnotation = "gitgate.dev/break-glass"
)

// Policy is what an administrator configures.
type Policy struct {
	// ManagedLabelKeys mark objects that GitOps manages.
	ManagedLabelKeys []string
	// ExemptKinds are never managed through an enforced namespace.
	ExemptKinds []schema.GroupKind
	// ApplierNamespaces: every service account there is a GitOps applier.
	ApplierNamespaces []string
	// TenantServiceAccounts are the service accounts Flux impersonates, as
	// "namespace:name" ("*:name" for that name in any namespace).
	TenantServiceAccounts []string
	// AllowedUsers and AllowedGroups are further identities that may change
	// managed objects.
	AllowedUsers, AllowedGroups []string
	// ProtectScale makes the scale subresource managed too; by default it
	// is allowed so that HorizontalPodAutoscalers work.
	ProtectScale bool
}

// DefaultPolicy is what gitgate enforces when nothing is configured.
func DefaultPolicy() Policy {
	return Policy{
		ManagedLabelKeys:  []string{KustomizationNameLabel, HelmReleaseNameLabel},
		ExemptKinds:       []schema.GroupKind{{Kind: "Event"}, {Group: "events.k8s.io", Kind: "Event"}, {Group: "coordination.k8s.io", Kind: "Lease"}},
		ApplierNamespaces: []string{"flux-system"},
	}
}

// systemIdentities are Kubernetes' own components: controllers, the
// garbage collector, the namespace controller, nodes and the API server.
var systemUserPrefixes = []string{
	"system:serviceaccount:kube-system:",
	"system:node:",
}

var systemUsers = map[string]bool{
	"system:kube-controller-manager": true,
	"system:kube-scheduler":          true,
	"system:apiserver":               true,
}

// allowedIdentity reports whether user may change managed objects, and why.
func (p *Policy) allowedIdentity(user string, groups []string) (bool, string) {
	if systemUsers[user] {
		return true, "a Kubernetes control-plane component"
	}
	for _, prefix := range systemUserPrefixes {
		if strings.HasPrefix(user, prefix) {
			return true, "a Kubernetes system identity"
		}
	}
	if ns, name, ok := serviceAccount(user); ok {
		for _, applier := range p.ApplierNamespaces {
			if ns == applier {
				return true, "a GitOps applier (service account in " + applier + ")"
			}
		}
		for _, tenant := range p.TenantServiceAccounts {
			tns, tname, _ := strings.Cut(tenant, ":")
			if tname == name && (tns == ns || tns == "*") {
				return true, "a tenant service account Flux impersonates"
			}
		}
	}
	for _, u := range p.AllowedUsers {
		if u == user {
			return true, "an allowed user"
		}
	}
	for _, g := range groups {
		for _, allowed := range p.AllowedGroups {
			if g == allowed {
				return true, "in allowed group " + g
			}
		}
	}
	return false, ""
}

func serviceAccount(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

func (p *Policy) exempt(gk schema.GroupKind) bool {
	for _, e := range p.ExemptKinds {
		if e == gk {
			return true
		}
	}
	return false
}
