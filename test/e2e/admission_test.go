package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

const fluxApplier = "system:serviceaccount:flux-system:kustomize-controller"

// setupAdmission grants the RBAC the admission tests assume and creates
// this test's own managed Deployment of prod (see newManagedApp), whose
// name it returns.
func setupAdmission(t *testing.T) string {
	t.Helper()
	admissionRBAC(t)
	return newManagedApp(t)
}

// admissionRBAC grants what the admission tests assume: the teams may
// edit shop-prod, and Flux's applier is cluster-admin.
func admissionRBAC(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// alice and bob may edit workloads in shop-prod (which Flux's
	// Kustomization apps-prod fills); RBAC is not what stops them.
	if _, err := stack.Kubectl(ctx, "admin", "get", "rolebinding", "teams-edit", "-n", "shop-prod"); err != nil {
		kubectl(t, "admin", "create", "rolebinding", "teams-edit", "-n", "shop-prod", "--clusterrole=edit",
			"--group=shop-developers", "--group=shop-release-managers")
	}
	// Flux's applier is cluster-admin, as Flux installs it.
	if _, err := stack.Kubectl(ctx, "admin", "get", "clusterrolebinding", "flux-applier"); err != nil {
		kubectl(t, "admin", "create", "clusterrolebinding", "flux-applier", "--clusterrole=cluster-admin",
			"--serviceaccount=flux-system:kustomize-controller")
	}
}

// inEachMode runs a test against the webhook and against the rendered
// ValidatingAdmissionPolicy, then leaves the webhook in force.
func inEachMode(t *testing.T, test func(t *testing.T, mode string)) {
	defer func() {
		if err := stack.SetAdmissionMode(context.Background(), localstack.AdmissionWebhook); err != nil {
			t.Fatal(err)
		}
	}()
	for _, mode := range []string{localstack.AdmissionWebhook, localstack.AdmissionPolicy} {
		t.Run(mode, func(t *testing.T) {
			if err := stack.SetAdmissionMode(context.Background(), mode); err != nil {
				t.Fatal(err)
			}
			test(t, mode)
		})
	}
}

func TestAdmissionGitIsTheOnlyDoor(t *testing.T) {
	app := setupAdmission(t)
	inEachMode(t, func(t *testing.T, mode string) {
		refused := []struct {
			name string
			user string
			args []string
		}{
			{"denied: admin sets the image", "admin", []string{"set", "image", "deployment/" + app, "app=evil:1", "-n", "shop-prod"}},
			{"denied: alice deletes it", "alice", []string{"delete", "deployment", app, "-n", "shop-prod"}},
			{"denied: alice removes the Flux label", "alice", []string{"label", "deployment", app, "kustomize.toolkit.fluxcd.io/name-", "-n", "shop-prod"}},
			{"denied: admin edits through a patch", "admin", []string{"patch", "deployment", app, "-n", "shop-prod", "--type=merge", "-p", `{"spec":{"replicas":5}}`}},
			{"denied: server-side dry run gets the same answer", "admin", []string{"set", "image", "deployment/" + app, "app=evil:1", "-n", "shop-prod", "--dry-run=server"}},
		}
		want := []string{"gitgate: ", " refused: it is managed by Flux Kustomization flux-system/apps-prod", "kubectl create promotion --to "}
		if mode == localstack.AdmissionWebhook {
			want = append(want, "gitgate environment prod (namespace shop) holds it in overlays/prod of repository shop-fleet", "kubectl create promotion --to prod -n shop")
		} else {
			want = append(want, "policy mode: no break-glass and no Environment lookup")
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				before := objectState(t, "deployment", app, "shop-prod")
				out := kubectlFails(t, tc.user, "", tc.args...)
				for _, s := range want {
					if !strings.Contains(out, s) {
						t.Errorf("refusal lacks %q:\n%s", s, out)
					}
				}
				if after := objectState(t, "deployment", app, "shop-prod"); after != before {
					t.Fatalf("a refused change reached the object:\nbefore %s\nafter  %s", before, after)
				}
			})
		}

		// What passes: Flux's next apply, HPA-style scale, status, kube-system.
		fluxApplies(t, managedDeploymentYAML(app, "registry.example.com/app:version-1.2.3"))
		if image := kubectl(t, "admin", "get", "deployment", app, "-n", "shop-prod", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); image != "registry.example.com/app:version-1.2.3" {
			t.Fatalf("Flux's next apply did not reach the object: image %s", image)
		}
		kubectl(t, "admin", "scale", "deployment", app, "--replicas=2", "-n", "shop-prod")
		kubectl(t, "admin", "patch", "deployment", app, "-n", "shop-prod", "--subresource=status", "--type=merge", "-p", `{"status":{"observedGeneration":1}}`)
		kubectl(t, "admin", "create", "configmap", "managed-here", "-n", "kube-system", "--from-literal=a=b")
		kubectl(t, "admin", "label", "configmap", "managed-here", "-n", "kube-system", "kustomize.toolkit.fluxcd.io/name=x")
		kubectl(t, "admin", "delete", "configmap", "managed-here", "-n", "kube-system")
	})
}

func TestAdmissionBreakGlass(t *testing.T) {
	app := setupAdmission(t)
	unchanged := func(t *testing.T, before string) {
		t.Helper()
		if after := objectState(t, "deployment", app, "shop-prod"); after != before {
			t.Fatalf("a refused change reached the object:\nbefore %s\nafter  %s", before, after)
		}
	}
	// The policy mode has no break-glass: CEL cannot ask for the verb.
	if err := stack.SetAdmissionMode(context.Background(), localstack.AdmissionPolicy); err != nil {
		t.Fatal(err)
	}
	before := objectState(t, "deployment", app, "shop-prod")
	out := kubectlFails(t, "bob", "", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass=INC-6")
	if !strings.Contains(out, "no break-glass") {
		t.Errorf("break-glass in policy mode: %s", out)
	}
	unchanged(t, before)
	if err := stack.SetAdmissionMode(context.Background(), localstack.AdmissionWebhook); err != nil {
		t.Fatal(err)
	}
	// alice lacks the breakglass verb.
	out = kubectlFails(t, "alice", "", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass=INC-7 hotfix")
	if !strings.Contains(out, `alice may not use the "breakglass" verb on environment prod in namespace shop`) {
		t.Fatalf("alice's break-glass: %s", out)
	}
	unchanged(t, before)
	// bob has it: admitted with a warning, and an Event records who and why.
	out = kubectl(t, "bob", "annotate", "deployment", app, "-n", "shop-prod", "gitgate.dev/break-glass=INC-7 hotfix", "--overwrite")
	if !strings.Contains(out, "break-glass change by bob (INC-7 hotfix)") {
		t.Errorf("no break-glass warning:\n%s", out)
	}
	eventually(t, "a BreakGlass Event for deployment app", 30*time.Second, func() string {
		events, _ := stack.Kubectl(context.Background(), "admin", "get", "events.events.k8s.io", "-n", "shop-prod",
			"--field-selector", "reason=BreakGlass", "-o", "jsonpath={.items[*].note}")
		if !strings.Contains(events, "bob changed Deployment "+app+" outside Git (UPDATE): INC-7 hotfix") {
			return events
		}
		return ""
	})
	// With the annotation in place bob may change the object; alice still may not.
	kubectl(t, "bob", "set", "image", "deployment/"+app, "app=registry.example.com/app:hotfix", "-n", "shop-prod")
	if image := kubectl(t, "admin", "get", "deployment", app, "-n", "shop-prod", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); image != "registry.example.com/app:hotfix" {
		t.Fatalf("bob's break-glass change did not reach the object: image %s", image)
	}
	before = objectState(t, "deployment", app, "shop-prod")
	out = kubectlFails(t, "alice", "", "set", "image", "deployment/"+app, "app=registry.example.com/app:other", "-n", "shop-prod")
	if !strings.Contains(out, `alice may not use the "breakglass" verb on environment prod in namespace shop`) {
		t.Errorf("alice's change of a break-glassed object: %s", out)
	}
	unchanged(t, before)

	// prod shows the drift until Git catches up.
	drift := func() string {
		out, _ := stack.Kubectl(context.Background(), "alice", "get", "environment", "prod", "-n", "shop",
			"-o", `jsonpath={.status.conditions[?(@.type=="Drift")].status} {.status.conditions[?(@.type=="Drift")].message}`)
		return out
	}
	eventually(t, "prod reports the drift", 30*time.Second, func() string {
		if out := drift(); !strings.HasPrefix(out, "True ") || !strings.Contains(out, "Deployment shop-prod/"+app) || !strings.Contains(out, "INC-7 hotfix") {
			return out
		}
		return ""
	})
	cloneFleet(t).setTag("prod", "version-30.") // a commit to prod's path
	eventually(t, "prod's drift clears once Git changes", 30*time.Second, func() string {
		if out := drift(); !strings.HasPrefix(out, "False ") {
			return out
		}
		return ""
	})
}

func TestAdmissionEnforcedNamespace(t *testing.T) {
	admissionRBAC(t)
	ctx := context.Background()
	if _, err := stack.Kubectl(ctx, "admin", "get", "namespace", "shop-locked"); err != nil {
		kubectl(t, "admin", "create", "namespace", "shop-locked")
		kubectl(t, "admin", "label", "namespace", "shop-locked", "gitgate.dev/enforce=true")
	}
	inEachMode(t, func(t *testing.T, _ string) { enforcedNamespaceCases(t) })
}

func enforcedNamespaceCases(t *testing.T) {
	ctx := context.Background()
	out := kubectlFails(t, "admin", "", "create", "deployment", "hand-made", "--image=nginx", "-n", "shop-locked")
	if !strings.Contains(out, "namespace shop-locked is enforced (gitgate.dev/enforce=true)") {
		t.Fatalf("unlabelled Deployment in an enforced namespace: %s", out)
	}
	if out := kubectlFails(t, "admin", "", "create", "secret", "generic", "db", "--from-literal=password=x", "-n", "shop-locked"); !strings.Contains(out, "kubectl gitgate seal") {
		t.Errorf("plain Secret refusal does not point at sealing: %s", out)
	}
	lease := "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {generateName: l-, namespace: shop-locked}\nspec: {holderIdentity: me}\n"
	if out, err := stack.KubectlStdin(ctx, "admin", []byte(lease), "create", "-f", "-"); err != nil {
		t.Errorf("Lease in an enforced namespace: %v\n%s", err, out)
	}
	if out := kubectlFails(t, "admin", "", "run", "debug", "--image=busybox", "-n", "shop-locked"); !strings.Contains(out, "create of Pod shop-locked/debug by admin refused") {
		t.Errorf("kubectl run in an enforced namespace: %s", out)
	}
	// What Flux applies there passes, and so do the ReplicaSet and Pods the
	// controllers make from it: their creator is allowed, whatever their kind.
	workload := strings.NewReplacer("namespace: shop-prod", "namespace: shop-locked").Replace(managedDeploymentYAML("from-git", "registry.example.com/app:version-1.2.2"))
	if out, err := stack.KubectlStdin(ctx, "admin", []byte(workload), "apply", "--server-side", "--force-conflicts",
		"--field-manager=kustomize-controller", "--as="+fluxApplier, "-f", "-"); err != nil {
		t.Fatalf("Flux's apply in an enforced namespace: %v\n%s", err, out)
	}
	eventually(t, "the controllers create a Pod in the enforced namespace", 30*time.Second, func() string {
		out, _ := stack.Kubectl(ctx, "admin", "get", "pods", "-n", "shop-locked", "-l", "app=from-git", "-o", "name")
		if !strings.Contains(out, "pod/from-git-") {
			return "pods: " + out
		}
		return ""
	})
	event := "apiVersion: v1\nkind: Event\nmetadata: {generateName: e-, namespace: shop-locked}\ninvolvedObject: {kind: Pod, name: p, namespace: shop-locked}\nreason: Test\nmessage: hello\n"
	if out, err := stack.KubectlStdin(ctx, "admin", []byte(event), "create", "-f", "-"); err != nil {
		t.Errorf("Event in an enforced namespace: %v\n%s", err, out)
	}
}

func TestAdmissionProtectedScale(t *testing.T) {
	app := setupAdmission(t)
	ctx := context.Background()
	if err := stack.RestartGitgate(ctx, "--admission-protect-scale"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stack.RestartGitgate(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	before := objectState(t, "deployment", app, "shop-prod")
	out := kubectlFails(t, "admin", "", "scale", "deployment", app, "--replicas=3", "-n", "shop-prod")
	if after := objectState(t, "deployment", app, "shop-prod"); after != before {
		t.Fatalf("the refused scale reached the object:\nbefore %s\nafter  %s", before, after)
	}
	if !strings.Contains(out, "update of Scale shop-prod/"+app+"/scale by admin refused: it is managed by Flux Kustomization flux-system/apps-prod") {
		t.Fatalf("protected scale: %s", out)
	}
	// The HorizontalPodAutoscaler (a kube-system controller) still scales,
	// as it does: get the Scale, update it (client-go, impersonated).
	cfg := restConfig(t, "admin")
	cfg.Impersonate.UserName = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
	hpa, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scale, err := hpa.AppsV1().Deployments("shop-prod").GetScale(ctx, app, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 3
	if _, err := hpa.AppsV1().Deployments("shop-prod").UpdateScale(ctx, app, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("the HPA's scale: %v", err)
	}
}
