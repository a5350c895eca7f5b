package breakglass

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Verdict is what one observed revision says of a claim.
type Verdict int

// Verdicts.
const (
	// Pending: this event says nothing of the claim; keep watching.
	Pending Verdict = iota
	// Confirmed: the claimed change is on the real object.
	Confirmed
	// Refuted: the object moved on without the claimed change, so it never
	// happened (or not as claimed); stop watching.
	Refuted
)

func (v Verdict) String() string {
	return [...]string{"pending", "confirmed", "refuted"}[v]
}

// Match decides a claim from the next event of a watch on its object that
// started at the claim's OldResourceVersion (or, for CREATE, at the
// current state). It does no I/O.
func Match(c *Claim, event watch.EventType, obj *metav1.PartialObjectMetadata) Verdict {
	switch event {
	case watch.Added, watch.Modified, watch.Deleted:
	case watch.Bookmark:
		return Pending
	default: // an error, such as 410 Gone: the revision is out of reach
		return Refuted
	}
	if obj == nil || obj.UID != c.UID || c.UID == "" {
		return Refuted
	}
	if obj.ResourceVersion == c.OldResourceVersion && event != watch.Deleted {
		return Pending // the stored state itself, replayed
	}
	switch c.Operation {
	case "DELETE":
		// Gone, or going (finalizers keep it with a deletionTimestamp).
		if event == watch.Deleted || obj.DeletionTimestamp != nil {
			return Confirmed
		}
		return Refuted
	case "CREATE":
		// The UID is kube-apiserver's random choice for the admitted
		// object: no one can claim it ahead of the create. Later changes
		// may already be there when the watch starts, so only the reason
		// must still match.
		if event != watch.Deleted && reasonOf(obj) == c.Reason {
			return Confirmed
		}
		return Refuted
	case "UPDATE":
		// The very next revision after the stored one must be the admitted
		// object: any other change in between means this request's write
		// did not land (kube-apiserver re-admits a retried write).
		if event != watch.Modified || reasonOf(obj) != c.Reason {
			return Refuted
		}
		if c.SubResource != "" {
			return Confirmed // the object is the parent: no fingerprint
		}
		if c.Fingerprint != "" && Fingerprint(&obj.ObjectMeta) == c.Fingerprint {
			return Confirmed
		}
		return Refuted
	}
	return Refuted
}

func reasonOf(obj *metav1.PartialObjectMetadata) string {
	return strings.TrimSpace(obj.Annotations[Annotation])
}
