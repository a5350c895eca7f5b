package admission

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Operation is an admission operation.
type Operation string

// The operations the policy decides; anything else (CONNECT) is allowed.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// ObjectMeta is what the policy reads of an object.
type ObjectMeta struct {
	Labels, Annotations map[string]string
	// Controller is the object's controller ownerReference, if any: a Pod's
	// ReplicaSet, a ReplicaSet's Deployment.
	Controller *OwnerRef
}

// OwnerRef names an object's controller, as its ownerReference does.
type OwnerRef struct {
	APIVersion, Kind, Name string
}

// Controller is a managed object that controls the requested one, directly
// or through a chain of controllers (Pod → ReplicaSet → Deployment).
type Controller struct {
	// Kind, Namespace and Name say which object, for the message.
	Kind, Namespace, Name string
	// Meta is its metadata, whose labels say who manages it.
	Meta *ObjectMeta
}

// Request is one admission request, reduced to what the policy reads.
type Request struct {
	Operation   Operation
	Kind        schema.GroupVersionKind
	SubResource string
	Namespace   string
	Name        string
	User        string
	Groups      []string
	// Object is the new object (CREATE, UPDATE); OldObject the stored one
	// (UPDATE, DELETE). For a subresource, give the parent's metadata.
	Object, OldObject *ObjectMeta
	// NamespaceLabels are the labels of Namespace (nil for cluster-scoped objects).
	NamespaceLabels map[string]string
	// Controller is the nearest managed object controlling this one through
	// controller ownerReferences, resolved by the caller; nil when none is.
	Controller *Controller
}

// Owner says where in Git a managed object comes from, for the message.
type Owner struct {
	// Environment and EnvironmentNamespace name the gitgate Environment
	// whose fluxKustomization applies the object.
	Environment, EnvironmentNamespace string
	// Repository and Path are where its manifests live.
	Repository, Path string
}

// OwnerLookup finds the gitgate Environment of a Flux Kustomization.
type OwnerLookup func(kustomizationNamespace, kustomizationName string) (Owner, bool)

// Reason says why a verdict was reached; metrics count them.
type Reason string

// Reasons.
const (
	ReasonOperation       Reason = "OperationNotChecked"
	ReasonStatus          Reason = "StatusSubresource"
	ReasonScale           Reason = "ScaleAllowed"
	ReasonAllowedIdentity Reason = "AllowedIdentity"
	ReasonNotManaged      Reason = "NotManaged"
	ReasonManaged         Reason = "Managed"
	ReasonBreakGlass      Reason = "BreakGlass"
	// ReasonUnknown: what the decision needs (a namespace's labels, an
	// object's controller) could not be read, so the change is refused.
	ReasonUnknown Reason = "StateUnknown"
)

// Verdict is the policy's answer.
type Verdict struct {
	Allowed bool
	Reason  Reason
	// Message tells a person what happened and what to do instead.
	Message string
	// NeedsBreakGlass is set when the object carries a break-glass reason:
	// the change is allowed only if the user has the breakglass verb, and
	// must then be recorded. Allowed is false until the caller says so.
	NeedsBreakGlass bool
	BreakGlassNote  string
	// Owner is where the managed object lives in Git, when known.
	Owner *Owner
}

// Decide applies the policy to a request. It does no I/O.
func (p *Policy) Decide(req *Request, lookup OwnerLookup) Verdict {
	if v, done := p.passes(req); done {
		return v
	}
	// On UPDATE and DELETE the stored object decides: removing a label or
	// adding reconcile: disabled is itself a change to a managed object.
	meta := decidingMeta(req)
	labels := meta.Labels
	managedBy, managed := p.managedBy(meta)
	var via *Controller
	if c := req.Controller; !managed && c != nil && c.Meta != nil && isPerson(req.User) && namespaced(req) {
		if by, ok := p.managedBy(c.Meta); ok {
			managedBy, managed, via, labels = by, true, c, c.Meta.Labels
		}
	}
	enforced := !managed && p.enforced(req)
	if !managed && !enforced {
		return Verdict{Allowed: true, Reason: ReasonNotManaged}
	}
	v := Verdict{Reason: ReasonManaged}
	if ns, name := labels[KustomizationNamespaceLabel], labels[KustomizationNameLabel]; name != "" && lookup != nil {
		if owner, ok := lookup(ns, name); ok {
			v.Owner = &owner
		}
	}
	if note := breakGlassNote(req); note != "" {
		v.NeedsBreakGlass, v.BreakGlassNote, v.Reason = true, note, ReasonBreakGlass
		return v
	}
	v.Message = p.denial(req, managedBy, via, enforced, v.Owner)
	return v
}

// passes answers the requests the policy lets through whatever the object:
// operations it does not check, scale (unless protected), allowed
// identities, and status writes that change only status.
func (p *Policy) passes(req *Request) (Verdict, bool) {
	switch req.Operation {
	case Create, Update, Delete:
	default:
		return Verdict{Allowed: true, Reason: ReasonOperation}, true
	}
	if req.SubResource == "scale" && !p.ProtectScale {
		return Verdict{Allowed: true, Reason: ReasonScale}, true
	}
	if ok, _ := p.allowedIdentity(req.User, req.Groups); ok {
		return Verdict{Allowed: true, Reason: ReasonAllowedIdentity}, true
	}
	// A status write may change status only: one that changes labels or
	// annotations is decided like an update of the object.
	if req.SubResource == "status" && !metadataChanged(req.OldObject, req.Object) {
		return Verdict{Allowed: true, Reason: ReasonStatus}, true
	}
	return Verdict{}, false
}

// NeedsController reports whether the decision may depend on the object's
// controller: a person's checked request of an object not managed itself.
// The caller resolves Request.Controller only then.
func (p *Policy) NeedsController(req *Request) bool {
	if _, done := p.passes(req); done || !isPerson(req.User) || !namespaced(req) {
		return false
	}
	_, managed := p.managedBy(decidingMeta(req))
	return !managed
}

// isPerson: derived objects are guarded against people, not service
// accounts. Operators (a Prometheus operator's StatefulSet, cert-manager's
// CertificateRequests) change the objects their own resources control, and a
// managed custom resource would otherwise freeze its operator. A service
// account still may not change a managed object itself, nor anything in an
// enforced namespace; who can act as a service account is what `kubectl
// gitgate audit` reports.
func isPerson(user string) bool {
	return !strings.HasPrefix(user, "system:serviceaccount:")
}

// decidingMeta is the metadata that decides: the new object on CREATE, the
// stored one on UPDATE and DELETE.
func decidingMeta(req *Request) *ObjectMeta {
	meta := req.Object
	if req.Operation != Create {
		meta = req.OldObject
	}
	if meta == nil {
		meta = &ObjectMeta{}
	}
	return meta
}

// enforced: a namespaced object (not a Namespace itself, which is
// cluster-scoped) of a kind not exempt, in a namespace labelled enforced,
// changed itself or through a subresource that changes it.
func (p *Policy) enforced(req *Request) bool {
	gk := req.Kind.GroupKind()
	return namespaced(req) && changesObject(req.SubResource) &&
		req.NamespaceLabels[EnforceLabel] == "true" && !p.exempt(gk)
}

// namespaced: the request is about an object in a namespace. A Namespace's
// own request names it as its namespace, yet it is cluster-scoped.
func namespaced(req *Request) bool {
	return req.Namespace != "" && req.Kind.GroupKind() != (schema.GroupKind{Kind: "Namespace"})
}

// objectSubresources change the object they belong to. Others carry an
// object of their own (an Eviction, a TokenRequest, a Binding) and change
// nothing Git describes: evicting a Pod of an enforced namespace is left to
// PodDisruptionBudgets, so that draining a node works.
var objectSubresources = []string{"status", "scale", "ephemeralcontainers", "resize"}

func changesObject(subresource string) bool {
	return subresource == "" || slices.Contains(objectSubresources, subresource)
}

// metadataChanged reports whether labels or annotations differ.
func metadataChanged(old, cur *ObjectMeta) bool {
	if old == nil || cur == nil {
		return old != cur
	}
	return !maps.Equal(old.Labels, cur.Labels) || !maps.Equal(old.Annotations, cur.Annotations)
}

// managedBy returns who manages an object per its labels.
func (p *Policy) managedBy(meta *ObjectMeta) (string, bool) {
	if meta.Labels[ReconcileKey] == ReconcileDisabled || meta.Annotations[ReconcileKey] == ReconcileDisabled {
		return "", false
	}
	for _, key := range p.ManagedLabelKeys {
		name, ok := meta.Labels[key]
		if !ok {
			continue
		}
		switch key {
		case KustomizationNameLabel:
			return "Flux Kustomization " + qualified(meta.Labels[KustomizationNamespaceLabel], name), true
		case HelmReleaseNameLabel:
			return "Flux HelmRelease " + qualified(meta.Labels[HelmReleaseNamespaceLabel], name), true
		default:
			return fmt.Sprintf("%s=%s", key, name), true
		}
	}
	return "", false
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// breakGlassNote is the break-glass reason on the object the request
// changes (the new object, or the stored one for DELETE).
func breakGlassNote(req *Request) string {
	meta := req.Object
	if req.Operation == Delete {
		meta = req.OldObject
	}
	if meta == nil {
		return ""
	}
	return strings.TrimSpace(meta.Annotations[BreakGlassAnnotation])
}

// denial is the message a refused person reads: which object, who manages
// it, where it lives in Git, and what to do instead.
func (p *Policy) denial(req *Request, managedBy string, via *Controller, enforced bool, owner *Owner) string {
	var b strings.Builder
	ns := req.Namespace
	if req.Kind.GroupKind() == (schema.GroupKind{Kind: "Namespace"}) {
		ns = "" // a Namespace's request names itself as its namespace
	}
	object := strings.ToLower(string(req.Operation)) + " of " + req.Kind.Kind + " " + qualified(ns, req.Name)
	if req.SubResource != "" {
		object += "/" + req.SubResource
	}
	fmt.Fprintf(&b, "gitgate: %s by %s refused: ", object, req.User)
	switch {
	case enforced:
		fmt.Fprintf(&b, "namespace %s is enforced (%s=true): every change there comes from Git.", req.Namespace, EnforceLabel)
	case via != nil:
		fmt.Fprintf(&b, "it is controlled by %s %s, which is managed by %s, so changes come from Git.", via.Kind, qualified(via.Namespace, via.Name), managedBy)
	default:
		fmt.Fprintf(&b, "it is managed by %s, so changes come from Git.", managedBy)
	}
	if owner != nil {
		fmt.Fprintf(&b, " gitgate environment %s (namespace %s) holds it in %s of repository %s:"+
			" change it there, or promote into it with: kubectl create promotion --to %s -n %s.",
			owner.Environment, owner.EnvironmentNamespace, owner.Path, owner.Repository, owner.Environment, owner.EnvironmentNamespace)
	} else {
		b.WriteString(" Commit the change to the Git repository that Flux applies it from.")
	}
	if req.Kind.Kind == "Secret" && req.Kind.Group == "" {
		b.WriteString(" Secrets reach Git only sealed: kubectl gitgate seal.")
	}
	fmt.Fprintf(&b, " In an emergency, a user allowed the breakglass verb may annotate the object with %s=\"<reason>\".", BreakGlassAnnotation)
	return b.String()
}
