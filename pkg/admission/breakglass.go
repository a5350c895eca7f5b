package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitgate-dev/gitgate/pkg/breakglass"
)

// Claimant is an environment that names a Flux Kustomization as its
// fluxKustomization.
type Claimant struct {
	Owner
	// Namespaces are where the environment's objects live: the Flux
	// Kustomization's targetNamespace when it sets one, else the overlay's
	// namespace: field. Empty when neither is known.
	Namespaces []string
}

// ClaimantLookup lists every environment, in every bound namespace and
// repository, that claims a Flux Kustomization (one environment per
// repository, however many namespaces the repository serves).
type ClaimantLookup func(kustomizationNamespace, kustomizationName string) []Claimant

// Claims confirms and records admitted break-glass changes.
type Claims interface {
	// Observable returns nil when a change of resource in namespace can be
	// observed, and so recorded; break-glass is refused otherwise.
	Observable(ctx context.Context, resource schema.GroupVersionResource, namespace string) error
	// Claim hands over an admitted break-glass request that is not a dry
	// run; it is recorded once the change is seen on the object.
	Claim(c breakglass.Claim) bool
}

// breakGlassOwner finds the environment whose breakglass verb decides a
// request, from what no requester can choose: the stored object's Flux
// labels on UPDATE and DELETE (or, for a derived object, its managed
// controller's); on CREATE the new object's labels, but only when the
// environment they lead to deploys into the object's namespace.
// An environment is the owner only if it alone claims the Kustomization,
// and (when its namespaces are known) deploys into the object's namespace.
// It returns nil and no refusal when no environment claims the object (the
// verb is then checked on all environments of the object's namespace), and
// a refusal, for the person, when the owner is ambiguous or inconsistent.
func breakGlassOwner(req *Request, lookup ClaimantLookup) (*Owner, string) {
	meta := req.OldObject
	if req.Operation == Create {
		meta = req.Object
	}
	if lookup == nil {
		return nil, ""
	}
	var labels map[string]string
	if meta != nil {
		labels = meta.Labels
	}
	// A derived object (a Pod of a managed Deployment) belongs to the
	// environment of its managed controller, read from the cluster's
	// stored object, which the requester does not write.
	if labels[KustomizationNameLabel] == "" && req.Controller != nil && req.Controller.Meta != nil {
		labels = req.Controller.Meta.Labels
	}
	ksName, ksNamespace := labels[KustomizationNameLabel], labels[KustomizationNamespaceLabel]
	if ksName == "" {
		return nil, ""
	}
	ks := qualified(ksNamespace, ksName)
	claimants := lookup(ksNamespace, ksName)
	switch len(claimants) {
	case 0:
		return nil, ""
	case 1:
	default:
		names := make([]string, 0, len(claimants))
		for _, c := range claimants {
			names = append(names, c.EnvironmentNamespace+"/"+c.Environment)
		}
		sort.Strings(names)
		return nil, fmt.Sprintf("the owner of %s is ambiguous: environments %s all claim Flux Kustomization %s."+
			" Fix their fluxKustomization so that exactly one names it.", describeObject(req), strings.Join(names, ", "), ks)
	}
	c := claimants[0]
	env := fmt.Sprintf("environment %s (namespace %s)", c.Environment, c.EnvironmentNamespace)
	if req.Namespace != "" && len(c.Namespaces) > 0 && !slices.Contains(c.Namespaces, req.Namespace) {
		return nil, fmt.Sprintf("%s is labelled for Flux Kustomization %s, but %s, which claims it, deploys into namespace %s, not %s.",
			describeObject(req), ks, env, strings.Join(c.Namespaces, ", "), req.Namespace)
	}
	if req.Operation == Create && (req.Namespace == "" || len(c.Namespaces) == 0) {
		return nil, fmt.Sprintf("the labels of a new object do not prove its owner, and %s has no known namespace to check %s against"+
			" (set namespace: in its overlay, or targetNamespace on Flux Kustomization %s).", env, describeObject(req), ks)
	}
	owner := c.Owner
	return &owner, ""
}

func describeObject(req *Request) string {
	return req.Kind.Kind + " " + qualified(req.Namespace, req.Name)
}

// newClaim describes an admitted break-glass request for the observer.
func newClaim(ar *admissionv1.AdmissionRequest, req *Request, v Verdict, now time.Time) (breakglass.Claim, error) {
	c := breakglass.Claim{
		User:        req.User,
		Operation:   string(req.Operation),
		Resource:    schema.GroupVersionResource{Group: ar.Resource.Group, Version: ar.Resource.Version, Resource: ar.Resource.Resource},
		Kind:        req.Kind,
		SubResource: req.SubResource,
		Namespace:   req.Namespace,
		Name:        req.Name,
		Reason:      v.BreakGlassNote,
		Admitted:    now,
	}
	if v.Owner != nil {
		c.Environment, c.EnvironmentNamespace = v.Owner.Environment, v.Owner.EnvironmentNamespace
	}
	var newMeta, oldMeta metav1.ObjectMeta
	if err := fullMeta(ar.Object.Raw, &newMeta); err != nil {
		return c, err
	}
	if err := fullMeta(ar.OldObject.Raw, &oldMeta); err != nil {
		return c, err
	}
	switch req.Operation {
	case Create:
		c.UID = newMeta.UID
	case Update:
		c.UID, c.OldResourceVersion = oldMeta.UID, oldMeta.ResourceVersion
		if req.SubResource == "" {
			c.Fingerprint = breakglass.Fingerprint(&newMeta)
		}
	case Delete:
		c.UID, c.OldResourceVersion = oldMeta.UID, oldMeta.ResourceVersion
	}
	if c.UID == "" {
		return c, fmt.Errorf("the request's object has no uid")
	}
	return c, nil
}

func fullMeta(raw []byte, into *metav1.ObjectMeta) error {
	if len(raw) == 0 {
		return nil
	}
	var o struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return fmt.Errorf("reading the object's metadata: %w", err)
	}
	*into = o.Metadata
	return nil
}

// claim makes sure an authorized break-glass change will be recorded: the
// object must be observable, and the claim is handed over unless the
// request is a dry run. When it cannot be, the change is refused.
func (h *Handler) claim(ctx context.Context, ar *admissionv1.AdmissionRequest, req *Request, v Verdict) Verdict {
	refuse := func(why string) Verdict {
		v.Allowed = false
		v.Message = "gitgate: break-glass refused: " + why + " A break-glass change is admitted only where gitgate can record it."
		return v
	}
	if h.Claims == nil {
		return refuse("this gitgate has no break-glass recorder configured.")
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	c, err := newClaim(ar, req, v, now())
	if err != nil {
		return refuse(err.Error() + ".")
	}
	if err := h.Claims.Observable(ctx, c.Resource, c.Namespace); err != nil {
		return refuse(err.Error() + ".")
	}
	if ar.DryRun != nil && *ar.DryRun {
		return v
	}
	if !h.Claims.Claim(c) {
		return refuse("too many break-glass changes are waiting to be observed; try again in a minute.")
	}
	return v
}
