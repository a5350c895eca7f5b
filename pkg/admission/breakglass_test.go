package admission

import (
	"context"
	"errors"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitgate-dev/gitgate/pkg/breakglass"
)

// fleetClaimants: prod claims apps-prod and deploys into shop-prod, dev
// claims apps-dev and deploys into shop-dev; apps-shared is claimed twice
// (as direct Git commits can make it); apps-nowhere's claimant has no
// known namespace.
func fleetClaimants(ns, name string) []Claimant {
	env := func(env, ns string, namespaces ...string) Claimant {
		return Claimant{Owner: Owner{Environment: env, EnvironmentNamespace: ns, Repository: "shop-fleet", Path: "overlays/" + env}, Namespaces: namespaces}
	}
	if ns != "flux-system" {
		return nil
	}
	switch name {
	case "apps-prod":
		return []Claimant{env("prod", "shop", "shop-prod")}
	case "apps-dev":
		return []Claimant{env("dev", "shop", "shop-dev")}
	case "apps-shared":
		return []Claimant{env("prod", "shop", "shop-prod"), env("x", "evil", "shop-prod")}
	case "apps-nowhere":
		return []Claimant{env("loose", "shop")}
	}
	return nil
}

func labelledFor(kustomization string) *ObjectMeta {
	m := fluxLabels(BreakGlassAnnotation, "INC-1")
	m.Labels[KustomizationNameLabel] = kustomization
	return m
}

func TestBreakGlassOwner(t *testing.T) {
	cm := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	cases := []struct {
		name    string
		req     Request
		owner   string // namespace/environment, "" for none
		refusal string
	}{
		{"owner: update of prod's object is decided by prod", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-prod"), Object: labelledFor("apps-prod")}, "shop/prod", ""},
		{"owner: the stored labels count on update, not the new ones", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-prod"), Object: labelledFor("apps-dev")}, "shop/prod", ""},
		{"owner: delete reads the stored object", Request{Operation: Delete, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-prod")}, "shop/prod", ""},
		{"owner: create labelled for prod in shop-prod", Request{Operation: Create, Kind: cm, Namespace: "shop-prod", Name: "a", Object: labelledFor("apps-prod")}, "shop/prod", ""},
		{"no owner: no environment claims the Kustomization", Request{Operation: Create, Kind: cm, Namespace: "shop-prod", Name: "a", Object: labelledFor("apps-other")}, "", ""},
		{"no owner: not a Flux Kustomization's object", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: plain(), Object: plain()}, "", ""},
		{"refused: create labelled for dev in shop-prod", Request{Operation: Create, Kind: cm, Namespace: "shop-prod", Name: "a", Object: labelledFor("apps-dev")}, "",
			"ConfigMap shop-prod/a is labelled for Flux Kustomization flux-system/apps-dev, but environment dev (namespace shop), which claims it, deploys into namespace shop-dev, not shop-prod."},
		{"refused: update of an object in shop-prod whose stored labels name dev", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-dev"), Object: labelledFor("apps-dev")}, "",
			"deploys into namespace shop-dev, not shop-prod"},
		{"refused: two environments claim apps-shared", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-shared"), Object: labelledFor("apps-shared")}, "",
			"the owner of ConfigMap shop-prod/a is ambiguous: environments evil/x, shop/prod all claim Flux Kustomization flux-system/apps-shared. Fix their fluxKustomization so that exactly one names it."},
		{"refused: create labelled for an environment with no known namespace", Request{Operation: Create, Kind: cm, Namespace: "shop-prod", Name: "a", Object: labelledFor("apps-nowhere")}, "",
			"the labels of a new object do not prove its owner, and environment loose (namespace shop) has no known namespace"},
		{"refused: create of a cluster-scoped object labelled for prod", Request{Operation: Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Name: "n", Object: labelledFor("apps-prod")}, "",
			"the labels of a new object do not prove its owner"},
		{"owner: a pod of prod's Deployment is decided by prod, through its controller's stored labels", Request{Operation: Update, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "shop-prod", Name: "app-1",
			OldObject: plain(), Object: &ObjectMeta{Labels: map[string]string{"app": "shop"}, Annotations: map[string]string{BreakGlassAnnotation: "INC-1"}},
			Controller: &Controller{Kind: "Deployment", Namespace: "shop-prod", Name: "app", Meta: labelledFor("apps-prod")}}, "shop/prod", ""},
		{"refused: a pod in shop-prod whose controller is labelled for dev", Request{Operation: Update, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "shop-prod", Name: "app-1",
			OldObject: plain(), Object: plain(), Controller: &Controller{Kind: "Deployment", Namespace: "shop-prod", Name: "app", Meta: labelledFor("apps-dev")}}, "",
			"deploys into namespace shop-dev, not shop-prod"},
		{"owner: update of an environment's object with no known namespace trusts the stored labels", Request{Operation: Update, Kind: cm, Namespace: "shop-prod", Name: "a", OldObject: labelledFor("apps-nowhere"), Object: labelledFor("apps-nowhere")}, "shop/loose", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			owner, refusal := breakGlassOwner(&tc.req, fleetClaimants)
			got := ""
			if owner != nil {
				got = owner.EnvironmentNamespace + "/" + owner.Environment
			}
			if got != tc.owner {
				t.Errorf("owner = %q, want %q", got, tc.owner)
			}
			if (refusal == "") != (tc.refusal == "") || !strings.Contains(refusal, tc.refusal) {
				t.Errorf("refusal = %q, want one containing %q", refusal, tc.refusal)
			}
			if refusal != "" && owner != nil {
				t.Errorf("a refusal with an owner: %+v", owner)
			}
		})
	}
}

// fakeClaims records what the webhook hands over.
type fakeClaims struct {
	claims       []breakglass.Claim
	unobservable bool
	full         bool
}

func (f *fakeClaims) Observable(context.Context, schema.GroupVersionResource, string) error {
	if f.unobservable {
		return errors.New("gitgate-apiserver may not watch deployments.apps")
	}
	return nil
}

func (f *fakeClaims) Claim(c breakglass.Claim) bool {
	if f.full {
		return false
	}
	f.claims = append(f.claims, c)
	return true
}

func TestWebhookBreakGlassClaims(t *testing.T) {
	cases := []struct {
		name    string
		claims  *fakeClaims
		body    []byte
		allowed bool
		message string
		claimed int
	}{
		{"claimed: bob's break-glass waits to be observed", &fakeClaims{}, review(admissionv1.Update, "bob", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), true, "", 1},
		{"not claimed: a dry run", &fakeClaims{}, review(admissionv1.Update, "bob", true, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), true, "", 0},
		{"not claimed: alice has no verb", &fakeClaims{}, review(admissionv1.Update, "alice", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), false, `alice may not use the "breakglass" verb`, 0},
		{"refused: gitgate cannot watch the object, so cannot record it", &fakeClaims{unobservable: true}, review(admissionv1.Update, "bob", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), false, "may not watch deployments.apps", 0},
		{"refused: too many claims pending", &fakeClaims{full: true}, review(admissionv1.Update, "bob", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), false, "too many break-glass changes", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Policy: DefaultPolicy(), Owners: lookup, Claimants: fleetClaimants, Authorizer: onlyBob, Claims: tc.claims}
			r := respond(t, h, tc.body)
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", r.Allowed, tc.allowed, r.Result)
			}
			if !tc.allowed && (r.Result == nil || !strings.Contains(r.Result.Message, tc.message)) {
				t.Fatalf("result %+v does not say %q", r.Result, tc.message)
			}
			if len(tc.claims.claims) != tc.claimed {
				t.Fatalf("claims %+v, want %d", tc.claims.claims, tc.claimed)
			}
			if tc.claimed == 1 {
				c := tc.claims.claims[0]
				if c.User != "bob" || c.Environment != "prod" || c.EnvironmentNamespace != "shop" || c.Reason != "INC-1" ||
					c.UID != "uid-app" || c.OldResourceVersion != "7" || c.Fingerprint == "" || c.Resource.Resource != "deployments" {
					t.Errorf("claim %+v", c)
				}
			}
		})
	}
}
