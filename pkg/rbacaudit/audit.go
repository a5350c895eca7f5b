package rbacaudit

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Capability is a way around gitgate's promise, or one of its governance
// powers (freeze, approve).
type Capability string

// Capabilities, in the order the audit reports them.
const (
	// Everything: a wildcard rule (cluster-admin or alike); every other
	// capability in its scope.
	Everything Capability = "everything"
	// Impersonate a trusted identity: admission cannot tell the request
	// from one of the applier's own.
	Impersonate Capability = "impersonate"
	// CreateToken for a trusted service account, then act as it.
	CreateToken Capability = "create-token"
	// RunAsTrusted: start or enter a pod that runs as a trusted service
	// account (pods, exec, attach, ephemeral containers, workloads).
	RunAsTrusted Capability = "run-as-trusted"
	// EditEnvironments: create, update, patch or delete environment
	// definitions (where a path is, what protects it).
	EditEnvironments Capability = "edit-environments"
	// BreakGlass: the audited emergency change of managed objects.
	BreakGlass Capability = "breakglass"
	// Freeze: switch an environment's freeze on or off (the verb freeze);
	// a governance power rather than a way around, listed because
	// switching a freeze off weakens it.
	Freeze Capability = "freeze"
	// Approve: approve or reject promotions into an environment (the verb
	// approve); a governance power, listed because approvers make up the
	// quorum that lands a promotion.
	Approve Capability = "approve"
	// WriteStatus of objects, the subresource admission long ignored.
	WriteStatus Capability = "write-status"
	// EditNamespace: the namespace's own labels (gitgate.dev/enforce, the
	// webhook's namespace selector).
	EditNamespace Capability = "edit-namespace"
	// EditFlux: Flux sources, Kustomizations and HelmReleases, which decide
	// what the trusted appliers apply.
	EditFlux Capability = "edit-flux"
	// ReadGitCredentials: Secrets of the appliers and of gitgate, which
	// write to Git without a promotion.
	ReadGitCredentials Capability = "read-git-credentials"
	// EditAdmission: the webhook configuration, ValidatingAdmissionPolicies
	// and gitgate's APIService.
	EditAdmission Capability = "edit-admission"
	// Escalate: bind or escalate roles, granting any of the above.
	Escalate Capability = "escalate"
)

// Finding is one subject that can get around the promise, one way, in one
// scope.
type Finding struct {
	// Subject is who, as RoleBindings name it.
	Subject rbacv1.Subject `json:"subject"`
	// Can is the way around.
	Can Capability `json:"can"`
	// Scope says on what and where, e.g. "environments prod in namespace shop".
	Scope string `json:"scope"`
	// Via lists the bindings and roles that grant it.
	Via []string `json:"via"`
	// Expected is set when expectations were given: whether one covers it.
	Expected *bool `json:"expected,omitempty"`
}

// SubjectString names a subject: a service account as namespace/name.
func SubjectString(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

// Audit lists who can get around gitgate's promise under policy, sorted by
// subject, capability and scope.
func Audit(policy Policy, opts Options) []Finding {
	a := auditor{opts: opts, checks: opts.checks(), found: map[string]*Finding{}}
	roles := map[string][]rbacv1.PolicyRule{}
	for _, r := range policy.Roles {
		roles[r.Namespace+"/"+r.Name] = r.Rules
	}
	clusterRoles := map[string][]rbacv1.PolicyRule{}
	for _, r := range policy.ClusterRoles {
		clusterRoles[r.Name] = r.Rules
	}
	for _, b := range policy.ClusterRoleBindings {
		if b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		via := fmt.Sprintf("ClusterRoleBinding %s (ClusterRole %s)", b.Name, b.RoleRef.Name)
		a.binding(b.Subjects, "", clusterRoles[b.RoleRef.Name], via)
	}
	for _, b := range policy.RoleBindings {
		rules, kind := clusterRoles[b.RoleRef.Name], "ClusterRole"
		if b.RoleRef.Kind == "Role" {
			rules, kind = roles[b.Namespace+"/"+b.RoleRef.Name], "Role"
		}
		via := fmt.Sprintf("RoleBinding %s/%s (%s %s)", b.Namespace, b.Name, kind, b.RoleRef.Name)
		a.binding(b.Subjects, b.Namespace, rules, via)
	}
	out := make([]Finding, 0, len(a.found))
	for _, f := range a.found {
		sort.Strings(f.Via)
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Subject.Kind != y.Subject.Kind {
			return x.Subject.Kind < y.Subject.Kind
		}
		if sx, sy := SubjectString(x.Subject), SubjectString(y.Subject); sx != sy {
			return sx < sy
		}
		if x.Can != y.Can {
			return capabilityOrder[x.Can] < capabilityOrder[y.Can]
		}
		return x.Scope < y.Scope
	})
	return out
}

var capabilityOrder = map[Capability]int{
	Everything: 0, Impersonate: 1, CreateToken: 2, RunAsTrusted: 3, EditEnvironments: 4, BreakGlass: 5,
	Freeze: 6, Approve: 7, WriteStatus: 8, EditNamespace: 9, EditFlux: 10, ReadGitCredentials: 11, EditAdmission: 12,
	Escalate: 13,
}

type auditor struct {
	opts   Options
	checks []check
	found  map[string]*Finding
}

// binding adds what one binding grants; namespace is "" for a
// ClusterRoleBinding (its rules hold in every namespace).
func (a *auditor) binding(subjects []rbacv1.Subject, namespace string, rules []rbacv1.PolicyRule, via string) {
	subjects = a.relevant(subjects, namespace)
	if len(subjects) == 0 {
		return
	}
	where := "all namespaces"
	if namespace != "" {
		where = "namespace " + namespace
	}
	for _, r := range rules {
		if !wildcard(r) {
			continue
		}
		if namespace == "" {
			a.add(subjects, Everything, "the cluster", via)
			return // everything covers every check
		}
		if a.opts.sensitiveNamespace(namespace) {
			a.add(subjects, Everything, where, via)
			return
		}
	}
	for _, c := range a.checks {
		if c.clusterScoped && namespace != "" {
			continue // a RoleBinding grants nothing on cluster-scoped resources
		}
		if namespace != "" && !c.namespace(namespace) {
			continue
		}
		for _, r := range rules {
			for _, what := range c.match(r, namespace) {
				scope := what + " in " + where
				if c.clusterScoped {
					scope = what + " (cluster)"
				}
				a.add(subjects, c.can, scope, via)
			}
		}
	}
}

// relevant drops Kubernetes' own control-plane identities unless asked
// for, and fills in a service account's namespace.
func (a *auditor) relevant(subjects []rbacv1.Subject, namespace string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
			s.Namespace = namespace
		}
		s.APIGroup = ""
		if !a.opts.IncludeSystem && IsSystem(s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (a *auditor) add(subjects []rbacv1.Subject, can Capability, scope, via string) {
	for _, s := range subjects {
		key := strings.Join([]string{s.Kind, s.Namespace, s.Name, string(can), scope}, "\x00")
		f, ok := a.found[key]
		if !ok {
			f = &Finding{Subject: s, Can: can, Scope: scope}
			a.found[key] = f
		}
		if !contains(f.Via, via) {
			f.Via = append(f.Via, via)
		}
	}
}

// wildcard reports a rule that grants every verb on every resource.
func wildcard(r rbacv1.PolicyRule) bool {
	return contains(r.APIGroups, "*") && contains(r.Resources, "*") && contains(r.Verbs, "*") && len(r.ResourceNames) == 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
