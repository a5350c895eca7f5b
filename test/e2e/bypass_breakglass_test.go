package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitgate-dev/gitgate/internal/pki"
)

// gitRefs is every ref of the fleet's remote (branches and the audit ref
// refs/gitgate/audit), as `git ls-remote` lists them.
func (c *fleetClone) gitRefs() string {
	return c.git(c.dir, "ls-remote", "origin")
}

// auditLog fetches the audit ref and returns its commit messages.
func (c *fleetClone) auditLog() string {
	c.git(c.dir, "fetch", "-q", "origin", "+refs/gitgate/*:refs/gitgate/*")
	if !strings.Contains(c.git(c.dir, "show-ref"), "refs/gitgate/audit") {
		return ""
	}
	return c.git(c.dir, "log", "--format=%B%x00", "refs/gitgate/audit")
}

// appState is what a refused break-glass would have changed on the
// test's managed Deployment (see objectState).
func appState(t *testing.T, app string) string {
	t.Helper()
	return objectState(t, "deployment", app, "shop-prod")
}

func breakGlassEvents(t *testing.T) string {
	out, _ := stack.Kubectl(context.Background(), "admin", "get", "events.events.k8s.io", "-n", "shop-prod",
		"--field-selector", "reason=BreakGlass", "-o", "jsonpath={.items[*].note}")
	return out
}

func prodDrift(t *testing.T) string {
	out, _ := stack.Kubectl(context.Background(), "admin", "get", "environment", "prod", "-n", "shop",
		"-o", `jsonpath={.status.conditions[?(@.type=="Drift")].status} {.status.conditions[?(@.type=="Drift")].message}`)
	return out
}

// forgedReview is an AdmissionReview claiming that bob annotates the
// managed Deployment app with a break-glass reason, built from the real
// stored object (so its UID and resourceVersion are right).
func forgedReview(t *testing.T, app, reason string) []byte {
	t.Helper()
	stored := []byte(kubectl(t, "admin", "get", "deployment", app, "-n", "shop-prod", "-o", "json"))
	var obj map[string]any
	if err := json.Unmarshal(stored, &obj); err != nil {
		t.Fatal(err)
	}
	meta := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	annotations["gitgate.dev/break-glass"] = reason
	meta["annotations"] = annotations
	changed, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	review, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "forged-1", Operation: admissionv1.Update,
			Kind:      metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			Namespace: "shop-prod", Name: app,
			UserInfo: authenticationv1.UserInfo{Username: "bob", Groups: []string{"shop-release-managers", "system:authenticated"}},
			Object:   runtime.RawExtension{Raw: changed}, OldObject: runtime.RawExtension{Raw: stored},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return review
}

// postReview posts a review straight to gitgate's webhook port, as any
// process on the network could, presenting certs (none when nil).
func postReview(t *testing.T, review []byte, certs []tls.Certificate) (*admissionv1.AdmissionResponse, error) {
	t.Helper()
	caPEM, err := os.ReadFile(stack.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}}
	resp, err := client.Post("https://"+stack.AdmissionAddr+"/validate", "application/json", bytes.NewReader(review))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		return nil, fmt.Errorf("HTTP %d, not an AdmissionReview: %v", resp.StatusCode, err)
	}
	return out.Response, nil
}

// certFromKubeconfig is the client certificate of a kubeconfig's user.
func certFromKubeconfig(t *testing.T, file, user string) tls.Certificate {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range cfg.AuthInfos {
		if user == "" || name == user {
			cert, err := tls.X509KeyPair(auth.ClientCertificateData, auth.ClientKeyData)
			if err != nil {
				t.Fatal(err)
			}
			return cert
		}
	}
	t.Fatalf("no user %q in %s", user, file)
	return tls.Certificate{}
}

// Only kube-apiserver is heard: a forged AdmissionReview posted straight to
// the webhook port is refused at the TLS handshake and leaves no Event, no
// Git record and no drift.
func TestBypassForgedBreakGlassIsNotHeard(t *testing.T) {
	app := setupAdmission(t)
	fleet := cloneFleet(t)
	otherCA, err := pki.NewCA("not-the-cluster-ca")
	if err != nil {
		t.Fatal(err)
	}
	otherPair, err := otherCA.Issue(pki.Request{CommonName: "kube-apiserver-webhook-client", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := otherPair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name  string
		certs []tls.Certificate
	}{
		{"refused: no client certificate", nil},
		{"refused: a client certificate from another CA, with kube-apiserver's name", []tls.Certificate{otherCert}},
		{"refused: alice's own client certificate, from the cluster's CA", []tls.Certificate{certFromKubeconfig(t, stack.Kubeconfig, "alice")}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			refs, before := fleet.gitRefs(), appState(t, app)
			resp, err := postReview(t, forgedReview(t, app, "FORGED-"+tc.name), tc.certs)
			if err == nil {
				t.Fatalf("the webhook answered a forged review: allowed=%v", resp.Allowed)
			}
			if got := fleet.gitRefs(); got != refs {
				t.Errorf("Git changed:\nbefore %s\nafter  %s", refs, got)
			}
			if got := appState(t, app); got != before {
				t.Errorf("the Deployment changed: %q -> %q", before, got)
			}
			if strings.Contains(breakGlassEvents(t), "FORGED") || strings.Contains(fleet.auditLog(), "FORGED") || strings.Contains(prodDrift(t), "FORGED") {
				t.Errorf("a forged review left a trace")
			}
		})
	}
}

// Recorded only once seen: even a forged review that gets through (as on a
// cluster whose webhook cannot authenticate its caller: here it carries
// kube-apiserver's own certificate) records nothing, because the change it
// claims never reaches the object. bob's real break-glass right after it
// is recorded exactly once, in Git and as an Event, shows as drift and in
// kubectl gitgate history; the branches do not move. A dry run records
// nothing.
func TestBypassBreakGlassIsRecordedOnlyOnceSeen(t *testing.T) {
	app := setupAdmission(t)
	fleet := cloneFleet(t)
	suffix := fmt.Sprint(time.Now().UnixNano())
	forged, real := "FORGED-"+suffix, "INC-"+suffix

	branches := fleet.git(fleet.dir, "ls-remote", "--heads", "origin")
	resp, err := postReview(t, forgedReview(t, app, forged), []tls.Certificate{certFromKubeconfig(t, stack.AdmissionClientKubeconfig(), "")})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Allowed {
		t.Fatalf("a review with kube-apiserver's certificate and bob's name was refused: %+v", resp.Result)
	}

	// A server-side dry run gets the same answer and is never recorded.
	dryRun := "DRY-" + suffix
	if out := kubectl(t, "bob", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass="+dryRun, "--overwrite", "--dry-run=server"); !strings.Contains(out, "break-glass change by bob") {
		t.Errorf("the dry run got no break-glass warning:\n%s", out)
	}

	out := kubectl(t, "bob", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass="+real, "--overwrite")
	if !strings.Contains(out, "break-glass change by bob ("+real+")") {
		t.Errorf("no break-glass warning:\n%s", out)
	}
	eventually(t, "bob's break-glass on the audit ref", 30*time.Second, func() string {
		if log := fleet.auditLog(); !strings.Contains(log, "Gitgate-Break-Glass: "+real) {
			return "not yet"
		}
		return ""
	})
	log := fleet.auditLog()
	if n := strings.Count(log, "Gitgate-Break-Glass: "+real+"\n"); n != 1 {
		t.Errorf("bob's break-glass is recorded %d times, want once:\n%s", n, log)
	}
	for _, want := range []string{"Gitgate-Environment: prod", "Gitgate-Break-Glass-By: bob", "Gitgate-Operation: UPDATE", "Gitgate-Object: apps/v1 Deployment shop-prod/" + app} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit record lacks %q:\n%s", want, log)
		}
	}
	// The forged claim was decided by the revision bob's change made.
	if strings.Contains(log, forged) || strings.Contains(log, dryRun) {
		t.Errorf("the forged review or the dry run was recorded in Git:\n%s", log)
	}
	if got := fleet.git(fleet.dir, "ls-remote", "--heads", "origin"); got != branches {
		t.Errorf("recording moved a branch:\nbefore %s\nafter  %s", branches, got)
	}
	eventually(t, "bob's BreakGlass Event", 30*time.Second, func() string {
		if ev := breakGlassEvents(t); !strings.Contains(ev, "bob changed Deployment "+app+" outside Git (UPDATE): "+real) {
			return ev
		}
		return ""
	})
	if strings.Contains(breakGlassEvents(t), forged) {
		t.Error("the forged review left an Event")
	}
	eventually(t, "prod reports bob's drift", 30*time.Second, func() string {
		if d := prodDrift(t); !strings.HasPrefix(d, "True ") || !strings.Contains(d, real) {
			return d
		}
		return ""
	})
	if strings.Contains(prodDrift(t), forged) {
		t.Error("the forged review shows as drift")
	}
	// Deleting the Events hides nothing: drift comes from Git.
	kubectl(t, "admin", "delete", "events.events.k8s.io", "-n", "shop-prod", "--field-selector", "reason=BreakGlass")
	if d := prodDrift(t); !strings.Contains(d, real) {
		t.Errorf("deleting the Events hid the drift: %s", d)
	}
	history, err := stack.KubectlPlugin(context.Background(), "bob", "gitgate", "history", "prod", "-n", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(history, "break-glass UPDATE of Deployment shop-prod/"+app+": "+real) || !strings.Contains(history, "bob") {
		t.Errorf("kubectl gitgate history prod does not show bob's break-glass:\n%s", history)
	}
	if strings.Contains(history, forged) {
		t.Errorf("history shows the forged review:\n%s", history)
	}
}

// Whose breakglass is checked is not the requester's choice.
func TestBypassBreakGlassOwnerIsNotChosenByTheRequester(t *testing.T) {
	app := setupAdmission(t)
	fleet := cloneFleet(t)
	labelledConfigMap := func(kustomization string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: planted
  namespace: shop-prod
  labels: {kustomize.toolkit.fluxcd.io/name: %s, kustomize.toolkit.fluxcd.io/namespace: flux-system}
  annotations: {gitgate.dev/break-glass: "INC-planted"}
data: {a: b}
`, kustomization)
	}
	refuse := func(t *testing.T, user, stdin, want string, args ...string) {
		t.Helper()
		refs, before := fleet.gitRefs(), appState(t, app)
		out := kubectlFails(t, user, stdin, args...)
		if !strings.Contains(out, want) {
			t.Errorf("refusal lacks %q:\n%s", want, out)
		}
		if got := fleet.gitRefs(); got != refs {
			t.Errorf("Git changed:\nbefore %s\nafter  %s", refs, got)
		}
		if got := appState(t, app); got != before {
			t.Errorf("the Deployment changed: %q -> %q", before, got)
		}
		if _, err := stack.Kubectl(context.Background(), "admin", "get", "configmap", "planted", "-n", "shop-prod"); err == nil {
			t.Error("the planted ConfigMap exists")
		}
	}
	t.Run("refused: alice holds breakglass on nothing", func(t *testing.T) {
		refuse(t, "alice", "", `alice may not use the "breakglass" verb on environment prod in namespace shop`,
			"annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass=INC-alice", "--overwrite")
	})
	t.Run("refused: bob creates an object in shop-prod labelled for dev, where he holds breakglass", func(t *testing.T) {
		refuse(t, "bob", labelledConfigMap("apps-dev"),
			"is labelled for Flux Kustomization flux-system/apps-dev, but environment dev (namespace shop), which claims it, deploys into namespace shop-dev, not shop-prod",
			"create", "-f", "-")
	})
	t.Run("refused: alice creates an object labelled for prod", func(t *testing.T) {
		refuse(t, "alice", labelledConfigMap("apps-prod"), `alice may not use the "breakglass" verb on environment prod in namespace shop`, "create", "-f", "-")
	})
	t.Run("refused: two environments claim apps-prod (a direct Git commit)", func(t *testing.T) {
		shadow := ".gitgate/environments/prod-shadow.yaml"
		fleet.commitFiles("A second environment claims apps-prod", map[string]string{shadow: `apiVersion: gitgate.dev/v1alpha1
kind: Environment
metadata:
  name: prod-shadow
spec:
  path: overlays/prod-shadow
  strategy: Images
  fluxKustomization: {namespace: flux-system, name: apps-prod}
`})
		defer func() {
			fleet.commitFiles("Remove prod-shadow", map[string]string{shadow: ""})
			eventually(t, "prod-shadow to go", 30*time.Second, func() string {
				out, _ := stack.Kubectl(context.Background(), "admin", "get", "environments", "-n", "shop", "-o", "name")
				if strings.Contains(out, "prod-shadow") {
					return out
				}
				return ""
			})
		}()
		eventually(t, "gitgate to read prod-shadow", 30*time.Second, func() string {
			out, _ := stack.Kubectl(context.Background(), "admin", "get", "environments", "-n", "shop", "-o", "name")
			if !strings.Contains(out, "environment.gitgate.dev/prod-shadow") {
				return out
			}
			return ""
		})
		refuse(t, "bob", "", "environments shop/prod, shop/prod-shadow all claim Flux Kustomization flux-system/apps-prod",
			"annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass=INC-ambiguous", "--overwrite")
	})
}
