package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"
)

// BreakGlassReason is the reason of the Event that records a break-glass change.
const BreakGlassReason = "BreakGlass"

// VerbBreakGlass is the custom verb on environments that allows an
// annotated emergency change of a managed object.
const VerbBreakGlass = "breakglass"

// maxReviewBytes bounds an AdmissionReview body: an UPDATE carries the
// object twice, each at most kube-apiserver's 3 MiB request limit. A larger
// body gets a 413 after reading at most one byte more.
const maxReviewBytes = 8 << 20

// Handler serves admission.k8s.io/v1 AdmissionReviews with the policy.
type Handler struct {
	// Policy is the configured policy.
	Policy Policy
	// NamespaceLabels returns a namespace's labels from a cache (looking up
	// one the cache lacks); an error refuses the change.
	NamespaceLabels func(ctx context.Context, namespace string) (map[string]string, error)
	// Metadata reads the metadata of an object's controllers, from a cache,
	// to decide derived objects (a Pod of a managed Deployment); may be nil.
	Metadata MetadataLookup
	// Owners finds the gitgate Environment of a Flux Kustomization, for
	// denial messages; may be nil.
	Owners OwnerLookup
	// Claimants lists the environments that claim a Flux Kustomization,
	// to find whose breakglass verb decides (breakglass.go); may be nil.
	Claimants ClaimantLookup
	// Authorizer checks the breakglass verb (a cached SubjectAccessReview).
	Authorizer authorizer.Authorizer
	// Claims is handed every admitted break-glass change that is not a dry
	// run, to record once the change is seen on the object; break-glass is
	// refused while it is nil.
	Claims Claims
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Observe is told every verdict, for metrics; may be nil.
	Observe func(v Verdict)
	// ParentMeta returns the metadata of the object a subresource belongs to
	// (the Scale object of a scale request carries no labels), from a cache;
	// needed only when the policy protects scale.
	ParentMeta func(ctx context.Context, resource schema.GroupVersionResource, namespace, name string) (*ObjectMeta, error)
}

// ServeHTTP answers one AdmissionReview. A body that is not one gets a 400.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an admission.k8s.io/v1 AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	if err != nil {
		http.Error(w, "reading the AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxReviewBytes {
		http.Error(w, fmt.Sprintf("the AdmissionReview is larger than %d bytes", maxReviewBytes), http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "the body is not an admission.k8s.io/v1 AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil {
		http.Error(w, "the AdmissionReview has no request", http.StatusBadRequest)
		return
	}
	response, err := h.review(r.Context(), review.Request)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	review.Response = response
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

func (h *Handler) review(ctx context.Context, ar *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	req, unknown, err := h.request(ctx, ar)
	if err != nil {
		return nil, err
	}
	if unknown != nil {
		return h.respond(ar, *unknown), nil
	}
	v := h.Policy.Decide(req, h.Owners)
	resp := &admissionv1.AdmissionResponse{UID: ar.UID, Allowed: v.Allowed}
	if v.NeedsBreakGlass {
		v = h.breakGlass(ctx, ar, req, v)
		if v.Allowed {
			resp.Allowed = true
			resp.Warnings = []string{fmt.Sprintf("gitgate: break-glass change by %s (%s); Flux will revert it at its next reconcile unless Git changes too", req.User, v.BreakGlassNote)}
		}
	}
	if !resp.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: v.Message}
	}
	if h.Observe != nil {
		h.Observe(v)
	}
	return resp, nil
}

// breakGlass asks the authorizer whether the user has the breakglass verb
// on the environment that owns the object (or on environments in the
// object's namespace when none does), then hands the admitted change over
// to be recorded once it is seen (breakglass.go).
func (h *Handler) breakGlass(ctx context.Context, ar *admissionv1.AdmissionRequest, req *Request, v Verdict) Verdict {
	owner, refusal := breakGlassOwner(req, h.Claimants)
	v.Owner = owner
	if refusal != "" {
		v.Message = "gitgate: break-glass refused: " + refusal
		return v
	}
	if v = h.authorizeBreakGlass(ctx, ar, req, v); !v.Allowed {
		return v
	}
	return h.claim(ctx, ar, req, v)
}

// authorizeBreakGlass checks the breakglass verb.
func (h *Handler) authorizeBreakGlass(ctx context.Context, ar *admissionv1.AdmissionRequest, req *Request, v Verdict) Verdict {
	attrs := authorizer.AttributesRecord{
		User:     &user.DefaultInfo{Name: ar.UserInfo.Username, UID: ar.UserInfo.UID, Groups: ar.UserInfo.Groups, Extra: extra(ar.UserInfo.Extra)},
		Verb:     VerbBreakGlass,
		APIGroup: "gitgate.dev", APIVersion: "v1alpha1", Resource: "environments",
		Namespace: req.Namespace, ResourceRequest: true,
	}
	where := "environments in namespace " + req.Namespace
	if v.Owner != nil {
		attrs.Namespace, attrs.Name = v.Owner.EnvironmentNamespace, v.Owner.Environment
		where = fmt.Sprintf("environment %s in namespace %s", v.Owner.Environment, v.Owner.EnvironmentNamespace)
	}
	if h.Authorizer != nil {
		decision, _, err := h.Authorizer.Authorize(ctx, attrs)
		if err != nil {
			klog.FromContext(ctx).Error(err, "Checking the breakglass verb", "user", req.User)
		}
		if decision == authorizer.DecisionAllow {
			v.Allowed = true
			return v
		}
	}
	v.Message = fmt.Sprintf("gitgate: break-glass refused: %s may not use the %q verb on %s. Ask for it, or change the object in Git.",
		req.User, VerbBreakGlass, where)
	return v
}

func extra(in map[string]authenticationv1.ExtraValue) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
