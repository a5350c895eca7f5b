package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// crudRounds is how many create-scale-delete rounds one measurement takes.
const crudRounds = 10

// unmanagedCRUD creates, scales and deletes ConfigMaps and Deployments in
// an unmanaged namespace as admin (a person, not an allowed identity), and
// returns how long that took: every request must succeed.
func unmanagedCRUD(t *testing.T, cs kubernetes.Interface, namespace, prefix string) time.Duration {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	start := time.Now()
	for i := 0; i < crudRounds; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := cs.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ConfigMap %s: %v", name, err)
		}
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
			Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}},
		}}
		if _, err := cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Deployment %s: %v", name, err)
		}
		if _, err := cs.AppsV1().Deployments(namespace).UpdateScale(ctx, name, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}}, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("scaling Deployment %s: %v", name, err)
		}
		if err := cs.CoreV1().ConfigMaps(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting ConfigMap %s: %v", name, err)
		}
		if err := cs.AppsV1().Deployments(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting Deployment %s: %v", name, err)
		}
	}
	return time.Since(start)
}

// devImage is the app image of the Deployment Flux applies into shop-dev.
func devImage(t *testing.T) string {
	return kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-dev", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
}

// commitDevTag commits a new app tag into overlays/dev, as a CI job would,
// without asking gitgate (which may be down).
func commitDevTag(fleet *fleetClone, tag string) {
	content := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-dev\nresources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: %s # {\"$imagepolicy\": \"flux-system:app-dev:tag\"}\n", tag)
	fleet.commitFiles("Build "+tag+" for dev", map[string]string{filepath.Join("overlays", "dev", "kustomization.yaml"): content})
}

// aliceSetsImage tries alice's kubectl set image on the managed Deployment
// app and checks it is refused with want in the message and changes nothing.
func aliceSetsImage(t *testing.T, app string, want ...string) {
	t.Helper()
	before := objectState(t, "deployment", app, "shop-prod")
	out := kubectlFails(t, "alice", "", "set", "image", "deployment/"+app, "app=evil:1", "-n", "shop-prod")
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("alice's refusal lacks %q:\n%s", s, out)
		}
	}
	if after := objectState(t, "deployment", app, "shop-prod"); after != before {
		t.Fatalf("alice's refused change reached the Deployment:\nbefore %s\nafter  %s", before, after)
	}
}

// TestAdmissionOutageStopsOnlyWhatGitgateGuards pauses gitgate-apiserver
// (SIGSTOP: kube-apiserver's calls hang until the webhook's timeout), then
// kills it (calls are refused at once): what gitgate does not guard keeps
// working at full speed, Flux keeps applying Git, and a person's change of
// a managed object is still refused.
func TestAdmissionOutageStopsOnlyWhatGitgateGuards(t *testing.T) {
	app := setupAdmission(t)
	ctx := context.Background()
	admin, err := kubernetes.NewForConfig(restConfig(t, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("outage-%d", time.Now().UnixNano()%1000000)
	kubectl(t, "admin", "create", "namespace", ns)
	fleet := cloneFleet(t)

	up := unmanagedCRUD(t, admin, ns, "up")

	if err := stack.PauseGitgate(); err != nil {
		t.Fatal(err)
	}
	down := true
	defer func() {
		if down {
			_ = stack.ResumeGitgate()
			if err := stack.RestartGitgate(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	paused := unmanagedCRUD(t, admin, ns, "paused")
	t.Logf("unmanaged CRUD, %d rounds of create ConfigMap and Deployment, scale, delete both: gitgate up %v, paused %v (ratio %.2f)",
		crudRounds, up, paused, float64(paused)/float64(up))

	// Namespaces are created and deleted: their deletion is requested at
	// once (finishing it needs every aggregated API, gitgate.dev included,
	// so it completes after gitgate is back).
	scratch := ns + "-scratch"
	kubectl(t, "admin", "create", "namespace", scratch)
	kubectl(t, "admin", "delete", "namespace", scratch, "--wait=false")

	// Flux applies a new commit into shop-dev.
	tag := fmt.Sprintf("outage-%d", time.Now().Unix()%100000)
	commitDevTag(fleet, tag)
	eventually(t, "Flux applies "+tag+" to shop-dev while gitgate is paused", fluxWait, func() string {
		if got := devImage(t); got != "registry.example.com/app:"+tag {
			return "image is " + got
		}
		return ""
	})

	// A person's change of a managed object is still refused, with
	// kube-apiserver's message.
	aliceSetsImage(t, app, `failed calling webhook "managed.gitgate.dev"`)

	// Killed: the calls fail at once; the same holds.
	if err := stack.KillGitgate(); err != nil {
		t.Fatal(err)
	}
	killed := unmanagedCRUD(t, admin, ns, "killed")
	t.Logf("unmanaged CRUD with gitgate killed: %v", killed)
	aliceSetsImage(t, app, `failed calling webhook "managed.gitgate.dev"`)

	// Back: everything as before.
	if err := stack.RestartGitgate(ctx); err != nil {
		t.Fatal(err)
	}
	down = false
	aliceSetsImage(t, app, "by alice refused: it is managed by Flux Kustomization flux-system/apps-prod", "kubectl create promotion --to prod -n shop")
	unmanagedCRUD(t, admin, ns, "after")
	eventually(t, "namespace "+scratch+" is deleted", fluxWait, func() string {
		if out, _ := stack.Kubectl(ctx, "admin", "get", "namespace", scratch, "--ignore-not-found", "-o", "name"); out != "" {
			return out + " is still there"
		}
		return ""
	})
	kubectl(t, "admin", "delete", "namespace", ns, "--wait=false")
}

// TestAdmissionOutageInPolicyMode: with the ValidatingAdmissionPolicy
// kube-apiserver decides alone, so a paused gitgate changes nothing at all.
func TestAdmissionOutageInPolicyMode(t *testing.T) {
	app := setupAdmission(t)
	admin, err := kubernetes.NewForConfig(restConfig(t, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	inEachMode(t, func(t *testing.T, mode string) {
		if mode != localstack.AdmissionPolicy {
			return // the webhook's outage is TestAdmissionOutageStopsOnlyWhatGitgateGuards
		}
		if err := stack.PauseGitgate(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := stack.ResumeGitgate(); err != nil {
				t.Error(err)
			}
		}()
		unmanagedCRUD(t, admin, "default", fmt.Sprintf("policy-%d", time.Now().UnixNano()%1000000))
		aliceSetsImage(t, app, "by alice refused: it is managed by Flux Kustomization flux-system/apps-prod", "policy mode")
		scratch := fmt.Sprintf("policy-outage-%d", time.Now().UnixNano()%1000000)
		kubectl(t, "admin", "create", "namespace", scratch)
		kubectl(t, "admin", "delete", "namespace", scratch, "--wait=false")
	})
}
