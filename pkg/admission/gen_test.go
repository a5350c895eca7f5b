package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The generated requests of the fuzz and filter tests: a small world where
// every choice is one byte of the fuzzer's input.

// genUser is a requester, and whether the policy of genPolicy lets it
// change managed objects: said here independently of allowedIdentity.
type genUser struct {
	name    string
	groups  []string
	allowed bool
}

var genUsers = []genUser{
	{"alice", []string{"shop-developers", "system:authenticated"}, false},
	{"bob", []string{"shop-release-managers", "system:authenticated"}, false},
	{"admin", []string{"system:masters", "system:authenticated"}, false},
	{"system:serviceaccount:flux-system:kustomize-controller", []string{"system:serviceaccounts"}, true},
	{"system:serviceaccount:kube-system:generic-garbage-collector", nil, true},
	{"system:kube-controller-manager", nil, true},
	{"system:node:node-1", []string{"system:nodes"}, true},
	{"system:serviceaccount:team-a:flux", nil, true},        // tenant *:flux
	{"system:serviceaccount:shop-prod:applier", nil, true},  // tenant shop-prod:applier
	{"system:serviceaccount:team-a:applier", nil, false},    // the tenant name, another namespace
	{"system:serviceaccount:kube-systemx:evil", nil, false}, // a look-alike namespace
	{"ops-bot", nil, true},                              // allowed user
	{"carol", []string{"platform-admins"}, true},        // allowed group
	{"mallory", []string{"platform-admins-not"}, false}, // a look-alike group
	{"system:serviceaccount:gitgate-system:gitgate", nil, false},
}

type genKind struct {
	gvk        schema.GroupVersionKind
	resource   string
	namespaced bool
}

var genKinds = []genKind{
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "pods", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, "replicasets", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Event"}, "events", true},
	{schema.GroupVersionKind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"}, "leases", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "clusterroles", false},
	{schema.GroupVersionKind{Group: "gitgate.dev", Version: "v1alpha1", Kind: "Environment"}, "environments", true},
}

var (
	genOperations   = []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect}
	genSubresources = []string{"", "", "status", "scale", "ephemeralcontainers", "exec", "eviction"}
	// genNamespaces: unlabelled, enforced, excluded, and one whose labels
	// cannot be read.
	genNamespaces = []string{"shop-prod", "shop-locked", "kube-system", "unreadable"}
	// genControllers name the ReplicaSets of genMetadata.
	genControllers = []string{"", "managed-rs", "plain-rs", "gone-rs", "broken-rs"}
	genNotes       = []string{"", "INC-7 hotfix", "   "}
)

// genExcluded are the namespaces the rendered filters exclude.
var genExcluded = []string{"kube-system", "kube-public", "kube-node-lease", "flux-system", "gitgate-system"}

func genPolicy(protectScale bool) Policy {
	p := DefaultPolicy()
	p.TenantServiceAccounts = []string{"*:flux", "shop-prod:applier"}
	p.AllowedUsers = []string{"ops-bot"}
	p.AllowedGroups = []string{"platform-admins"}
	p.ProtectScale = protectScale
	return p
}

// genMeta is one object's metadata, from the bits of b:
// 0-1 managed key (none, Kustomization, HelmRelease, another label),
// 2-3 reconcile disabled (no, label, annotation), 4-5 break-glass note,
// 6-7 controller.
type genMeta struct {
	key, disabled, note, controller int
}

func newGenMeta(b byte) genMeta {
	return genMeta{key: int(b & 3), disabled: int(b>>2&3) % 3, note: int(b>>4&3) % len(genNotes), controller: int(b>>6&3) + 1}
}

// noController is genMeta with no controller at all.
func (m genMeta) noController() genMeta { m.controller = 0; return m }

func (m genMeta) managed() bool { return (m.key == 1 || m.key == 2) && m.disabled == 0 }

func (m genMeta) object() map[string]any {
	labels, annotations := map[string]any{"app": "app"}, map[string]any{}
	switch m.key {
	case 1:
		labels[KustomizationNameLabel], labels[KustomizationNamespaceLabel] = "apps-prod", "flux-system"
	case 2:
		labels[HelmReleaseNameLabel], labels[HelmReleaseNamespaceLabel] = "app", "shop-prod"
	case 3:
		labels["team"] = "shop"
	}
	switch m.disabled {
	case 1:
		labels[ReconcileKey] = ReconcileDisabled
	case 2:
		annotations[ReconcileKey] = ReconcileDisabled
	}
	if note := genNotes[m.note]; note != "" {
		annotations[BreakGlassAnnotation] = note
	}
	meta := map[string]any{"labels": labels, "annotations": annotations}
	if c := genControllers[m.controller]; c != "" {
		meta["ownerReferences"] = []any{
			map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "not-a-controller", "uid": "1"},
			map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": c, "uid": "2", "controller": true},
		}
	}
	return map[string]any{"metadata": meta}
}

// genMetadata is the cache of controllers: managed-rs belongs to the
// managed Deployment app, plain-rs to an unmanaged one.
func genMetadata(_ context.Context, apiVersion, kind, _, name string) (*ObjectMeta, error) {
	switch kind + "/" + name {
	case "ReplicaSet/managed-rs":
		return &ObjectMeta{Labels: map[string]string{"pod-template-hash": "1"}, Controller: &OwnerRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "app"}}, nil
	case "ReplicaSet/plain-rs":
		return &ObjectMeta{Controller: &OwnerRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "plain"}}, nil
	case "Deployment/app":
		return fluxLabels(), nil
	case "Deployment/plain":
		return plain(), nil
	case "ReplicaSet/broken-rs":
		return nil, errors.New("the replicasets cache did not sync")
	}
	return nil, nil
}

func genNamespaceLabels(_ context.Context, ns string) (map[string]string, error) {
	switch ns {
	case "shop-locked":
		return map[string]string{EnforceLabel: "true", "kubernetes.io/metadata.name": ns}, nil
	case "unreadable":
		return nil, errors.New("namespaces \"unreadable\" is forbidden")
	}
	return map[string]string{"kubernetes.io/metadata.name": ns}, nil
}

// genRequest is one generated request.
type genRequest struct {
	op           admissionv1.Operation
	sub          string
	user         genUser
	kind         genKind
	namespace    string // of the request; a Namespace's own name on UPDATE and DELETE
	objNamespace string // where a namespaced object lives
	old, cur     genMeta
	protectScale bool
	review       *admissionv1.AdmissionRequest
}

// newGenRequest builds a request from the fuzzer's bytes.
func newGenRequest(op, sub, user, kind, ns, old, cur, flags byte) *genRequest {
	g := &genRequest{
		op: genOperations[int(op)%len(genOperations)], sub: genSubresources[int(sub)%len(genSubresources)],
		user: genUsers[int(user)%len(genUsers)], kind: genKinds[int(kind)%len(genKinds)],
		objNamespace: genNamespaces[int(ns)%len(genNamespaces)], old: newGenMeta(old), cur: newGenMeta(cur),
		protectScale: flags&1 == 1,
	}
	if g.kind.gvk.Kind == "Namespace" && g.sub != "status" {
		g.sub = "" // namespaces have no other subresource to change them
	}
	switch { // the operations each subresource really has
	case g.sub == "exec":
		g.op = admissionv1.Connect
	case g.sub == "eviction":
		g.op = admissionv1.Create
	case g.sub != "" && g.op != admissionv1.Connect:
		g.op = admissionv1.Update
	}
	if flags&2 == 0 { // mostly, an update keeps the controller
		g.cur.controller = g.old.controller
	}
	if flags&4 == 0 {
		g.old, g.cur = g.old.noController(), g.cur.noController()
	}
	name := "app"
	switch {
	case g.kind.gvk.Kind == "Namespace":
		name = g.objNamespace
		if g.op != admissionv1.Create {
			g.namespace = name
		}
	case g.kind.namespaced:
		g.namespace = g.objNamespace
	}
	raw := func(m genMeta, namespace string) runtime.RawExtension {
		o := m.object()
		md := o["metadata"].(map[string]any)
		md["name"] = name
		if namespace != "" && g.kind.gvk.Kind != "Namespace" {
			md["namespace"] = namespace
		}
		if g.sub == "scale" || g.sub == "eviction" { // a Scale or an Eviction carries no labels of its parent
			o = map[string]any{"metadata": map[string]any{"name": name, "namespace": namespace}}
		}
		b, _ := json.Marshal(o)
		return runtime.RawExtension{Raw: b}
	}
	gvk, resource := g.kind.gvk, g.kind.resource
	switch g.sub {
	case "scale":
		gvk = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
	case "eviction":
		gvk = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}
	}
	g.review = &admissionv1.AdmissionRequest{
		UID: "uid-1", Operation: g.op, Name: name, Namespace: g.namespace, SubResource: g.sub,
		Kind:     metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Resource: metav1.GroupVersionResource{Group: g.kind.gvk.Group, Version: g.kind.gvk.Version, Resource: resource},
		UserInfo: authenticationv1.UserInfo{Username: g.user.name, Groups: g.user.groups},
	}
	switch g.op {
	case admissionv1.Create:
		g.review.Object = raw(g.cur, g.namespace)
	case admissionv1.Update:
		g.review.Object, g.review.OldObject = raw(g.cur, g.namespace), raw(g.old, g.namespace)
	case admissionv1.Delete:
		g.review.OldObject = raw(g.old, g.namespace)
	case admissionv1.Connect:
		g.review.Object = runtime.RawExtension{Raw: []byte(`{"kind":"PodExecOptions","apiVersion":"v1"}`)}
	}
	return g
}

func (g *genRequest) String() string {
	return fmt.Sprintf("%s %s/%s (%s) in %q by %s; old %+v, new %+v, protectScale %v",
		g.op, g.kind.resource, g.sub, g.kind.gvk.Kind, g.namespace, g.user.name, g.old, g.cur, g.protectScale)
}

// deciding is the metadata the policy reads: the new object on CREATE, the
// stored one otherwise.
func (g *genRequest) deciding() genMeta {
	if g.op == admissionv1.Create {
		return g.cur
	}
	return g.old
}

// guarded says, without asking the policy, whether this request is a
// person's change of a managed object (directly or through its
// controller): one that only an authorized break-glass may pass.
func (g *genRequest) guarded() bool {
	if g.op == admissionv1.Connect || g.user.allowed || g.kind.gvk.Group == "gitgate.dev" {
		return false
	}
	switch g.sub {
	case "exec", "eviction":
		return false
	case "scale":
		if !g.protectScale {
			return false
		}
	case "status":
		if g.op == admissionv1.Update && sameMeta(g.old, g.cur) {
			return false
		}
	}
	m := g.deciding()
	if m.managed() {
		return true
	}
	if strings.HasPrefix(g.user.name, "system:serviceaccount:") || !g.kind.namespaced {
		return false // derived objects: namespaced ones, guarded against people
	}
	if g.sub == "scale" { // the parent's stored metadata is all there is
		return genControllers[g.old.controller] == "managed-rs"
	}
	// Derived: the stored or the new object is controlled by managed-rs.
	return (g.op != admissionv1.Create && genControllers[g.old.controller] == "managed-rs") ||
		(g.op != admissionv1.Delete && genControllers[g.cur.controller] == "managed-rs")
}

func sameMeta(a, b genMeta) bool {
	a.controller, b.controller = 0, 0
	return a == b
}

// breakGlassByBob: only bob holds breakglass (on prod, which holds apps-prod).
func (g *genRequest) breakGlassByBob() bool {
	m := g.cur
	if g.op == admissionv1.Delete || g.sub == "scale" { // a Scale carries its parent's stored annotations
		m = g.old
	}
	return g.user.name == "bob" && strings.TrimSpace(genNotes[m.note]) != ""
}
