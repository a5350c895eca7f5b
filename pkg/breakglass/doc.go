// Package breakglass turns an admitted break-glass request into a record
// only once the change is seen on the real object. The webhook hands over
// a Claim (who, which object, why, and a fingerprint of the object it
// admitted); an Observer watches that one object from the revision the
// request was made against, and confirms the claim only when the next
// revision is exactly the admitted object. A forged AdmissionReview, for a
// change that never happened, is never confirmed and so never recorded.
package breakglass
