package gitstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// Signature formats a Signer makes.
const (
	// SignOpenPGP makes armored OpenPGP detached signatures, as git does
	// with gpg.format=openpgp; Flux's GitRepository spec.verify checks them.
	SignOpenPGP = "openpgp"
	// SignSSH makes SSH signatures (PROTOCOL.sshsig, namespace "git"), as
	// git does with gpg.format=ssh; git verify-commit checks them against an
	// allowed-signers file.
	SignSSH = "ssh"
)

// Signer signs the commits a Repository makes. The signature goes into
// the commit's gpgsig header, over the commit encoded without it.
type Signer interface {
	// Sign returns the armored signature of payload.
	Sign(payload []byte) (string, error)
	// Format is SignOpenPGP or SignSSH.
	Format() string
	// PublicKey is the public half, to register with the Git host or Flux:
	// an armored OpenPGP public key, or an authorized_keys line.
	PublicKey() string
	// Fingerprint identifies the key in logs: the OpenPGP fingerprint, or
	// the SSH SHA256 fingerprint.
	Fingerprint() string
}

// signCommit sets c's signature when a signer is configured.
func signCommit(s Signer, c *object.Commit) error {
	if s == nil {
		return nil
	}
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return fmt.Errorf("encoding the commit to sign: %w", err)
	}
	rd, err := payload.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rd); err != nil {
		return err
	}
	sig, err := s.Sign(buf.Bytes())
	if err != nil {
		return fmt.Errorf("signing the commit (%s key %s): %w", s.Format(), s.Fingerprint(), err)
	}
	c.PGPSignature = sig
	return nil
}

// NewSigner makes a signer of format from a private key: an armored
// OpenPGP secret key, or an OpenSSH/PEM SSH private key. passphrase
// decrypts an encrypted key; errors never include key material.
func NewSigner(format string, privateKey, passphrase []byte) (Signer, error) {
	switch format {
	case SignOpenPGP:
		return NewOpenPGPSigner(privateKey, passphrase)
	case SignSSH:
		return NewSSHSigner(privateKey, passphrase)
	}
	return nil, fmt.Errorf("unknown signing format %q: use %s or %s", format, SignOpenPGP, SignSSH)
}

type openPGPSigner struct {
	entity    *openpgp.Entity
	publicKey string
}

// NewOpenPGPSigner reads an armored OpenPGP secret key (gpg
// --export-secret-keys --armor), decrypting it with passphrase when it is
// protected. The key's primary key, or its newest signing subkey, signs.
func NewOpenPGPSigner(armored, passphrase []byte) (Signer, error) {
	keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, errors.New("the OpenPGP signing key is not an armored secret key (gpg --export-secret-keys --armor)")
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("the OpenPGP signing key holds %d keys: export exactly one", len(keys))
	}
	e := keys[0]
	if e.PrivateKey == nil {
		return nil, errors.New("the OpenPGP signing key has no secret part: export it with gpg --export-secret-keys")
	}
	if err := decryptEntity(e, passphrase); err != nil {
		return nil, err
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.Serialize(w); err != nil {
		return nil, fmt.Errorf("serializing the OpenPGP public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &openPGPSigner{entity: e, publicKey: pub.String() + "\n"}, nil
}

func decryptEntity(e *openpgp.Entity, passphrase []byte) error {
	keys := []*packet.PrivateKey{e.PrivateKey}
	for _, sub := range e.Subkeys {
		if sub.PrivateKey != nil {
			keys = append(keys, sub.PrivateKey)
		}
	}
	for _, k := range keys {
		if !k.Encrypted {
			continue
		}
		if len(passphrase) == 0 {
			return errors.New("the OpenPGP signing key is protected by a passphrase: add it to the Secret as passphrase")
		}
		if err := k.Decrypt(passphrase); err != nil {
			return errors.New("the OpenPGP signing key's passphrase is wrong")
		}
	}
	return nil
}

func (s *openPGPSigner) Format() string    { return SignOpenPGP }
func (s *openPGPSigner) PublicKey() string { return s.publicKey }
func (s *openPGPSigner) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", s.entity.PrimaryKey.Fingerprint))
}

func (s *openPGPSigner) Sign(payload []byte) (string, error) {
	var out bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&out, s.entity, bytes.NewReader(payload), nil); err != nil {
		return "", err
	}
	return out.String() + "\n", nil
}

type sshSigner struct {
	signer ssh.Signer
}

// NewSSHSigner reads an SSH private key (ssh-keygen's OpenSSH format or
// PEM), decrypting it with passphrase when it is protected.
func NewSSHSigner(privateKey, passphrase []byte) (Signer, error) {
	var signer ssh.Signer
	var err error
	if len(passphrase) > 0 {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(privateKey, passphrase)
	} else {
		signer, err = ssh.ParsePrivateKey(privateKey)
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("the SSH signing key is protected by a passphrase: add it to the Secret as passphrase")
	case err != nil:
		return nil, errors.New("the SSH signing key is not an SSH private key (ssh-keygen's OpenSSH format or PEM), or its passphrase is wrong")
	}
	return &sshSigner{signer: signer}, nil
}

func (s *sshSigner) Format() string { return SignSSH }
func (s *sshSigner) PublicKey() string {
	return string(ssh.MarshalAuthorizedKey(s.signer.PublicKey()))
}
func (s *sshSigner) Fingerprint() string { return ssh.FingerprintSHA256(s.signer.PublicKey()) }

// sshsigNamespace is the namespace git signs commits in.
const sshsigNamespace = "git"

// Sign makes an SSH signature of payload as PROTOCOL.sshsig describes:
// the key signs "SSHSIG", the namespace, a reserved string, the hash
// algorithm and the SHA-512 of payload; the armored blob carries the
// public key, namespace, hash algorithm and that signature.
func (s *sshSigner) Sign(payload []byte) (string, error) {
	digest := sha512.Sum512(payload)
	signed := ssh.Marshal(struct {
		Namespace, Reserved, HashAlgorithm string
		Hash                               []byte
	}{sshsigNamespace, "", "sha512", digest[:]})
	signed = append([]byte("SSHSIG"), signed...)
	var sig *ssh.Signature
	var err error
	if as, ok := s.signer.(ssh.AlgorithmSigner); ok && s.signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed, ssh.KeyAlgoRSASHA512) // ssh-rsa (SHA-1) is refused by ssh-keygen -Y verify
	} else {
		sig, err = s.signer.Sign(rand.Reader, signed)
	}
	if err != nil {
		return "", err
	}
	blob := ssh.Marshal(struct {
		Version                            uint32
		PublicKey                          []byte
		Namespace, Reserved, HashAlgorithm string
		Signature                          []byte
	}{1, s.signer.PublicKey().Marshal(), sshsigNamespace, "", "sha512", ssh.Marshal(sig)})
	blob = append([]byte("SSHSIG"), blob...)
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		b.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	b.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return b.String(), nil
}
