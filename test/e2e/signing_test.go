package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// openPGPKeyPair makes an ed25519 OpenPGP key: its armored secret and public halves.
func openPGPKeyPair(t *testing.T) (secret, public string) {
	t.Helper()
	e, err := openpgp.NewEntity("gitgate", "e2e", "gitgate@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var sec, pub bytes.Buffer
	w, _ := armor.Encode(&sec, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return sec.String() + "\n", pub.String() + "\n"
}

// gitRepositoryReady is a Flux GitRepository's Ready status, reason and artifact revision.
func gitRepositoryReady(name string) string {
	out, _ := stack.Kubectl(context.Background(), "admin", "get", "gitrepository", name, "-n", "flux-system", "-o",
		`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason} {.status.artifact.revision}`)
	return out
}

// TestFluxVerifiesGitgatesSignedCommits: a fleet whose commits gitgate
// signs with an OpenPGP key, followed by a Flux GitRepository that
// verifies every head commit against the public key. gitgate's signed
// promotion passes verification and Flux applies it; an unsigned commit
// pushed by someone else fails verification, and Flux keeps what it had.
func TestFluxVerifiesGitgatesSignedCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret, public := openPGPKeyPair(t)
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	f, err := stack.NewFleetWith(setup, uniqueName("signed"), localstack.FleetOptions{SigningFormat: "openpgp", SigningKey: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.RemoveFleet(context.Background(), f); err != nil {
			t.Errorf("removing fleet %s: %v", f.Name, err)
		}
	})
	fleet := cloneOf(t, f.GitURL, f.Name)
	target, err := stack.ApplyFleetWithFlux(setup, f, localstack.FluxFleetOptions{Environment: "test", VerifyPublicKey: public})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.RemoveFleetFromFlux(context.Background(), f, "test") })

	// The seed commit is unsigned: Flux refuses it.
	eventually(t, "Flux to refuse the unsigned seed commit", fluxWait, func() string {
		if got := gitRepositoryReady(f.Name); !strings.HasPrefix(got, "False InvalidCommitSignature") {
			return got
		}
		return ""
	})

	// gitgate's promotion is signed: Flux verifies and applies it.
	out, err := stack.KubectlPlugin(ctx, "alice", "create", "promotion", "--to", "test", "-n", f.Name, "-o", "jsonpath={.status.commit}")
	commit := strings.TrimSpace(out)
	if err != nil || len(commit) != 40 {
		t.Fatalf("promotion into test: %v\n%s", err, out)
	}
	fleet.git(fleet.dir, "fetch", "-q", "origin")
	gnupg := t.TempDir()
	imp := exec.Command("gpg", "--batch", "--import")
	imp.Env, imp.Stdin = append(os.Environ(), "GNUPGHOME="+gnupg), strings.NewReader(public)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	verify := exec.Command("git", "verify-commit", commit)
	verify.Dir, verify.Env = fleet.dir, append(os.Environ(), "GNUPGHOME="+gnupg)
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("git verify-commit of gitgate's promotion: %v\n%s", err, out)
	}
	eventually(t, "Flux to verify gitgate's promotion", fluxWait, func() string {
		if got := gitRepositoryReady(f.Name); got != "True Succeeded main@sha1:"+commit {
			return got
		}
		return ""
	})
	tag := kubectl(t, "admin", "get", "environment", "test", "-n", f.Name, "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
	eventually(t, "Flux to apply the promotion into "+target, fluxWait, func() string {
		out, _ := stack.Kubectl(ctx, "admin", "get", "deployment", "app", "-n", target, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if !strings.HasSuffix(out, ":"+tag) {
			return "image is " + out + ", want tag " + tag
		}
		return ""
	})

	// Someone pushes an unsigned commit: Flux refuses it and keeps the signed one.
	sneaked := fleet.commitFiles("Sneak a change past gitgate", map[string]string{"overlays/test/sneaked.txt": "unsigned\n"})
	eventually(t, "Flux to refuse the unsigned commit", fluxWait, func() string {
		got := gitRepositoryReady(f.Name)
		msg, _ := stack.Kubectl(ctx, "admin", "get", "gitrepository", f.Name, "-n", "flux-system", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
		if got != "False InvalidCommitSignature main@sha1:"+commit || !strings.Contains(msg, sneaked) {
			return got + ": " + msg
		}
		return ""
	})
}
