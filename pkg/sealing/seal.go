package sealing

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	ssv1alpha1 "github.com/bitnami/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/cert"
)

// Scope is how tightly a SealedSecret is bound: strict (namespace and name),
// namespace-wide or cluster-wide, as the Sealed Secrets controller defines it.
type Scope = ssv1alpha1.SealingScope

// The scopes, by the names kubeseal's --scope flag takes.
const (
	ScopeStrict        = ssv1alpha1.StrictScope
	ScopeNamespaceWide = ssv1alpha1.NamespaceWideScope
	ScopeClusterWide   = ssv1alpha1.ClusterWideScope
)

// ParseScope reads a scope name: strict, namespace-wide or cluster-wide.
func ParseScope(name string) (Scope, error) {
	var s Scope
	if err := s.Set(name); err != nil {
		return s, fmt.Errorf("scope %q: must be strict, namespace-wide or cluster-wide", name)
	}
	return s, nil
}

// ParseCertificate reads the controller's PEM certificate and returns its
// RSA public key. Like kubeseal, it refuses a certificate that expired
// before now: sealing with it would make secrets the controller may no
// longer be able to open once it has rotated the key out.
func ParseCertificate(pemBytes []byte, now time.Time) (*rsa.PublicKey, error) {
	certs, err := cert.ParseCertsPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the sealing certificate: %w", err)
	}
	c := certs[0]
	key, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the sealing certificate holds a %T key, not an RSA key", c.PublicKey)
	}
	if now.After(c.NotAfter) {
		return nil, fmt.Errorf("the sealing certificate expired on %s: fetch the controller's current certificate (kubeseal --fetch-cert) or let gitgate fetch it by leaving out --cert",
			c.NotAfter.UTC().Format("January 2, 2006"))
	}
	return key, nil
}

// Seal encrypts every value of secret (data and stringData) with key, bound
// to the secret's namespace and name as scope says. The secret must name its
// namespace unless the scope is cluster-wide.
func Seal(secret *corev1.Secret, key *rsa.PublicKey, scope Scope) (*ssv1alpha1.SealedSecret, error) {
	if secret.Name == "" {
		return nil, errors.New("the Secret has no name")
	}
	if len(secret.Data) == 0 && len(secret.StringData) == 0 {
		return nil, fmt.Errorf("secret %q has no data to seal", secret.Name)
	}
	in := secret.DeepCopy()
	in.Annotations = ssv1alpha1.UpdateScopeAnnotations(in.Annotations, scope)
	// Server-owned fields mean nothing in Git.
	in.ResourceVersion, in.UID, in.CreationTimestamp, in.ManagedFields = "", "", metav1.Time{}, nil
	out, err := ssv1alpha1.NewSealedSecret(scheme.Codecs, key, in)
	if err != nil {
		return nil, fmt.Errorf("sealing secret %q: %w", secret.Name, err)
	}
	out.APIVersion, out.Kind = APIVersion, Kind
	return out, nil
}
