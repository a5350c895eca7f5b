package admission

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sadmission "k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/namespace"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/object"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"
)

// filters evaluates the rendered webhook entries the way kube-apiserver
// does before calling a webhook, with its own matchers: rules, namespace
// and object selectors, matchConditions (its CEL environment).
type filters struct {
	accessors  []webhook.WebhookAccessor
	compiler   cel.ConditionCompiler
	namespaces *namespace.Matcher
}

func newFilters(t testing.TB, p Policy) *filters {
	t.Helper()
	// Through YAML, as kube-apiserver would read the rendered file.
	out, err := RenderWebhook(p, WebhookOptions{ExcludedNamespaces: genExcluded})
	if err != nil {
		t.Fatal(err)
	}
	var config admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(out, &config); err != nil {
		t.Fatal(err)
	}
	f := &filters{compiler: cel.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))}
	for i := range config.Webhooks {
		f.accessors = append(f.accessors, webhook.NewValidatingWebhookAccessor(config.Webhooks[i].Name, config.Name, &config.Webhooks[i]))
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, ns := range genNamespaces {
		labels, err := genNamespaceLabels(context.Background(), ns)
		if err != nil {
			labels = map[string]string{"kubernetes.io/metadata.name": ns}
		}
		if err := indexer.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	f.namespaces = &namespace.Matcher{NamespaceLister: corelisters.NewNamespaceLister(indexer)}
	return f
}

// calls returns the entries kube-apiserver would call for a request; an
// error in a matchCondition is returned, as kube-apiserver refuses then.
func (f *filters) calls(t testing.TB, ar *admissionv1.AdmissionRequest) []string {
	t.Helper()
	decode := func(raw runtime.RawExtension) runtime.Object {
		if len(raw.Raw) == 0 {
			return nil
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(raw.Raw, &u.Object); err != nil {
			t.Fatal(err)
		}
		return u
	}
	obj, old := decode(ar.Object), decode(ar.OldObject)
	kind := schema.GroupVersionKind{Group: ar.Kind.Group, Version: ar.Kind.Version, Kind: ar.Kind.Kind}
	resource := schema.GroupVersionResource{Group: ar.Resource.Group, Version: ar.Resource.Version, Resource: ar.Resource.Resource}
	attr := k8sadmission.NewAttributesRecord(obj, old, kind, ar.Namespace, ar.Name, resource, ar.SubResource,
		k8sadmission.Operation(ar.Operation), nil, false, &user.DefaultInfo{Name: ar.UserInfo.Username, Groups: ar.UserInfo.Groups})
	versioned := &k8sadmission.VersionedAttributes{Attributes: attr, VersionedKind: kind}
	if obj != nil {
		versioned.VersionedObject.Set(obj)
	}
	if old != nil {
		versioned.VersionedOldObject.Set(old)
	}
	var called []string
	for _, h := range f.accessors {
		matched := false
		for _, r := range h.GetRules() {
			if (&rules.Matcher{Rule: r, Attr: attr}).Matches() {
				matched = true
			}
		}
		if !matched {
			continue
		}
		if ok, err := f.namespaces.MatchNamespaceSelector(h, attr); err != nil || !ok {
			if err != nil {
				t.Fatalf("namespace selector of %s: %v", h.GetName(), err)
			}
			continue
		}
		if ok, err := (&object.Matcher{}).MatchObjectSelector(h, attr); err != nil || !ok {
			continue
		}
		result := h.GetCompiledMatcher(f.compiler).Match(context.Background(), versioned, nil, nil)
		if result.Error != nil {
			t.Fatalf("matchConditions of %s fail (kube-apiserver would refuse every such request): %v", h.GetName(), result.Error)
		}
		if result.Matches {
			called = append(called, h.GetName())
		}
	}
	return called
}

// FuzzWebhookFilters checks the rendered filters against the webhook
// itself: every request the webhook refuses reaches it (outside the excluded
// namespaces and gitgate.dev's own API), no request reaches it twice, and no
// matchCondition fails to evaluate.
func FuzzWebhookFilters(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	plainFilters, scaleFilters := newFilters(f, genPolicy(false)), newFilters(f, genPolicy(true))
	f.Fuzz(func(t *testing.T, op, sub, user, kind, ns, old, cur, flags byte) {
		g := newGenRequest(op, sub, user, kind, ns, old, cur, flags)
		fl := plainFilters
		if g.protectScale {
			fl = scaleFilters
		}
		called := fl.calls(t, g.review)
		if len(called) > 1 {
			t.Fatalf("%s: called %d times: %v", g, len(called), called)
		}
		var reason Reason
		h := &Handler{Policy: genPolicy(g.protectScale), Owners: lookup, NamespaceLabels: genNamespaceLabels, Metadata: genMetadata,
			Observe: func(v Verdict) { reason = v.Reason },
			ParentMeta: func(context.Context, schema.GroupVersionResource, string, string) (*ObjectMeta, error) {
				return &ObjectMeta{}, nil // decided by the parent's labels, which the filter cannot see anyway
			}}
		resp, err := h.review(context.Background(), g.review)
		if err != nil {
			t.Fatal(err)
		}
		excluded := g.objNamespace == "kube-system" && (g.kind.namespaced || g.kind.gvk.Kind == "Namespace")
		if !resp.Allowed && reason != ReasonUnknown && len(called) == 0 && !excluded && g.kind.gvk.Group != "gitgate.dev" {
			t.Fatalf("%s: refused (%s) by the webhook, yet kube-apiserver would not call it", g, resp.Result.Message)
		}
		if g.sub == "scale" && g.protectScale && !g.user.allowed && !excluded && g.kind.gvk.Group != "gitgate.dev" && g.op == admissionv1.Update && len(called) == 0 {
			t.Fatalf("%s: a protected scale never reaches the webhook", g)
		}
	})
}

// TestWebhookFiltersKeepOutagesSmall names what kube-apiserver no longer
// sends to gitgate, so that an outage of gitgate cannot touch it, and what
// it still sends.
func TestWebhookFiltersKeepOutagesSmall(t *testing.T) {
	f := newFilters(t, genPolicy(false))
	// op, sub, user, kind, namespace, old, new, flags (see gen_test.go)
	cases := []struct {
		name string
		req  [8]byte
		want string // the entry called, "" for none
	}{
		{"skipped: admin creates an unmanaged ConfigMap", [8]byte{0, 0, 2, 3, 0, 0, 0, 0}, ""},
		{"skipped: admin deletes an unmanaged namespace", [8]byte{2, 0, 2, 7, 0, 0, 0, 0}, ""},
		{"skipped: admin deletes an enforced, unmanaged namespace", [8]byte{2, 0, 2, 7, 1, 0, 0, 0}, ""},
		{"skipped: admin creates a namespace", [8]byte{0, 0, 2, 7, 0, 0, 0, 0}, ""},
		{"skipped: admin edits an unmanaged ClusterRole", [8]byte{1, 0, 2, 8, 0, 0x03, 0x03, 0}, ""},
		{"skipped: admin scales a managed Deployment (scale not protected)", [8]byte{1, 3, 2, 0, 0, 0x01, 0x01, 0}, ""},
		{"skipped: Flux applies a managed Deployment", [8]byte{1, 0, 3, 0, 0, 0x01, 0x01, 0}, ""},
		{"skipped: the garbage collector deletes a derived Pod", [8]byte{2, 0, 4, 1, 0, 0x40, 0x40, 4}, ""},
		{"skipped: a tenant service account Flux impersonates", [8]byte{1, 0, 7, 0, 0, 0x01, 0x01, 0}, ""},
		{"skipped: an allowed group", [8]byte{1, 0, 12, 0, 0, 0x01, 0x01, 0}, ""},
		{"skipped: bob writes only status of a managed Deployment", [8]byte{1, 2, 1, 0, 0, 0x01, 0x01, 0}, ""},
		{"skipped: an object Flux no longer reconciles", [8]byte{1, 0, 0, 0, 0, 0x05, 0x05, 0}, ""},
		{"skipped: anything in kube-system", [8]byte{1, 0, 0, 0, 2, 0x01, 0x01, 0}, ""},
		{"skipped: gitgate.dev's own API", [8]byte{1, 0, 0, 9, 1, 0x01, 0x01, 0}, ""},
		{"skipped: exec is not a change of an object", [8]byte{3, 5, 0, 1, 0, 0x40, 0x40, 4}, ""},
		{"skipped: an Event in an enforced namespace", [8]byte{0, 0, 0, 5, 1, 0, 0, 0}, ""},
		{"called: alice edits a managed Deployment", [8]byte{1, 0, 0, 0, 0, 0x01, 0x01, 0}, WebhookManaged},
		{"called: alice removes the Flux label", [8]byte{1, 0, 0, 0, 0, 0x01, 0x00, 0}, WebhookManaged},
		{"called: alice disables reconcile through status", [8]byte{1, 2, 0, 0, 0, 0x01, 0x05, 0}, WebhookManaged},
		{"called: bob breaks glass on a Deployment Flux no longer reconciles", [8]byte{1, 0, 1, 0, 0, 0x05, 0x15, 0}, WebhookManaged},
		{"called: admin edits a managed ClusterRole", [8]byte{1, 0, 2, 8, 0, 0x02, 0x02, 0}, WebhookManaged},
		{"called: admin deletes a managed namespace", [8]byte{2, 0, 2, 7, 0, 0x01, 0x01, 0}, WebhookManaged},
		{"called: a tenant's name in another namespace", [8]byte{1, 0, 9, 0, 0, 0x01, 0x01, 0}, WebhookManaged},
		{"called: admin adds an ephemeral container to a controlled Pod", [8]byte{1, 4, 2, 1, 0, 0x40, 0x40, 4}, WebhookDerived},
		{"called: bob deletes a controlled ReplicaSet", [8]byte{2, 0, 1, 2, 0, 0x40, 0x40, 4}, WebhookDerived},
		{"called: admin's kubectl run in an enforced namespace", [8]byte{0, 0, 2, 1, 1, 0, 0, 0}, WebhookEnforced},
		{"called: a Secret in an enforced namespace", [8]byte{0, 0, 0, 4, 1, 0, 0, 0}, WebhookEnforced},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.req
			g := newGenRequest(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
			got := strings.Join(f.calls(t, g.review), ",")
			if got != tc.want {
				t.Fatalf("%s: called %q, want %q", g, got, tc.want)
			}
		})
	}
}
