package breakglass

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Annotation carries the reason of a break-glass change.
const Annotation = "gitgate.dev/break-glass"

// Claim is an admitted break-glass request, not yet seen to happen.
type Claim struct {
	// User made the request; Environment (in EnvironmentNamespace) is the
	// environment whose breakglass verb allowed it, empty when none owns
	// the object.
	User                              string
	Environment, EnvironmentNamespace string
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	// Resource, Kind, Namespace and Name say which object; SubResource is
	// set when the request went through one (the object is its parent).
	Resource        schema.GroupVersionResource
	Kind            schema.GroupVersionKind
	SubResource     string
	Namespace, Name string
	// Reason is the object's break-glass annotation.
	Reason string
	// UID is the object's UID: the stored object's (UPDATE, DELETE), or
	// the one kube-apiserver gave the new object before admission (CREATE).
	UID types.UID
	// OldResourceVersion is the stored object's resourceVersion (UPDATE,
	// DELETE): the change must be the very next revision after it.
	OldResourceVersion string
	// Fingerprint is the admitted object's metadata (Fingerprint), which
	// the next revision must match; empty for subresources and DELETE.
	Fingerprint string
	// Admitted is when the webhook admitted the request.
	Admitted time.Time
}

// Key identifies the observed change: the object's UID and the
// resourceVersion that carries it. Records are unique by key.
func Key(uid types.UID, resourceVersion string) string {
	return string(uid) + "@" + resourceVersion
}

// Fingerprint summarizes what an admitted object and the stored revision
// made of it share: labels, annotations, generation and managedFields
// (whose times kube-apiserver sets before admission). resourceVersion is
// left out: storage sets it after admission.
func Fingerprint(m *metav1.ObjectMeta) string {
	fields := make([]metav1.ManagedFieldsEntry, len(m.ManagedFields))
	for i, f := range m.ManagedFields {
		fields[i] = *f.DeepCopy()
		if f.FieldsV1 != nil {
			var compact bytes.Buffer
			if json.Compact(&compact, f.FieldsV1.Raw) == nil {
				fields[i].FieldsV1.Raw = compact.Bytes()
			}
		}
	}
	b, err := json.Marshal(struct {
		Labels        map[string]string
		Annotations   map[string]string
		Generation    int64
		ManagedFields []metav1.ManagedFieldsEntry
	}{m.Labels, m.Annotations, m.Generation, fields})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
