package repositories

import (
	"context"
	"fmt"

	"github.com/gitgate-dev/gitgate/pkg/config"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// signingKeys are the Secret keys that hold a signing key, by format.
var signingKeys = map[string]string{config.SigningOpenPGP: "git.asc", config.SigningSSH: "identity"}

// signer reads a repository's signing key from its Secret and makes the
// signer; it returns nil without signing configured. The key material is
// also returned, so that a rotated key makes a new engine. Errors name the
// Secret and the missing key, never its content.
func (m *Manager) signer(ctx context.Context, rc config.Repository) (gitstore.Signer, []byte, error) {
	s := rc.Signing
	if s == nil {
		return nil, nil, nil
	}
	ref := s.SecretRef.Namespace + "/" + s.SecretRef.Name
	data, err := m.opts.Secrets(ctx, s.SecretRef.Namespace, s.SecretRef.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: reading the signing Secret %s: %w", rc.Name, ref, err)
	}
	key := data[signingKeys[s.Format]]
	if len(key) == 0 {
		return nil, nil, fmt.Errorf("repository %s: the signing Secret %s has no %q: put the %s private key there",
			rc.Name, ref, signingKeys[s.Format], s.Format)
	}
	signer, err := gitstore.NewSigner(s.Format, key, data["passphrase"])
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: signing Secret %s: %w", rc.Name, ref, err)
	}
	material := append(append([]byte(s.Format+":"), key...), data["passphrase"]...)
	return signer, material, nil
}
