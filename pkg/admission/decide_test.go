package admission

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	deployment = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	pod        = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	secret     = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	event      = schema.GroupVersionKind{Version: "v1", Kind: "Event"}
	lease      = schema.GroupVersionKind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"}
	clusterRol = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
)

func fluxLabels(extra ...string) *ObjectMeta {
	m := &ObjectMeta{Labels: map[string]string{KustomizationNameLabel: "apps-prod", KustomizationNamespaceLabel: "flux-system"}, Annotations: map[string]string{}}
	for i := 0; i+1 < len(extra); i += 2 {
		m.Annotations[extra[i]] = extra[i+1]
	}
	return m
}

// managedApp is the managed Deployment that controls a derived object.
var managedApp = &Controller{Kind: "Deployment", Namespace: "shop-prod", Name: "app", Meta: fluxLabels()}

func withLabel(m *ObjectMeta, key, value string) *ObjectMeta {
	m.Labels[key] = value
	return m
}

func plain() *ObjectMeta { return &ObjectMeta{Labels: map[string]string{"app": "shop"}} }

var enforced = map[string]string{EnforceLabel: "true"}

func lookup(ns, name string) (Owner, bool) {
	if ns == "flux-system" && name == "apps-prod" {
		return Owner{Environment: "prod", EnvironmentNamespace: "shop", Repository: "shop-fleet", Path: "overlays/prod"}, true
	}
	return Owner{}, false
}

func TestDecide(t *testing.T) {
	policy := DefaultPolicy()
	policy.TenantServiceAccounts = []string{"shop-prod:flux-applier", "*:flux"}
	policy.AllowedUsers = []string{"emergency-bot"}
	policy.AllowedGroups = []string{"platform-admins"}
	protected := policy
	protected.ProtectScale = true

	cases := []struct {
		name    string
		policy  *Policy
		req     Request
		allowed bool
		reason  Reason
		message string // a part of the denial
	}{
		// What is never intercepted.
		{"allowed: connect is not checked", nil, Request{Operation: "CONNECT", Kind: pod, User: "alice"}, true, ReasonOperation, ""},
		{"allowed: person updates only the status of a managed Deployment", nil, Request{Operation: Update, Kind: deployment, SubResource: "status", User: "alice", OldObject: fluxLabels(), Object: fluxLabels()}, true, ReasonStatus, ""},
		{"denied: person disables reconciliation through status", nil, Request{Operation: Update, Kind: deployment, SubResource: "status", Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: withLabel(fluxLabels(), ReconcileKey, ReconcileDisabled)}, false, ReasonManaged, "update of Deployment shop-prod/app/status by alice refused: it is managed by Flux Kustomization flux-system/apps-prod"},
		{"denied: person annotates through status", nil, Request{Operation: Update, Kind: deployment, SubResource: "status", Namespace: "shop-prod", Name: "app", User: "bob", OldObject: fluxLabels(), Object: fluxLabels(ReconcileKey, ReconcileDisabled)}, false, ReasonManaged, "refused"},
		{"denied: person removes the Flux label through status", nil, Request{Operation: Update, Kind: deployment, SubResource: "status", Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: plain()}, false, ReasonManaged, "refused"},
		{"allowed: person changes labels through status of an unmanaged object", nil, Request{Operation: Update, Kind: deployment, SubResource: "status", User: "alice", OldObject: plain(), Object: withLabel(plain(), "x", "y")}, true, ReasonNotManaged, ""},

		// Derived objects: decided like a change to their managed controller.
		{"denied: person sets the image of a Pod of a managed Deployment", nil, Request{Operation: Update, Kind: pod, Namespace: "shop-prod", Name: "app-1-x", User: "alice", OldObject: plain(), Object: plain(), Controller: managedApp}, false, ReasonManaged, "update of Pod shop-prod/app-1-x by alice refused: it is controlled by Deployment shop-prod/app, which is managed by Flux Kustomization flux-system/apps-prod"},
		{"denied: person adds an ephemeral container to a derived Pod", nil, Request{Operation: Update, Kind: pod, SubResource: "ephemeralcontainers", Namespace: "shop-prod", Name: "app-1-x", User: "admin", OldObject: plain(), Object: plain(), Controller: managedApp}, false, ReasonManaged, "gitgate environment prod (namespace shop) holds it"},
		{"denied: person deletes a ReplicaSet of a managed Deployment", nil, Request{Operation: Delete, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, Namespace: "shop-prod", Name: "app-1", User: "bob", OldObject: plain(), Controller: managedApp}, false, ReasonManaged, "controlled by Deployment shop-prod/app"},
		{"needs break-glass: annotated derived Pod", nil, Request{Operation: Update, Kind: pod, Namespace: "shop-prod", Name: "app-1-x", User: "bob", OldObject: plain(), Object: &ObjectMeta{Annotations: map[string]string{BreakGlassAnnotation: "INC-9"}}, Controller: managedApp}, false, ReasonBreakGlass, ""},
		{"allowed: the ReplicaSet controller changes a derived Pod", nil, Request{Operation: Update, Kind: pod, Namespace: "shop-prod", User: "system:serviceaccount:kube-system:replicaset-controller", OldObject: plain(), Controller: managedApp}, true, ReasonAllowedIdentity, ""},
		{"allowed: an operator's service account updates what its managed resource controls", nil, Request{Operation: Update, Kind: pod, Namespace: "shop-prod", User: "system:serviceaccount:monitoring:prometheus-operator", OldObject: plain(), Controller: managedApp}, true, ReasonNotManaged, ""},
		{"allowed: person deletes a Pod whose controller is not managed", nil, Request{Operation: Delete, Kind: pod, Namespace: "shop-dev", User: "alice", OldObject: plain(), Controller: &Controller{Kind: "Deployment", Namespace: "shop-dev", Name: "x", Meta: plain()}}, true, ReasonNotManaged, ""},

		// Namespaces are cluster-scoped: never "in" an enforced namespace.
		{"allowed: person deletes an enforced, unmanaged namespace", nil, Request{Operation: Delete, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Namespace: "shop-locked", Name: "shop-locked", User: "admin", OldObject: &ObjectMeta{Labels: enforced}, NamespaceLabels: enforced}, true, ReasonNotManaged, ""},
		{"denied: person deletes a managed namespace", nil, Request{Operation: Delete, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Namespace: "shop-prod", Name: "shop-prod", User: "admin", OldObject: fluxLabels()}, false, ReasonManaged, "delete of Namespace shop-prod by admin refused"},
		{"allowed: HPA-style scale of a managed Deployment", nil, Request{Operation: Update, Kind: deployment, SubResource: "scale", User: "system:serviceaccount:kube-system:horizontal-pod-autoscaler", OldObject: fluxLabels()}, true, ReasonScale, ""},
		{"allowed: person scales a managed Deployment by default", nil, Request{Operation: Update, Kind: deployment, SubResource: "scale", User: "alice", OldObject: fluxLabels()}, true, ReasonScale, ""},
		{"denied: person scales a managed Deployment when scale is protected", &protected, Request{Operation: Update, Kind: deployment, SubResource: "scale", Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels()}, false, ReasonManaged, "update of Deployment shop-prod/app/scale by alice refused"},
		{"allowed: HPA scales a protected Deployment (system identity)", &protected, Request{Operation: Update, Kind: deployment, SubResource: "scale", User: "system:serviceaccount:kube-system:horizontal-pod-autoscaler", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},

		// Who may change managed objects.
		{"allowed: kustomize-controller applies a managed Deployment", nil, Request{Operation: Update, Kind: deployment, User: "system:serviceaccount:flux-system:kustomize-controller", OldObject: fluxLabels(), Object: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: Flux prunes a managed Deployment", nil, Request{Operation: Delete, Kind: deployment, User: "system:serviceaccount:flux-system:kustomize-controller", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: impersonated tenant service account", nil, Request{Operation: Update, Kind: deployment, User: "system:serviceaccount:shop-prod:flux-applier", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: tenant service account by name in any namespace", nil, Request{Operation: Update, Kind: deployment, User: "system:serviceaccount:team-a:flux", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"denied: a tenant name in another namespace", nil, Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "system:serviceaccount:team-a:flux-applier", OldObject: fluxLabels()}, false, ReasonManaged, "by system:serviceaccount:team-a:flux-applier refused"},
		{"allowed: garbage collector deletes a managed object", nil, Request{Operation: Delete, Kind: deployment, User: "system:serviceaccount:kube-system:generic-garbage-collector", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: namespace controller deletes a managed object", nil, Request{Operation: Delete, Kind: deployment, User: "system:serviceaccount:kube-system:namespace-controller", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: the controller manager's own identity", nil, Request{Operation: Delete, Kind: deployment, User: "system:kube-controller-manager", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: a configured user", nil, Request{Operation: Update, Kind: deployment, User: "emergency-bot", OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"allowed: a member of a configured group", nil, Request{Operation: Update, Kind: deployment, User: "carol", Groups: []string{"system:authenticated", "platform-admins"}, OldObject: fluxLabels()}, true, ReasonAllowedIdentity, ""},
		{"denied: system:masters is not an applier", nil, Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "admin", Groups: []string{"system:masters"}, OldObject: fluxLabels(), Object: fluxLabels()}, false, ReasonManaged, "by admin refused"},

		// What is managed.
		{"denied: person edits a managed Deployment, told where it lives", nil, Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: fluxLabels()}, false, ReasonManaged, "gitgate environment prod (namespace shop) holds it in overlays/prod of repository shop-fleet: change it there, or promote into it with: kubectl create promotion --to prod -n shop."},
		{"denied: person deletes a managed Deployment", nil, Request{Operation: Delete, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels()}, false, ReasonManaged, "delete of Deployment shop-prod/app by alice refused"},
		{"denied: person removes the Flux label", nil, Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: plain()}, false, ReasonManaged, "managed by Flux Kustomization flux-system/apps-prod"},
		{"denied: person disables reconciliation", nil, Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: fluxLabels(ReconcileKey, ReconcileDisabled)}, false, ReasonManaged, "refused"},
		{"allowed: an object Flux no longer reconciles", nil, Request{Operation: Update, Kind: deployment, User: "alice", OldObject: fluxLabels(ReconcileKey, ReconcileDisabled)}, true, ReasonNotManaged, ""},
		{"denied: creating an object with Flux labels", nil, Request{Operation: Create, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", Object: fluxLabels()}, false, ReasonManaged, "create of Deployment"},
		{"allowed: an unlabelled Deployment in a plain namespace", nil, Request{Operation: Update, Kind: deployment, User: "alice", OldObject: plain(), Object: plain()}, true, ReasonNotManaged, ""},
		{"denied: a HelmRelease's object names the release", nil, Request{Operation: Update, Kind: deployment, Namespace: "db", Name: "pg", User: "alice", OldObject: &ObjectMeta{Labels: map[string]string{HelmReleaseNameLabel: "pg", HelmReleaseNamespaceLabel: "db"}}}, false, ReasonManaged, "managed by Flux HelmRelease db/pg"},
		{"denied: no environment known: commit to the repository", nil, Request{Operation: Update, Kind: deployment, Namespace: "x", Name: "y", User: "alice", OldObject: &ObjectMeta{Labels: map[string]string{KustomizationNameLabel: "other", KustomizationNamespaceLabel: "flux-system"}}}, false, ReasonManaged, "Commit the change to the Git repository that Flux applies it from."},
		{"denied: a managed cluster-scoped object", nil, Request{Operation: Update, Kind: clusterRol, Name: "view-shop", User: "alice", OldObject: fluxLabels()}, false, ReasonManaged, "ClusterRole view-shop"},
		{"allowed: an unlabelled cluster-scoped object", nil, Request{Operation: Update, Kind: clusterRol, Name: "mine", User: "alice", OldObject: plain()}, true, ReasonNotManaged, ""},

		// Enforced namespaces.
		{"denied: person creates an unlabelled Deployment in an enforced namespace", nil, Request{Operation: Create, Kind: deployment, Namespace: "shop-prod", Name: "x", User: "alice", Object: plain(), NamespaceLabels: enforced}, false, ReasonManaged, "namespace shop-prod is enforced (gitgate.dev/enforce=true)"},
		{"denied: person's kubectl run in an enforced namespace", nil, Request{Operation: Create, Kind: pod, Namespace: "shop-prod", Name: "debug", User: "alice", Object: &ObjectMeta{}, NamespaceLabels: enforced}, false, ReasonManaged, "create of Pod shop-prod/debug"},
		{"allowed: the ReplicaSet controller creates pods in an enforced namespace", nil, Request{Operation: Create, Kind: pod, Namespace: "shop-prod", User: "system:serviceaccount:kube-system:replicaset-controller", Object: &ObjectMeta{}, NamespaceLabels: enforced}, true, ReasonAllowedIdentity, ""},
		{"allowed: Events in an enforced namespace", nil, Request{Operation: Create, Kind: event, Namespace: "shop-prod", User: "alice", Object: &ObjectMeta{}, NamespaceLabels: enforced}, true, ReasonNotManaged, ""},
		{"allowed: events.k8s.io Events in an enforced namespace", nil, Request{Operation: Create, Kind: schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}, Namespace: "shop-prod", User: "alice", Object: &ObjectMeta{}, NamespaceLabels: enforced}, true, ReasonNotManaged, ""},
		{"allowed: Leases in an enforced namespace", nil, Request{Operation: Update, Kind: lease, Namespace: "shop-prod", User: "alice", OldObject: &ObjectMeta{}, NamespaceLabels: enforced}, true, ReasonNotManaged, ""},
		{"denied: a plain Secret in an enforced namespace points at sealing", nil, Request{Operation: Create, Kind: secret, Namespace: "shop-prod", Name: "db", User: "alice", Object: &ObjectMeta{}, NamespaceLabels: enforced}, false, ReasonManaged, "Secrets reach Git only sealed: kubectl gitgate seal."},
		{"allowed: the enforce label with another value", nil, Request{Operation: Create, Kind: pod, Namespace: "shop-prod", User: "alice", Object: &ObjectMeta{}, NamespaceLabels: map[string]string{EnforceLabel: "false"}}, true, ReasonNotManaged, ""},

		// Break-glass.
		{"break-glass: an annotated edit waits for the breakglass verb", nil, Request{Operation: Update, Kind: deployment, User: "bob", OldObject: fluxLabels(), Object: fluxLabels(BreakGlassAnnotation, "INC-42 hotfix")}, false, ReasonBreakGlass, ""},
		{"break-glass: a delete reads the stored object's annotation", nil, Request{Operation: Delete, Kind: deployment, User: "bob", OldObject: fluxLabels(BreakGlassAnnotation, "INC-43")}, false, ReasonBreakGlass, ""},
		{"denied: an empty break-glass reason does not count", nil, Request{Operation: Update, Kind: deployment, Namespace: "a", Name: "b", User: "bob", OldObject: fluxLabels(), Object: fluxLabels(BreakGlassAnnotation, "  ")}, false, ReasonManaged, "break-glass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &policy
			if tc.policy != nil {
				p = tc.policy
			}
			v := p.Decide(&tc.req, lookup)
			if v.Allowed != tc.allowed || v.Reason != tc.reason {
				t.Fatalf("Decide() = allowed %v, %s (%q); want allowed %v, %s", v.Allowed, v.Reason, v.Message, tc.allowed, tc.reason)
			}
			if tc.reason == ReasonBreakGlass && (!v.NeedsBreakGlass || v.BreakGlassNote == "") {
				t.Fatalf("break-glass verdict without its note: %+v", v)
			}
			if !tc.allowed && tc.reason == ReasonManaged && !strings.Contains(v.Message, tc.message) {
				t.Fatalf("message %q\ndoes not contain %q", v.Message, tc.message)
			}
		})
	}
}

func TestDenialMessageInFull(t *testing.T) {
	p := DefaultPolicy()
	v := p.Decide(&Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "admin",
		OldObject: fluxLabels(), Object: fluxLabels()}, lookup)
	want := "gitgate: update of Deployment shop-prod/app by admin refused: it is managed by Flux Kustomization flux-system/apps-prod, so changes come from Git." +
		" gitgate environment prod (namespace shop) holds it in overlays/prod of repository shop-fleet: change it there, or promote into it with: kubectl create promotion --to prod -n shop." +
		` In an emergency, a user allowed the breakglass verb may annotate the object with gitgate.dev/break-glass="<reason>".`
	if v.Message != want {
		t.Fatalf("message:\n%s\nwant:\n%s", v.Message, want)
	}
}

// BenchmarkDecide measures one decision with zero API calls, for a managed
// object, an unmanaged one, and an allowed identity.
func BenchmarkDecide(b *testing.B) {
	p := DefaultPolicy()
	for _, bc := range []struct {
		name string
		req  Request
	}{
		{"managed", Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: fluxLabels(), Object: fluxLabels()}},
		{"unmanaged", Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "alice", OldObject: plain(), Object: plain()}},
		{"allowed-identity", Request{Operation: Update, Kind: deployment, Namespace: "shop-prod", Name: "app", User: "system:serviceaccount:flux-system:kustomize-controller", OldObject: fluxLabels(), Object: fluxLabels()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = p.Decide(&bc.req, lookup)
			}
		})
	}
}
