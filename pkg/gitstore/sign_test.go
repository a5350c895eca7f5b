package gitstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
)

// newOpenPGPKey returns an armored secret key and its armored public key.
func newOpenPGPKey(t *testing.T, passphrase []byte) (secret, public []byte) {
	t.Helper()
	e, err := openpgp.NewEntity("gitgate", "test", "gitgate@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(passphrase) > 0 {
		if err := e.EncryptPrivateKeys(passphrase, nil); err != nil {
			t.Fatal(err)
		}
	}
	var sec bytes.Buffer
	w, _ = armor.Encode(&sec, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return sec.Bytes(), pub.Bytes()
}

// newSSHKey returns an OpenSSH private key of the given type.
func newSSHKey(t *testing.T, kind string) []byte {
	t.Helper()
	var key any
	switch kind {
	case "ed25519":
		_, key, _ = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// signedCommit makes one commit with signer and pushes it to a bare
// repository; it returns the repository's directory and the commit.
func signedCommit(t *testing.T, signer Signer) (string, Hash) {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "fleet.git")
	ctx := context.Background()
	if _, err := gitserver.InitBare(ctx, bare, filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(Options{URL: "file://" + bare, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	heads, _ := repo.Branches()
	sig := Signature{Name: "gitgate", Email: "gitgate@example.com"}
	c, err := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "signed.txt", Content: []byte("signed\n")}},
		"Promote test into prod\n\nPromoted-By: alice\n", sig, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx, PushRequest{Branch: "main", Old: heads["main"], New: c}); err != nil {
		t.Fatal(err)
	}
	return bare, c
}

// verifyCommit runs the real git verify-commit and returns its output.
func verifyCommit(t *testing.T, gitDir string, commit Hash, env []string, config ...string) (string, error) {
	t.Helper()
	args := []string{"--git-dir", gitDir}
	for _, c := range config {
		args = append(args, "-c", c)
	}
	cmd := exec.Command("git", append(args, "verify-commit", "-v", commit.String())...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOpenPGPSignedCommitsPassGitVerifyCommit(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is needed to verify OpenPGP signatures (apt-get install gnupg)")
	}
	other, _ := newOpenPGPKey(t, nil)
	otherSigner, err := NewOpenPGPSigner(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		passphrase []byte
		signer     func(secret []byte) Signer // nil: the key itself
		good       bool
	}{
		{name: "good: signed with the imported key", good: true},
		{name: "good: signed with a passphrase-protected key", passphrase: []byte("correct horse"), good: true},
		{name: "bad: signed with a key gpg does not know", signer: func([]byte) Signer { return otherSigner }},
		{name: "bad: not signed at all", signer: func([]byte) Signer { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, public := newOpenPGPKey(t, tc.passphrase)
			signer, err := NewOpenPGPSigner(secret, tc.passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(signer.PublicKey(), "BEGIN PGP PUBLIC KEY BLOCK") {
				t.Fatalf("public key is not armored: %q", signer.PublicKey())
			}
			if tc.signer != nil {
				signer = tc.signer(secret)
			}
			gnupgHome := t.TempDir()
			env := []string{"GNUPGHOME=" + gnupgHome}
			imp := exec.Command("gpg", "--batch", "--import")
			imp.Env = append(os.Environ(), env...)
			imp.Stdin = bytes.NewReader(public)
			if out, err := imp.CombinedOutput(); err != nil {
				t.Fatalf("gpg --import: %v\n%s", err, out)
			}
			var s Signer
			if signer != nil {
				s = signer
			}
			bare, c := signedCommit(t, s)
			out, err := verifyCommit(t, bare, c, env)
			if tc.good && (err != nil || !strings.Contains(out, "Good signature")) {
				t.Fatalf("git verify-commit refused a commit signed with the imported key: %v\n%s", err, out)
			}
			if !tc.good && err == nil {
				t.Fatalf("git verify-commit accepted it:\n%s", out)
			}
		})
	}
}

func TestSSHSignedCommitsPassGitVerifyCommit(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatal("ssh-keygen is needed to verify SSH signatures (apt-get install openssh-client)")
	}
	cases := []struct {
		name       string
		kind       string
		allowOther bool // the allowed-signers file lists another key
		good       bool
	}{
		{name: "good: ed25519 key in the allowed-signers file", kind: "ed25519", good: true},
		{name: "good: RSA key, signed with rsa-sha2-512", kind: "rsa", good: true},
		{name: "bad: the allowed-signers file lists another key", kind: "ed25519", allowOther: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signer, err := NewSSHSigner(newSSHKey(t, tc.kind), nil)
			if err != nil {
				t.Fatal(err)
			}
			allowed := signer.PublicKey()
			if tc.allowOther {
				o, err := NewSSHSigner(newSSHKey(t, "ed25519"), nil)
				if err != nil {
					t.Fatal(err)
				}
				allowed = o.PublicKey()
			}
			file := filepath.Join(t.TempDir(), "allowed_signers")
			if err := os.WriteFile(file, []byte("gitgate@example.com namespaces=\"git\" "+allowed), 0o600); err != nil {
				t.Fatal(err)
			}
			bare, c := signedCommit(t, signer)
			out, err := verifyCommit(t, bare, c, nil, "gpg.format=ssh", "gpg.ssh.allowedSignersFile="+file)
			if tc.good && (err != nil || !strings.Contains(out, `Good "git" signature for gitgate@example.com`)) {
				t.Fatalf("git verify-commit refused an SSH-signed commit: %v\n%s", err, out)
			}
			if !tc.good && err == nil {
				t.Fatalf("git verify-commit accepted it:\n%s", out)
			}
		})
	}
}

func TestSignerRefusesBadKeysWithoutShowingThem(t *testing.T) {
	secret, _ := newOpenPGPKey(t, []byte("right"))
	sshKey := newSSHKey(t, "ed25519")
	cases := []struct {
		name, format string
		key, pass    []byte
		want         string
	}{
		{"refused: OpenPGP key without its passphrase", SignOpenPGP, secret, nil, "protected by a passphrase"},
		{"refused: OpenPGP key with a wrong passphrase", SignOpenPGP, secret, []byte("wrong"), "passphrase is wrong"},
		{"refused: an SSH key given as OpenPGP", SignOpenPGP, sshKey, nil, "not an armored secret key"},
		{"refused: an OpenPGP key given as SSH", SignSSH, secret, nil, "not an SSH private key"},
		{"refused: unknown format", "x509", sshKey, nil, "unknown signing format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSigner(tc.format, tc.key, tc.pass)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), string(tc.key[40:60])) {
				t.Fatalf("error shows key material: %v", err)
			}
		})
	}
}
