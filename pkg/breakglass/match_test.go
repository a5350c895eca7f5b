package breakglass

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

func object(uid, rv, reason string, fields ...string) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		UID: types.UID("u-" + uid), ResourceVersion: rv, Annotations: map[string]string{}, Labels: map[string]string{"app": "shop"},
	}}
	if reason != "" {
		o.Annotations[Annotation] = reason
	}
	for _, f := range fields {
		o.ManagedFields = append(o.ManagedFields, metav1.ManagedFieldsEntry{Manager: f, Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata": {"f:annotations": {}}}`)}})
	}
	return o
}

func TestMatch(t *testing.T) {
	admitted := object("1", "", "INC-7", "kubectl-annotate")
	update := Claim{Operation: "UPDATE", UID: "u-1", OldResourceVersion: "10", Reason: "INC-7", Fingerprint: Fingerprint(&admitted.ObjectMeta)}
	deleted := Claim{Operation: "DELETE", UID: "u-1", OldResourceVersion: "10", Reason: "INC-7"}
	created := Claim{Operation: "CREATE", UID: "u-1", Reason: "INC-7"}
	scaled := update
	scaled.SubResource, scaled.Fingerprint = "scale", ""
	now := metav1.Now()
	terminating := object("1", "11", "INC-7")
	terminating.DeletionTimestamp = &now
	cases := []struct {
		name  string
		claim Claim
		event watch.EventType
		obj   *metav1.PartialObjectMetadata
		want  Verdict
	}{
		{"confirmed: the next revision is the admitted object", update, watch.Modified, object("1", "11", "INC-7", "kubectl-annotate"), Confirmed},
		{"refuted: the next revision is another change (a status write)", update, watch.Modified, object("1", "11", "INC-7", "kubectl-annotate", "kube-controller-manager"), Refuted},
		{"refuted: the next revision lacks the reason", update, watch.Modified, object("1", "11", "", "kubectl-annotate"), Refuted},
		{"refuted: the next revision has another reason", update, watch.Modified, object("1", "11", "INC-8", "kubectl-annotate"), Refuted},
		{"refuted: another object of the same name", update, watch.Modified, object("2", "11", "INC-7", "kubectl-annotate"), Refuted},
		{"refuted: the object was deleted instead", update, watch.Deleted, object("1", "11", "INC-7", "kubectl-annotate"), Refuted},
		{"refuted: the revision is out of reach (410)", update, watch.Error, nil, Refuted},
		{"refuted: an update claim without a fingerprint", Claim{Operation: "UPDATE", UID: "u-1", OldResourceVersion: "10", Reason: "INC-7"}, watch.Modified, object("1", "11", "INC-7"), Refuted},
		{"pending: the stored revision replayed", update, watch.Modified, object("1", "10", "INC-7"), Pending},
		{"pending: a bookmark", update, watch.Bookmark, object("", "12", ""), Pending},
		{"confirmed: a scale through the subresource, with the reason on the parent", scaled, watch.Modified, object("1", "11", "INC-7", "kubectl-scale"), Confirmed},
		{"confirmed: the object is deleted", deleted, watch.Deleted, object("1", "11", "INC-7"), Confirmed},
		{"confirmed: the object is being deleted (finalizers)", deleted, watch.Modified, terminating, Confirmed},
		{"refuted: the object changed but was not deleted", deleted, watch.Modified, object("1", "11", "INC-7"), Refuted},
		{"confirmed: the created object, by its uid", created, watch.Added, object("1", "5", "INC-7", "kubectl-create", "controller"), Confirmed},
		{"refuted: an object of the same name that is not the admitted one", created, watch.Added, object("9", "5", "INC-7"), Refuted},
		{"refuted: a claim without a uid", Claim{Operation: "CREATE", Reason: "INC-7"}, watch.Added, object("", "5", "INC-7"), Refuted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(&tc.claim, tc.event, tc.obj); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFingerprintIgnoresResourceVersionAndFieldsFormatting(t *testing.T) {
	a := object("1", "10", "INC-7", "kubectl-annotate")
	b := object("1", "11", "INC-7", "kubectl-annotate")
	b.ManagedFields[0].FieldsV1.Raw = []byte(`{"f:metadata":{"f:annotations":{}}}`)
	if Fingerprint(&a.ObjectMeta) != Fingerprint(&b.ObjectMeta) {
		t.Error("the same metadata at another resourceVersion has another fingerprint")
	}
	b.Labels["app"] = "evil"
	if Fingerprint(&a.ObjectMeta) == Fingerprint(&b.ObjectMeta) {
		t.Error("other labels have the same fingerprint")
	}
}
