package rbacaudit

import (
	"fmt"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rule(groups, resources, verbs []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
}

func l(s ...string) []string { return s }

func role(ns, name string, rules ...rbacv1.PolicyRule) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

// binding binds subjects written "User:alice", "Group:g", "ServiceAccount:ns/name".
func binding(ns, name, roleKind, roleName string, subjects ...string) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: roleName}, Subjects: subjectList(subjects)}
}

func clusterBinding(name, roleName string, subjects ...string) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName}, Subjects: subjectList(subjects)}
}

func subjectList(subjects []string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, s := range subjects {
		kind, name, _ := strings.Cut(s, ":")
		sub := rbacv1.Subject{Kind: kind, Name: name}
		if kind == rbacv1.ServiceAccountKind {
			sub.Namespace, sub.Name, _ = strings.Cut(name, "/")
		} else {
			sub.APIGroup = rbacv1.GroupName
		}
		out = append(out, sub)
	}
	return out
}

func rows(findings []Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, fmt.Sprintf("%s %s %s: %s", f.Subject.Kind, SubjectString(f.Subject), f.Can, f.Scope))
	}
	return out
}

var clusterAdmin = clusterRole("cluster-admin", rule(l("*"), l("*"), l("*")))

func TestAudit(t *testing.T) {
	shop := Options{Namespaces: l("shop"), ApplierNamespaces: l("flux-system"), GitgateNamespace: "gitgate-system"}
	withTenant := shop
	withTenant.TenantServiceAccounts = l("*:gitops")
	withSystem := shop
	withSystem.IncludeSystem = true
	tests := []struct {
		name   string
		policy Policy
		opts   Options
		want   []string
	}{
		{"found: release managers hold breakglass on prod only",
			Policy{Roles: []rbacv1.Role{role("shop", "rm", rule(l("gitgate.dev"), l("environments"), l("promote", "breakglass"), "prod"))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "rm", "Role", "rm", "Group:shop-release-managers")}},
			shop, l("Group shop-release-managers breakglass: environments prod in namespace shop")},
		{"found: breakglass on each environment a rule names, a line each",
			Policy{Roles: []rbacv1.Role{role("shop", "rm", rule(l("gitgate.dev"), l("environments"), l("breakglass"), "test", "prod"))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "rm", "Role", "rm", "Group:shop-release-managers")}},
			shop, l("Group shop-release-managers breakglass: environments prod in namespace shop",
				"Group shop-release-managers breakglass: environments test in namespace shop")},
		{"not found: promote and seal are no way around the promise",
			Policy{Roles: []rbacv1.Role{role("shop", "dev", rule(l("gitgate.dev"), l("environments"), l("promote", "seal"), "dev"),
				rule(l("gitgate.dev"), l("promotions", "environments/sealedsecrets"), l("create")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "dev", "Role", "dev", "Group:shop-developers")}},
			shop, nil},
		{"found: breakglass, freeze and approve through a verb wildcard on every environment",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("gg", rule(l("gitgate.dev"), l("environments"), l("*")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "gg", "ClusterRole", "gg", "User:carol")}},
			shop, l("User carol edit-environments: environments in namespace shop", "User carol breakglass: environments in namespace shop",
				"User carol freeze: environments in namespace shop", "User carol approve: environments in namespace shop")},
		{"found: release managers freeze and approve every environment their rule names, a line each",
			Policy{Roles: []rbacv1.Role{role("shop", "rm", rule(l("gitgate.dev"), l("environments"), l("promote", "freeze", "approve"), "test", "prod"),
				rule(l("gitgate.dev"), l("environments/freeze", "promotions/approval"), l("create")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "rm", "Role", "rm", "Group:shop-release-managers")}},
			shop, l("Group shop-release-managers freeze: environments prod in namespace shop",
				"Group shop-release-managers freeze: environments test in namespace shop",
				"Group shop-release-managers approve: environments prod in namespace shop",
				"Group shop-release-managers approve: environments test in namespace shop")},
		{"found: developers approve into dev alone, and freeze nothing",
			Policy{Roles: []rbacv1.Role{role("shop", "dev", rule(l("gitgate.dev"), l("environments"), l("promote", "seal", "approve"), "dev"))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "dev", "Role", "dev", "Group:shop-developers")}},
			shop, l("Group shop-developers approve: environments dev in namespace shop")},
		{"not found: freeze and approve granted in another namespace, or on another group's environments",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("gov", rule(l("gitgate.dev"), l("environments"), l("freeze", "approve"))),
				clusterRole("lookalike", rule(l("example.com"), l("environments"), l("freeze", "approve")))},
				RoleBindings: []rbacv1.RoleBinding{binding("other", "gov", "ClusterRole", "gov", "User:carol"),
					binding("shop", "lookalike", "ClusterRole", "lookalike", "User:dora")}},
			shop, nil},
		{"not found: breakglass granted in another namespace",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("gg", rule(l("gitgate.dev"), l("environments"), l("breakglass")))},
				RoleBindings: []rbacv1.RoleBinding{binding("other", "gg", "ClusterRole", "gg", "User:carol")}},
			shop, nil},
		{"found: the Flux controllers are cluster-admin",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterAdmin},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("cluster-reconciler", "cluster-admin",
					"ServiceAccount:flux-system/kustomize-controller", "ServiceAccount:flux-system/source-controller")}},
			shop, l("ServiceAccount flux-system/kustomize-controller everything: the cluster", "ServiceAccount flux-system/source-controller everything: the cluster")},
		{"found: cluster-admin bound in the audited namespace is everything there",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterAdmin},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "x", "ClusterRole", "cluster-admin", "User:dave"),
					binding("elsewhere", "x", "ClusterRole", "cluster-admin", "User:erin")}},
			shop, l("User dave everything: namespace shop")},
		{"found: alice may impersonate flux-system's kustomize-controller",
			Policy{Roles: []rbacv1.Role{role("flux-system", "imp", rule(l(""), l("serviceaccounts"), l("impersonate"), "kustomize-controller"))},
				RoleBindings: []rbacv1.RoleBinding{binding("flux-system", "imp", "Role", "imp", "User:alice")}},
			shop, l("User alice impersonate: serviceaccounts kustomize-controller in namespace flux-system")},
		{"not found: impersonating an ordinary service account of the namespace",
			Policy{Roles: []rbacv1.Role{role("shop", "imp", rule(l(""), l("serviceaccounts"), l("impersonate")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "imp", "Role", "imp", "User:alice")}},
			shop, nil},
		{"found: impersonating the tenant service account Flux uses",
			Policy{Roles: []rbacv1.Role{role("shop", "imp", rule(l(""), l("serviceaccounts"), l("impersonate"), "default", "gitops"))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "imp", "Role", "imp", "User:alice")}},
			withTenant, l("User alice impersonate: serviceaccounts gitops in namespace shop")},
		{"found: impersonating system:masters or the controller manager, not an ordinary user",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("imp",
				rule(l(""), l("groups"), l("impersonate"), "system:masters", "team"),
				rule(l(""), l("users"), l("impersonate"), "system:kube-controller-manager", "bob"))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("imp", "imp", "User:mallory")}},
			shop, l("User mallory impersonate: groups system:masters (cluster)", "User mallory impersonate: users system:kube-controller-manager (cluster)")},
		{"found: impersonating anyone anywhere",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("imp", rule(l(""), l("users", "groups", "serviceaccounts"), l("impersonate")))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("imp", "imp", "Group:ops")}},
			shop, l("Group ops impersonate: groups (cluster)", "Group ops impersonate: serviceaccounts in all namespaces", "Group ops impersonate: users (cluster)")},
		{"found: tokens for the appliers",
			Policy{Roles: []rbacv1.Role{role("flux-system", "tok", rule(l(""), l("serviceaccounts/token"), l("create")))},
				RoleBindings: []rbacv1.RoleBinding{binding("flux-system", "tok", "Role", "tok", "ServiceAccount:ci/deployer")}},
			shop, l("ServiceAccount ci/deployer create-token: serviceaccounts/token in namespace flux-system")},
		{"found: exec into and pods in flux-system run as the applier",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("edit", rule(l(""), l("pods", "pods/exec", "configmaps"), l("create", "delete")))},
				RoleBindings: []rbacv1.RoleBinding{binding("flux-system", "edit", "ClusterRole", "edit", "Group:platform"),
					binding("shop", "edit", "ClusterRole", "edit", "Group:shop-developers")}},
			shop, l("Group platform run-as-trusted: pods,pods/exec in namespace flux-system")},
		{"found: pods in a namespace whose tenant service account Flux impersonates",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("edit", rule(l("apps"), l("deployments"), l("create", "patch")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "edit", "ClusterRole", "edit", "Group:shop-developers")}},
			withTenant, l("Group shop-developers run-as-trusted: deployments in namespace shop")},
		{"found: status writers of deployments, and of everything through a resource wildcard",
			Policy{ClusterRoles: []rbacv1.ClusterRole{
				clusterRole("st", rule(l("apps"), l("deployments/status", "deployments"), l("patch"))),
				clusterRole("any", rule(l("*"), l("*"), l("get", "update")))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "st", "ClusterRole", "st", "User:sam"), binding("shop", "any", "ClusterRole", "any", "User:una")}},
			shop, l("User sam write-status: deployments/status in namespace shop",
				"User una edit-environments: environments in namespace shop",
				"User una write-status: */status in namespace shop",
				"User una edit-namespace: namespaces in namespace shop",
				"User una edit-flux: gitrepositories,ocirepositories,buckets,helmrepositories,helmcharts,kustomizations,helmreleases in namespace shop")},
		{"found: the namespace's own labels, by a RoleBinding naming it",
			Policy{Roles: []rbacv1.Role{role("shop", "ns", rule(l(""), l("namespaces"), l("patch"), "shop")),
				role("shop", "other", rule(l(""), l("namespaces"), l("patch"), "other"))},
				RoleBindings: []rbacv1.RoleBinding{binding("shop", "ns", "Role", "ns", "User:nina"), binding("shop", "other", "Role", "other", "User:otto")}},
			shop, l("User nina edit-namespace: namespaces shop in namespace shop")},
		{"found: the webhook configuration and the APIService, only through a ClusterRoleBinding",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("adm",
				rule(l("admissionregistration.k8s.io"), l("validatingwebhookconfigurations"), l("patch")),
				rule(l("apiregistration.k8s.io"), l("apiservices"), l("delete"), "v1alpha1.gitgate.dev"))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("adm", "adm", "User:wes")},
				RoleBindings:        []rbacv1.RoleBinding{binding("shop", "adm", "ClusterRole", "adm", "User:rita")}},
			shop, l("User wes edit-admission: apiservices v1alpha1.gitgate.dev (cluster)", "User wes edit-admission: validatingwebhookconfigurations (cluster)")},
		{"found: Flux's GitRepository in flux-system and Git credentials in gitgate-system",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("src", rule(l("source.toolkit.fluxcd.io"), l("gitrepositories"), l("update"))),
				clusterRole("sec", rule(l(""), l("secrets"), l("get")))},
				RoleBindings: []rbacv1.RoleBinding{binding("flux-system", "src", "ClusterRole", "src", "User:fay"),
					binding("gitgate-system", "sec", "ClusterRole", "sec", "User:gus"), binding("shop", "sec", "ClusterRole", "sec", "User:hal")}},
			shop, l("User fay edit-flux: gitrepositories in namespace flux-system", "User gus read-git-credentials: secrets in namespace gitgate-system")},
		{"found: binding roles in the applier namespace",
			Policy{Roles: []rbacv1.Role{role("flux-system", "rb", rule(l("rbac.authorization.k8s.io"), l("clusterroles"), l("bind"), "cluster-admin"))},
				RoleBindings: []rbacv1.RoleBinding{binding("flux-system", "rb", "Role", "rb", "User:ivy")}},
			shop, l("User ivy escalate: clusterroles cluster-admin in namespace flux-system")},
		{"not found: kube-system's controllers, unless asked for",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("gc", rule(l("*"), l("*"), l("patch", "update", "delete")))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("gc", "gc", "ServiceAccount:kube-system/generic-garbage-collector", "User:system:kube-controller-manager")}},
			shop, nil},
		{"found: kube-system's controllers when asked for",
			Policy{ClusterRoles: []rbacv1.ClusterRole{clusterRole("gc", rule(l("*"), l("*/status"), l("patch")))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterBinding("gc", "gc", "ServiceAccount:kube-system/generic-garbage-collector")}},
			withSystem, l("ServiceAccount kube-system/generic-garbage-collector write-status: */status in all namespaces")},
		{"not found: a binding to a role that does not exist",
			Policy{RoleBindings: []rbacv1.RoleBinding{binding("shop", "x", "Role", "missing", "User:zed")}},
			shop, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rows(Audit(tt.policy, tt.opts))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestAuditNamesEachBinding(t *testing.T) {
	policy := Policy{
		ClusterRoles: []rbacv1.ClusterRole{clusterRole("bg", rule(l("gitgate.dev"), l("environments"), l("breakglass")))},
		RoleBindings: []rbacv1.RoleBinding{binding("shop", "b1", "ClusterRole", "bg", "User:bob"), binding("shop", "b2", "ClusterRole", "bg", "User:bob")},
	}
	got := Audit(policy, Options{Namespaces: l("shop")})
	if len(got) != 1 || strings.Join(got[0].Via, "; ") != "RoleBinding shop/b1 (ClusterRole bg); RoleBinding shop/b2 (ClusterRole bg)" {
		t.Fatalf("want one finding through both bindings, got %+v", got)
	}
}

func TestExpectations(t *testing.T) {
	bob := Finding{Subject: rbacv1.Subject{Kind: "Group", Name: "shop-release-managers"}, Can: BreakGlass}
	flux := Finding{Subject: rbacv1.Subject{Kind: "ServiceAccount", Namespace: "flux-system", Name: "kustomize-controller"}, Can: Everything}
	alice := Finding{Subject: rbacv1.Subject{Kind: "User", Name: "alice"}, Can: Impersonate}
	tests := []struct {
		name, allow string
		finding     Finding
		want        bool
	}{
		{"covered: a group by kind and name", "Group:shop-release-managers", bob, true},
		{"covered: a name of any kind", "shop-release-managers", bob, true},
		{"not covered: a user of the group's name", "User:shop-release-managers", bob, false},
		{"covered: every service account of flux-system", "ServiceAccount:flux-system/*", flux, true},
		{"not covered: service accounts of another namespace", "ServiceAccount:shop/*", flux, false},
		{"covered: a user glob", "User:ali*", alice, true},
		{"not covered: someone else", "User:bob", alice, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpectation(tt.allow)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Covers(tt.finding); got != tt.want {
				t.Fatalf("%q covers %+v: %v, want %v", tt.allow, tt.finding.Subject, got, tt.want)
			}
		})
	}
	t.Run("covered only for the capabilities named", func(t *testing.T) {
		e := Expectation{Kind: "Group", Name: "shop-release-managers", Can: []Capability{BreakGlass}}
		other := bob
		other.Can = Impersonate
		unexpected := Compare([]Finding{bob, other}, []Expectation{e})
		if len(unexpected) != 1 || unexpected[0].Can != Impersonate {
			t.Fatalf("unexpected %+v, want only the impersonation", unexpected)
		}
	})
	for _, bad := range []string{"ServiceAccount:flux-system", "User:[", "User:"} {
		t.Run("refused: "+bad, func(t *testing.T) {
			if _, err := ParseExpectation(bad); err == nil {
				t.Fatalf("%q parsed, want an error", bad)
			}
		})
	}
}
