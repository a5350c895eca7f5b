package admission

import (
	"fmt"
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
	switch req.Operation {
	case Create, Update, Delete:
	default:
		return Verdict{Allowed: true, Reason: ReasonOperation}
	}
	switch req.SubResource {
	case "status":
		return Verdict{Allowed: true, Reason: ReasonStatus}
	case "scale":
		if !p.ProtectScale {
			return Verdict{Allowed: true, Reason: ReasonScale}
		}
	}
	if ok, _ := p.allowedIdentity(req.User, req.Groups); ok {
		return Verdict{Allowed: true, Reason: ReasonAllowedIdentity}
	}
	// On UPDATE and DELETE the stored object decides: removing a label or
	// adding reconcile: disabled is itself a change to a managed object.
	meta := req.Object
	if req.Operation != Create {
		meta = req.OldObject
	}
	if meta == nil {
		meta = &ObjectMeta{}
	}
	managedBy, managed := p.managedBy(meta)
	enforced := !managed && req.Namespace != "" && req.NamespaceLabels[EnforceLabel] == "true" && !p.exempt(req.Kind.GroupKind())
	if !managed && !enforced {
		return Verdict{Allowed: true, Reason: ReasonNotManaged}
	}
	v := Verdict{Reason: ReasonManaged}
	if ns, name := meta.Labels[KustomizationNamespaceLabel], meta.Labels[KustomizationNameLabel]; name != "" && lookup != nil {
		if owner, ok := lookup(ns, name); ok {
			v.Owner = &owner
		}
	}
	if note := breakGlassNote(req); note != "" {
		v.NeedsBreakGlass, v.BreakGlassNote, v.Reason = true, note, ReasonBreakGlass
		return v
	}
	v.Message = p.denial(req, managedBy, enforced, v.Owner)
	return v
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
func (p *Policy) denial(req *Request, managedBy string, enforced bool, owner *Owner) string {
	var b strings.Builder
	object := strings.ToLower(string(req.Operation)) + " of " + req.Kind.Kind + " " + qualified(req.Namespace, req.Name)
	if req.SubResource != "" {
		object += "/" + req.SubResource
	}
	fmt.Fprintf(&b, "gitgate: %s by %s refused: ", object, req.User)
	if enforced {
		fmt.Fprintf(&b, "namespace %s is enforced (%s=true): every change there comes from Git.", req.Namespace, EnforceLabel)
	} else {
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
