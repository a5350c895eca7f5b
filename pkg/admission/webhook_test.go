package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// onlyBob stands in for the delegated authorizer: bob may break glass on prod.
var onlyBob = authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetUser().GetName() == "bob" && a.GetVerb() == VerbBreakGlass && a.GetName() == "prod" && a.GetNamespace() == "shop" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
})

func post(t *testing.T, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	return rec
}

func review(op admissionv1.Operation, user string, dryRun bool, oldObj, obj *ObjectMeta) []byte {
	raw := func(m *ObjectMeta) runtime.RawExtension {
		if m == nil {
			return runtime.RawExtension{}
		}
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": m.Labels, "annotations": m.Annotations, "uid": "uid-app", "resourceVersion": "7"}})
		return runtime.RawExtension{Raw: b}
	}
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "42", Operation: op, Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			Namespace: "shop-prod", Name: "app", UserInfo: authenticationv1.UserInfo{Username: user},
			Object: raw(obj), OldObject: raw(oldObj), DryRun: &dryRun,
		},
	})
	return b
}

// respond posts a review and returns the webhook's response.
func respond(t *testing.T, h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := post(t, h, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != "42" {
		t.Fatalf("response %s: %v", rec.Body, err)
	}
	return out.Response
}

func TestWebhook(t *testing.T) {
	claims := &fakeClaims{}
	h := &Handler{
		Policy:     DefaultPolicy(),
		Owners:     lookup,
		Claimants:  fleetClaimants,
		Authorizer: onlyBob,
		Claims:     claims,
	}
	cases := []struct {
		name     string
		body     []byte
		allowed  bool
		message  string
		warning  bool
		recorded int
	}{
		{"denied: alice edits a managed Deployment", review(admissionv1.Update, "alice", false, fluxLabels(), fluxLabels()), false, "kubectl create promotion --to prod -n shop", false, 0},
		{"allowed: Flux applies it", review(admissionv1.Update, "system:serviceaccount:flux-system:kustomize-controller", false, fluxLabels(), fluxLabels()), true, "", false, 0},
		{"denied: break-glass without the verb", review(admissionv1.Update, "alice", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), false, `alice may not use the "breakglass" verb on environment prod in namespace shop`, false, 0},
		{"allowed: break-glass with the verb, recorded", review(admissionv1.Update, "bob", false, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-1")), true, "", true, 1},
		{"allowed: break-glass dry run, not recorded", review(admissionv1.Update, "bob", true, fluxLabels(), fluxLabels(BreakGlassAnnotation, "INC-2")), true, "", true, 1},
		{"denied: dry run gets the same answer", review(admissionv1.Delete, "alice", true, fluxLabels(), nil), false, "delete of Deployment shop-prod/app", false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := respond(t, h, tc.body)
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", r.Allowed, tc.allowed, r.Result)
			}
			if !tc.allowed && (r.Result == nil || r.Result.Code != http.StatusForbidden || !strings.Contains(r.Result.Message, tc.message)) {
				t.Fatalf("result %+v does not say %q", r.Result, tc.message)
			}
			if (len(r.Warnings) > 0) != tc.warning {
				t.Fatalf("warnings = %v", r.Warnings)
			}
			if len(claims.claims) != tc.recorded {
				t.Fatalf("claimed %v, want %d claims", claims.claims, tc.recorded)
			}
		})
	}
}

func TestWebhookRefusesMalformedReviews(t *testing.T) {
	h := &Handler{Policy: DefaultPolicy()}
	for name, body := range map[string]string{
		"not JSON":             "{",
		"no request":           `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		"object not an object": `{"request":{"uid":"1","operation":"CREATE","object":[1,2]}}`,
		"empty":                "",
	} {
		t.Run(name, func(t *testing.T) {
			if rec := post(t, h, []byte(body)); rec.Code != http.StatusBadRequest || rec.Body.Len() == 0 {
				t.Fatalf("HTTP %d %q, want 400 with a reason", rec.Code, rec.Body)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/validate", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: HTTP %d", rec.Code)
	}
}

func TestWebhookProtectedScaleReadsTheParent(t *testing.T) {
	p := DefaultPolicy()
	p.ProtectScale = true
	h := &Handler{Policy: p, ParentMeta: func(_ context.Context, gvr schema.GroupVersionResource, ns, name string) (*ObjectMeta, error) {
		if gvr.Resource != "deployments" || ns != "shop-prod" || name != "app" {
			t.Errorf("parent lookup of %v %s/%s", gvr, ns, name)
		}
		return fluxLabels(), nil
	}}
	b, _ := json.Marshal(admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{
		UID: "7", Operation: admissionv1.Update, SubResource: "scale",
		Kind:      metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
		Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Namespace: "shop-prod", Name: "app", UserInfo: authenticationv1.UserInfo{Username: "alice"},
		Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"app"}}`)}, OldObject: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"app"}}`)},
	}})
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(post(t, h, b).Body.Bytes(), &out); err != nil || out.Response.Allowed {
		t.Fatalf("protected scale of a managed Deployment: %+v %v", out.Response, err)
	}
}
