package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSealedSecretsReachTheClusterOnlyThroughGit seals a Secret with the
// real controller's certificate, checks that Git holds only ciphertext, and
// lets the controller open what Flux would apply.
func TestSealedSecretsReachTheClusterOnlyThroughGit(t *testing.T) {
	admissionRBAC(t)
	ctx := context.Background()
	fleet := cloneFleet(t)
	name := fmt.Sprintf("db-%d", time.Now().UnixNano()%1000000)
	password := fmt.Sprintf("pw-%d-hunter2", time.Now().UnixNano())

	// The Secret as kubectl makes it, piped into the plugin.
	secret := kubectl(t, "bob", "create", "secret", "generic", name, "--from-literal=password="+password, "--dry-run=client", "-o", "yaml")
	out, err := stack.KubectlPluginStdin(ctx, "bob", []byte(secret), "gitgate", "seal", "--environment", "prod", "-n", "shop")
	if err != nil || !strings.Contains(out, "sealedsecret.bitnami.com/"+name+" committed into environment prod (main:overlays/prod/"+name+".sealedsecret.yaml at ") {
		t.Fatalf("kubectl gitgate seal: %v\n%s", err, out)
	}

	// Git holds ciphertext only, in every commit.
	head := fleet.head()
	fleet.git(fleet.dir, "checkout", "-q", "-B", "main", "origin/main")
	file := filepath.Join(fleet.dir, "overlays", "prod", name+".sealedsecret.yaml")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), "kind: SealedSecret") || !strings.Contains(string(content), "namespace: shop-prod") {
		t.Fatalf("committed file:\n%s", content)
	}
	for _, plain := range []string{password, base64.StdEncoding.EncodeToString([]byte(password))} {
		if out := fleet.git(fleet.dir, "log", "--all", "--format=%H", "-S", plain); out != "" {
			t.Fatalf("commits holding the plain value: %s", out)
		}
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", head)
	for _, want := range []string{"Gitgate-Sealed-Secret: shop-prod/" + name, "Gitgate-Changed-By: bob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}

	// What Flux would apply: the rendered overlay, as kustomize-controller.
	rendered, err := exec.CommandContext(ctx, stack.KubectlPath(), "kustomize", filepath.Join(fleet.dir, "overlays", "prod")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	if out, err := stack.KubectlStdin(ctx, "admin", rendered, "apply", "--server-side", "--force-conflicts",
		"--field-manager=kustomize-controller", "--as="+fluxApplier, "-f", "-"); err != nil {
		t.Fatalf("Flux's apply: %v\n%s", err, out)
	}
	eventually(t, "the controller to unseal "+name, time.Minute, func() string {
		out, err := stack.Kubectl(ctx, "admin", "get", "secret", name, "-n", "shop-prod", "-o", "jsonpath={.data.password}")
		if err != nil {
			return err.Error()
		}
		if got, _ := base64.StdEncoding.DecodeString(out); string(got) != password {
			return "password is " + string(got)
		}
		return ""
	})

	// Dry runs: on the client with a certificate file, nothing sent; on
	// the server, every check and no commit.
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	cert := kubectl(t, "bob", "get", "--raw", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem")
	if err := os.WriteFile(certFile, []byte(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = plugin("bob", "gitgate", "seal", "cache-token", "--from-literal=token="+password, "--environment", "prod",
		"--cert", certFile, "--dry-run=client", "-o", "yaml", "-n", "shop")
	if err != nil || !strings.Contains(out, "kind: SealedSecret") || !strings.Contains(out, "namespace: shop-prod") || strings.Contains(out, password) {
		t.Fatalf("client dry run: %v\n%s", err, out)
	}
	out, err = plugin("bob", "gitgate", "seal", "cache-token", "--from-literal=token="+password, "--environment", "prod", "--dry-run=server", "-n", "shop")
	if err != nil || !strings.Contains(out, "(server dry run)") {
		t.Fatalf("server dry run: %v\n%s", err, out)
	}

	// The API takes ciphertext only: a plain Secret sent straight to it is a
	// 422 that names the field.
	plain := `{"apiVersion":"gitgate.dev/v1alpha1","kind":"SealedSecretRequest","spec":{"sealedSecret":` +
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"raw","namespace":"shop-prod"},"stringData":{"password":"` + password + `"}}}}`
	out = kubectlFails(t, "bob", plain, "create", "--raw", "/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/prod/sealedsecrets", "-f", "-")
	if !strings.Contains(out, "spec.sealedSecret.kind") || !strings.Contains(out, "is invalid") {
		t.Fatalf("a plain Secret sent to the API:\n%s", out)
	}
	if !strings.Contains(out, "seal it first") {
		t.Errorf("the 422 does not say what to do:\n%s", out)
	}

	// Sealing is RBAC-scoped like promoting: alice may not seal for prod.
	out, err = stack.KubectlPluginStdin(ctx, "alice", []byte(secret), "gitgate", "seal", "--environment", "prod", "-n", "shop")
	if err == nil || !strings.Contains(out, `needs the verb "seal" on environments.gitgate.dev named "prod"`) {
		t.Fatalf("alice sealing into prod: %v\n%s", err, out)
	}
	// The name is taken: replacing needs --overwrite.
	out, err = stack.KubectlPluginStdin(ctx, "bob", []byte(secret), "gitgate", "seal", "--environment", "prod", "-n", "shop")
	if err == nil || !strings.Contains(out, "--overwrite") {
		t.Fatalf("sealing an existing name: %v\n%s", err, out)
	}
	if fleet.head() != head {
		t.Fatal("a refused seal changed Git")
	}
}

// TestPlainSecretsInGitShowOnTheEnvironment commits a plain Secret into an
// environment path the way gitgate never would, and finds it reported.
func TestPlainSecretsInGitShowOnTheEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fleet := newFleet(t)
	fleet.git(fleet.dir, "checkout", "-q", "-B", "main", "origin/main")
	overlay := filepath.Join(fleet.dir, "overlays", "dev")
	original, err := os.ReadFile(filepath.Join(overlay, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	leaked := "apiVersion: v1\nkind: Secret\nmetadata: {name: leaked-token}\nstringData: {token: hunter2}\n"
	if err := os.WriteFile(filepath.Join(overlay, "leaked.yaml"), []byte(leaked), 0o644); err != nil {
		t.Fatal(err)
	}
	withResource := strings.Replace(string(original), "- ../../base\n", "- ../../base\n- leaked.yaml\n", 1)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(withResource), 0o644); err != nil {
		t.Fatal(err)
	}
	fleet.git(fleet.dir, "add", "-A")
	fleet.git(fleet.dir, "commit", "-q", "-m", "add a token, unsealed")
	fleet.git(fleet.dir, "push", "-q", "origin", "main")
	t.Cleanup(func() {
		fleet.git(fleet.dir, "fetch", "-q", "origin")
		fleet.git(fleet.dir, "checkout", "-q", "-B", "main", "origin/main")
		fleet.git(fleet.dir, "rm", "-q", filepath.Join("overlays", "dev", "leaked.yaml"))
		k := filepath.Join(overlay, "kustomization.yaml")
		now, _ := os.ReadFile(k)
		_ = os.WriteFile(k, []byte(strings.Replace(string(now), "- leaked.yaml\n", "", 1)), 0o644)
		fleet.git(fleet.dir, "commit", "-qam", "remove the unsealed token")
		fleet.git(fleet.dir, "push", "-q", "origin", "main")
	})
	eventually(t, "dev's PlaintextSecrets condition", 30*time.Second, func() string {
		out, _ := stack.Kubectl(ctx, "alice", "get", "environment", "dev", "-n", fleet.ns,
			"-o", `jsonpath={.status.conditions[?(@.type=="PlaintextSecrets")].message}`)
		if !strings.Contains(out, "shop-dev/leaked-token (overlays/dev/leaked.yaml)") || !strings.Contains(out, "kubectl gitgate seal --environment dev") {
			return "condition message: " + out
		}
		return ""
	})
}
