package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fuzzSeeds are requests worth starting from: each a route the policy
// must refuse, or one it must let through.
var fuzzSeeds = [][8]byte{
	// op, sub, user, kind, namespace, old, new, flags
	{1, 0, 0, 0, 0, 0x01, 0x01, 0}, // alice updates a managed Deployment
	{1, 2, 0, 0, 0, 0x01, 0x05, 0}, // alice disables reconcile through status
	{1, 2, 0, 0, 0, 0x01, 0x09, 0}, // alice disables reconcile (annotation) through status
	{1, 2, 1, 0, 0, 0x01, 0x01, 0}, // bob writes only status
	{1, 4, 2, 1, 0, 0x40, 0x40, 4}, // admin adds an ephemeral container to a derived Pod
	{2, 0, 1, 2, 0, 0x40, 0x40, 4}, // bob deletes a ReplicaSet of a managed Deployment
	{1, 0, 1, 0, 0, 0x01, 0x11, 0}, // bob breaks glass
	{1, 0, 0, 0, 0, 0x01, 0x11, 0}, // alice tries to break glass
	{1, 3, 0, 0, 0, 0x01, 0x01, 1}, // alice scales a protected Deployment
	{0, 0, 2, 1, 1, 0x00, 0x00, 0}, // admin's kubectl run in an enforced namespace
	{2, 0, 2, 7, 1, 0x00, 0x00, 0}, // admin deletes an enforced namespace
	{1, 0, 3, 0, 0, 0x01, 0x01, 0}, // Flux applies
	{1, 0, 0, 1, 3, 0x00, 0x00, 0}, // a namespace gitgate cannot read
	{1, 0, 0, 1, 0, 0xC0, 0xC0, 4}, // a Pod whose controller cannot be read
	{3, 5, 0, 1, 0, 0x40, 0x40, 4}, // alice execs into a derived Pod
	{1, 0, 0, 1, 0, 0x40, 0x00, 6}, // alice takes a Pod out of a managed ReplicaSet
	{1, 0, 0, 8, 0, 0x02, 0x03, 0}, // alice edits a HelmRelease-managed ClusterRole
	{1, 0, 9, 0, 0, 0x01, 0x01, 0}, // a tenant's name in another namespace
}

// FuzzReview posts generated AdmissionReviews to the webhook: it never
// panics, always answers, and never admits a person's change of a managed
// object (directly, through a subresource or through its controller)
// without an authorized break-glass. `go test` runs the seeds; `go test
// -fuzz FuzzReview ./pkg/admission/` explores.
func FuzzReview(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	f.Fuzz(func(t *testing.T, op, sub, user, kind, ns, old, cur, flags byte) {
		g := newGenRequest(op, sub, user, kind, ns, old, cur, flags)
		resp := reviewGenerated(t, g)
		if g.guarded() && resp.Allowed && !g.breakGlassByBob() {
			t.Fatalf("admitted a person's change of a managed object: %s", g)
		}
		if resp.Allowed && g.breakGlassByBob() && g.guarded() && len(resp.Warnings) == 0 {
			t.Fatalf("a break-glass admitted without a warning: %s", g)
		}
	})
}

// reviewGenerated answers a generated request through the HTTP handler.
func reviewGenerated(t *testing.T, g *genRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	parent := g.old.object()
	b, _ := json.Marshal(parent)
	parentMeta, _ := decodeMeta(b, "parent")
	h := &Handler{
		Policy: genPolicy(g.protectScale), Owners: lookup, Authorizer: onlyBob,
		NamespaceLabels: genNamespaceLabels, Metadata: genMetadata,
		ParentMeta: func(context.Context, schema.GroupVersionResource, string, string) (*ObjectMeta, error) {
			return parentMeta, nil
		},
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{Request: g.review})
	if err != nil {
		t.Fatal(err)
	}
	rec := post(t, h, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", g, rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != g.review.UID {
		t.Fatalf("%s: not an answer to the review (%v): %s", g, err, rec.Body)
	}
	if !out.Response.Allowed && (out.Response.Result == nil || out.Response.Result.Message == "") {
		t.Fatalf("%s: refused without a message", g)
	}
	return out.Response
}

// FuzzReviewBody posts arbitrary bodies: the handler never panics and
// answers 200 or 400.
func FuzzReviewBody(f *testing.F) {
	valid, _ := json.Marshal(admissionv1.AdmissionReview{Request: newGenRequest(1, 0, 0, 0, 0, 1, 1, 0).review})
	for _, seed := range []string{string(valid), "", "{}", `{"request":{}}`, `{"request":{"object":{"metadata":{"labels":7}}}}`,
		`{"request":{"operation":"UPDATE","object":{"metadata":{"ownerReferences":[{"controller":true}]}},"oldObject":[]}}`} {
		f.Add([]byte(seed))
	}
	h := &Handler{Policy: genPolicy(true), Owners: lookup, Authorizer: onlyBob, NamespaceLabels: genNamespaceLabels, Metadata: genMetadata}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(t, h, body)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("HTTP %d for %q", rec.Code, body)
		}
	})
}
