package rbacaudit

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Policy is the cluster's RBAC as read from the API. Aggregated
// ClusterRoles come with their rules filled in by the controller manager.
type Policy struct {
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
}

// Options say what to audit and whom gitgate trusts, as its admission
// flags do.
type Options struct {
	// Namespaces are the audited namespaces; empty audits every one.
	Namespaces []string
	// ApplierNamespaces: every service account there is a GitOps applier
	// (gitgate's --admission-applier-namespaces; default flux-system).
	ApplierNamespaces []string
	// TenantServiceAccounts Flux impersonates, as namespace:name or *:name.
	TenantServiceAccounts []string
	// AllowedUsers and AllowedGroups are further trusted identities.
	AllowedUsers, AllowedGroups []string
	// GitgateNamespace holds gitgate's own repository credentials.
	GitgateNamespace string
	// IncludeSystem reports Kubernetes' own control-plane identities too.
	IncludeSystem bool
}

// systemUsers are the control-plane users gitgate's admission trusts.
var systemUsers = []string{"system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"}

// IsSystem reports Kubernetes' own control-plane identities: kube-system's
// service accounts, the control-plane users, nodes and system:masters.
// Admission trusts them as it trusts etcd; the audit lists who can act as
// them, not what they can do.
func IsSystem(s rbacv1.Subject) bool {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return s.Namespace == "kube-system"
	case rbacv1.UserKind:
		return contains(systemUsers, s.Name) || strings.HasPrefix(s.Name, "system:node:")
	case rbacv1.GroupKind:
		return s.Name == "system:masters" || s.Name == "system:nodes"
	}
	return false
}

func (o Options) audited(ns string) bool { return len(o.Namespaces) == 0 || contains(o.Namespaces, ns) }

func (o Options) applier(ns string) bool {
	return contains(o.ApplierNamespaces, ns) || ns == "kube-system"
}

// tenant reports whether namespace/name is a tenant service account;
// name "" asks whether the namespace holds any.
func (o Options) tenant(ns, name string) bool {
	for _, t := range o.TenantServiceAccounts {
		tns, tname, _ := strings.Cut(t, ":")
		if (tns == ns || (tns == "*" && o.audited(ns))) && (name == "" || tname == name) {
			return true
		}
	}
	return false
}

// trustedServiceAccount reports whether a service account is one that
// admission lets through; ns "" (a ClusterRoleBinding) means any namespace.
func (o Options) trustedServiceAccount(ns, name string) bool {
	if ns == "" {
		return len(o.ApplierNamespaces) > 0 || len(o.TenantServiceAccounts) > 0
	}
	return o.applier(ns) || o.tenant(ns, name)
}

// sensitiveNamespace: where a namespace-wide wildcard or a role binding
// right matters.
func (o Options) sensitiveNamespace(ns string) bool {
	return o.audited(ns) || o.applier(ns) || o.tenant(ns, "") || (ns != "" && ns == o.GitgateNamespace)
}

// check is one way around the promise: a set of (group, resource, verb)
// grants, in the namespaces it concerns.
type check struct {
	can           Capability
	clusterScoped bool
	// namespace says whether a RoleBinding in ns matters (namespaced checks).
	namespace func(ns string) bool
	groups    []string // "*": any group
	resources []string // "*/status": any status subresource
	verbs     []string
	// names says whether a resourceName matters, for a binding in ns ("" for
	// a ClusterRoleBinding); nil: every name does.
	names func(ns, name string) bool
}

func (o Options) checks() []check {
	trustedSANamespace := func(ns string) bool { return o.applier(ns) || o.tenant(ns, "") }
	edits := []string{"create", "update", "patch", "delete", "deletecollection"}
	writes := []string{"create", "update", "patch"}
	return []check{
		{can: Impersonate, namespace: trustedSANamespace, groups: []string{""}, resources: []string{"serviceaccounts"},
			verbs: []string{"impersonate"}, names: o.trustedServiceAccount},
		{can: Impersonate, clusterScoped: true, groups: []string{""}, resources: []string{"users"}, verbs: []string{"impersonate"},
			names: func(_, name string) bool {
				return contains(systemUsers, name) || strings.HasPrefix(name, "system:node:") || contains(o.AllowedUsers, name)
			}},
		{can: Impersonate, clusterScoped: true, groups: []string{""}, resources: []string{"groups"}, verbs: []string{"impersonate"},
			names: func(_, name string) bool { return name == "system:masters" || contains(o.AllowedGroups, name) }},
		{can: CreateToken, namespace: trustedSANamespace, groups: []string{""}, resources: []string{"serviceaccounts/token"},
			verbs: []string{"create"}, names: o.trustedServiceAccount},
		{can: RunAsTrusted, namespace: trustedSANamespace, groups: []string{""}, resources: []string{"pods", "pods/exec", "pods/attach"}, verbs: []string{"create"}},
		{can: RunAsTrusted, namespace: trustedSANamespace, groups: []string{""}, resources: []string{"pods/ephemeralcontainers"}, verbs: []string{"update", "patch"}},
		{can: RunAsTrusted, namespace: trustedSANamespace, groups: []string{"apps", "batch"},
			resources: []string{"deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"}, verbs: writes},
		{can: EditEnvironments, namespace: o.audited, groups: []string{"gitgate.dev"}, resources: []string{"environments"}, verbs: edits},
		{can: BreakGlass, namespace: o.audited, groups: []string{"gitgate.dev"}, resources: []string{"environments"}, verbs: []string{"breakglass"}},
		{can: Freeze, namespace: o.audited, groups: []string{"gitgate.dev"}, resources: []string{"environments"}, verbs: []string{"freeze"}},
		{can: Approve, namespace: o.audited, groups: []string{"gitgate.dev"}, resources: []string{"environments"}, verbs: []string{"approve"}},
		{can: WriteStatus, namespace: o.audited, groups: []string{"*"}, resources: []string{"*/status"}, verbs: []string{"update", "patch"}},
		{can: EditNamespace, namespace: o.audited, groups: []string{""}, resources: []string{"namespaces"}, verbs: []string{"update", "patch"},
			names: func(ns, name string) bool { return name == ns || (ns == "" && o.audited(name)) }},
		// One check per kind of thing; a rule naming a resource of one
		// group under another is no real grant, and none is reported.
		{can: EditFlux, namespace: func(ns string) bool { return o.applier(ns) || o.audited(ns) },
			groups:    []string{"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"},
			resources: []string{"gitrepositories", "ocirepositories", "buckets", "helmrepositories", "helmcharts", "kustomizations", "helmreleases"}, verbs: writes},
		{can: ReadGitCredentials, namespace: func(ns string) bool { return contains(o.ApplierNamespaces, ns) || ns == o.GitgateNamespace },
			groups: []string{""}, resources: []string{"secrets"}, verbs: []string{"get", "list", "watch"}},
		{can: EditAdmission, clusterScoped: true, groups: []string{"admissionregistration.k8s.io"}, verbs: edits,
			resources: []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies",
				"validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}},
		{can: EditAdmission, clusterScoped: true, groups: []string{"apiregistration.k8s.io"}, resources: []string{"apiservices"}, verbs: edits},
		{can: Escalate, namespace: o.sensitiveNamespace, groups: []string{"rbac.authorization.k8s.io"}, resources: []string{"roles", "clusterroles"},
			verbs: []string{"bind", "escalate"}},
	}
}

// match says what rule grants of the check, for a binding in ns ("" for a
// ClusterRoleBinding): the resources, then one entry per resourceName
// that narrows it (so that "breakglass on prod" is a line of its own).
func (c check) match(rule rbacv1.PolicyRule, ns string) []string {
	if !grants(rule.APIGroups, c.groups) || !grants(rule.Verbs, c.verbs) {
		return nil
	}
	var resources []string
	for _, want := range c.resources {
		resources = append(resources, covered(rule.Resources, want)...)
	}
	if len(resources) == 0 {
		return nil
	}
	what := strings.Join(resources, ",")
	if len(rule.ResourceNames) == 0 {
		return []string{what}
	}
	var out []string
	for _, n := range rule.ResourceNames {
		if c.names == nil || c.names(ns, n) {
			out = append(out, what+" "+n)
		}
	}
	return out
}

// grants reports whether a rule's list (groups or verbs) holds "*" or one
// of want; want "*" takes any entry.
func grants(list, want []string) bool {
	if contains(list, "*") {
		return true
	}
	for _, w := range want {
		if w == "*" && len(list) > 0 || contains(list, w) {
			return true
		}
	}
	return false
}

// covered returns which of a rule's resources cover want ("pods/exec",
// or "*/status" for any status subresource), as the audit names them.
func covered(resources []string, want string) []string {
	if contains(resources, "*") {
		return []string{want}
	}
	if want == "*/status" {
		var out []string
		for _, r := range resources {
			if strings.HasSuffix(r, "/status") {
				out = append(out, r)
			}
		}
		return out
	}
	if contains(resources, want) {
		return []string{want}
	}
	if _, sub, ok := strings.Cut(want, "/"); ok && contains(resources, "*/"+sub) {
		return []string{want}
	}
	return nil
}
