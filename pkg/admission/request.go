package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// objectMeta decodes only the metadata of a raw object.
type objectMeta struct {
	Metadata struct {
		Labels          map[string]string       `json:"labels"`
		Annotations     map[string]string       `json:"annotations"`
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
	} `json:"metadata"`
}

func decodeMeta(raw []byte, what string) (*ObjectMeta, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m objectMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("the request's %s is not a JSON object: %w", what, err)
	}
	return &ObjectMeta{Labels: m.Metadata.Labels, Annotations: m.Metadata.Annotations, Controller: ControllerOf(m.Metadata.OwnerReferences)}, nil
}

// ControllerOf returns the controller among ownerReferences, if any.
func ControllerOf(refs []metav1.OwnerReference) *OwnerRef {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return &OwnerRef{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name}
		}
	}
	return nil
}

// request reduces an AdmissionRequest to what the policy reads, and reads
// from the caches what the decision may need: the namespace's labels, the
// parent of a protected scale, the managed controller of a derived object.
// A verdict comes back when that state cannot be read: the change is
// refused rather than decided on a guess.
func (h *Handler) request(ctx context.Context, ar *admissionv1.AdmissionRequest) (*Request, *Verdict, error) {
	obj, err := decodeMeta(ar.Object.Raw, "object")
	if err != nil {
		return nil, nil, err
	}
	old, err := decodeMeta(ar.OldObject.Raw, "oldObject")
	if err != nil {
		return nil, nil, err
	}
	req := &Request{
		Operation:   Operation(ar.Operation),
		Kind:        schema.GroupVersionKind{Group: ar.Kind.Group, Version: ar.Kind.Version, Kind: ar.Kind.Kind},
		SubResource: ar.SubResource,
		Namespace:   ar.Namespace,
		Name:        ar.Name,
		User:        ar.UserInfo.Username,
		Groups:      ar.UserInfo.Groups,
		Object:      obj,
		OldObject:   old,
	}
	if _, done := h.Policy.passes(req); done {
		return req, nil, nil // decided by the request alone
	}
	if req.SubResource == "scale" && h.ParentMeta != nil {
		gvr := schema.GroupVersionResource{Group: ar.Resource.Group, Version: ar.Resource.Version, Resource: ar.Resource.Resource}
		parent, err := h.ParentMeta(ctx, gvr, ar.Namespace, ar.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the labels of %s %s/%s: %w", gvr.Resource, ar.Namespace, ar.Name, err)
		}
		req.Object, req.OldObject = parent, parent
	}
	if req.Namespace != "" && h.NamespaceLabels != nil {
		labels, err := h.NamespaceLabels(ctx, req.Namespace)
		if err != nil {
			return req, h.unknown(req, "the labels of namespace "+req.Namespace, err), nil
		}
		req.NamespaceLabels = labels
	}
	if h.Metadata != nil && h.Policy.NeedsController(req) {
		c, err := h.controller(ctx, req)
		if err != nil {
			return req, h.unknown(req, "whether a GitOps-managed object controls it", err), nil
		}
		req.Controller = c
	}
	return req, nil, nil
}

// maxControllerDepth bounds a chain of controllers (Pod → ReplicaSet →
// Deployment is two steps; CronJob → Job → Pod too).
const maxControllerDepth = 5

// controller finds the nearest managed object in the chain of controllers
// of the stored object (UPDATE, DELETE) and of the new one (CREATE,
// UPDATE): taking a Pod out of its ReplicaSet is a change of a derived
// object too.
func (h *Handler) controller(ctx context.Context, req *Request) (*Controller, error) {
	var refs []*OwnerRef
	if req.Operation != Create && req.OldObject != nil {
		refs = append(refs, req.OldObject.Controller)
	}
	if req.Operation != Delete && req.Object != nil {
		refs = append(refs, req.Object.Controller)
	}
	for _, ref := range refs {
		for depth := 0; ref != nil && depth < maxControllerDepth; depth++ {
			meta, err := h.Metadata(ctx, ref.APIVersion, ref.Kind, req.Namespace, ref.Name)
			if err != nil {
				return nil, fmt.Errorf("reading %s %s: %w", ref.Kind, ref.Name, err)
			}
			if meta == nil { // gone: the garbage collector will follow
				break
			}
			if _, managed := h.Policy.managedBy(meta); managed {
				return &Controller{Kind: ref.Kind, Namespace: req.Namespace, Name: ref.Name, Meta: meta}, nil
			}
			ref = meta.Controller
		}
	}
	return nil, nil
}

// unknown refuses a change whose deciding state could not be read.
func (h *Handler) unknown(req *Request, what string, err error) *Verdict {
	return &Verdict{Reason: ReasonUnknown, Message: fmt.Sprintf(
		"gitgate: %s of %s %s by %s refused: gitgate could not read %s (%v). Try again; if it persists, check gitgate-apiserver's access to the cluster.",
		strings.ToLower(string(req.Operation)), req.Kind.Kind, qualified(req.Namespace, req.Name), req.User, what, err)}
}

// respond answers a verdict reached without the policy (a refusal because
// state could not be read).
func (h *Handler) respond(ar *admissionv1.AdmissionRequest, v Verdict) *admissionv1.AdmissionResponse {
	if h.Observe != nil {
		h.Observe(v)
	}
	return &admissionv1.AdmissionResponse{UID: ar.UID, Allowed: v.Allowed, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: v.Message}}
}

// MetadataLookup reads an object's metadata from a cache: nil and no error
// when the object does not exist.
type MetadataLookup func(ctx context.Context, apiVersion, kind, namespace, name string) (*ObjectMeta, error)
