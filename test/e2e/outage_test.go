package e2e

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

func TestGitOutageServesReadsAndRefusesWritesWith503(t *testing.T) {
	fleet := cloneFleet(t)
	fleet.setTag("dev", "development-11.")
	if err := stack.Git.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = stack.Git.Restart()
		}
	}()

	if out := kubectl(t, "alice", "get", "environments", "-n", "shop", "-o", "name"); !strings.Contains(out, "environment.gitgate.dev/prod") {
		t.Fatalf("reads during the outage: %s", out)
	}
	eventually(t, "environments report GitReachable=False", 30*time.Second, func() string {
		out, _ := stack.Kubectl(context.Background(), "alice", "get", "env", "dev", "-n", "shop", "-o", `jsonpath={.status.conditions[?(@.type=="GitReachable")].status}`)
		if out != "False" {
			return "GitReachable is " + out
		}
		return ""
	})
	if msg := kubectl(t, "alice", "get", "env", "dev", "-n", "shop", "-o", `jsonpath={.status.conditions[?(@.type=="GitReachable")].message}`); strings.Contains(msg, stackGitPassword(t)) {
		t.Fatalf("GitReachable's message carries the Git password: %s", msg)
	}
	// One request, without client-go's retries of a 503 (kubectl retries
	// it up to 10 times, Retry-After apart): the answer itself is a 503
	// with Retry-After. BenchmarkPromoteWhileGitRefuses measures its time.
	start := time.Now()
	err := clientset(t, "alice").GitgateV1alpha1().RESTClient().Post().Namespace("shop").Resource("promotions").
		Body(&v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "during-outage-once"}, Spec: v1alpha1.PromotionSpec{Environment: "test"}}).
		MaxRetries(0).Do(context.Background()).Error()
	if seconds, ok := apierrors.SuggestsClientDelay(err); !apierrors.IsServiceUnavailable(err) || !ok || seconds <= 0 {
		t.Fatalf("one create during the outage: %v, want a 503 with Retry-After", err)
	}
	t.Logf("one create during the outage answered 503 in %v", time.Since(start))
	if strings.Contains(err.Error(), stackGitPassword(t)) {
		t.Fatalf("the 503 carries the Git password: %v", err)
	}

	_, err = clientset(t, "alice").GitgateV1alpha1().Promotions("shop").Create(context.Background(),
		&v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "during-outage"}, Spec: v1alpha1.PromotionSpec{Environment: "test"}}, metav1.CreateOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("create during the outage: %v, want 503", err)
	}
	if seconds, ok := apierrors.SuggestsClientDelay(err); !ok || seconds <= 0 {
		t.Errorf("503 carries no Retry-After: %v", err)
	}
	out := kubectlFails(t, "alice", promotionYAML("during-outage-2", "test", ""), "create", "-n", "shop", "-f", "-")
	if !strings.Contains(out, "ServiceUnavailable") && !strings.Contains(out, "cannot be reached") {
		t.Errorf("kubectl during the outage: %s", out)
	}
	// The plugin shows the 503 after one request: it does not repeat it
	// ten times, Retry-After apart, as client-go would.
	out, err = plugin("alice", "create", "promotion", "--to", "test", "-n", "shop", "-v=6")
	if err == nil || !strings.Contains(out, "ServiceUnavailable") {
		t.Fatalf("kubectl create promotion during the outage: %v\n%s", err, out)
	}
	if posts := strings.Count(out, `"Response" verb="POST"`); posts != 1 {
		t.Errorf("kubectl create promotion sent %d requests during the outage, want 1:\n%s", posts, out)
	}

	if err := stack.Git.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	createPromotion(t, "alice", promotionYAML("after-outage", "test", ""), "-n", "shop")
	if !strings.Contains(fleet.git(fleet.dir, "log", "-1", "--format=%B", fleet.head()), "Gitgate-Promotion: after-outage") {
		t.Fatal("the promotion after the outage is not the newest commit")
	}
}

func TestAPIServiceStaysAvailableAndSecretsStayOutOfLogs(t *testing.T) {
	status := kubectl(t, "admin", "get", "apiservice", "v1alpha1.gitgate.dev", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
	if status != "True" {
		t.Fatalf("APIService Available = %q", status)
	}
	out := kubectl(t, "alice", "api-resources", "--api-group=gitgate.dev")
	for _, s := range []string{"environments", "env", "promotions", "promo", "Environment", "Promotion"} {
		if !strings.Contains(out, s) {
			t.Errorf("api-resources lacks %q:\n%s", s, out)
		}
	}
	password := stackGitPassword(t)
	logs, err := os.ReadFile(stack.Logs("gitgate-apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logs), password) {
		t.Fatal("gitgate-apiserver's log contains the Git password")
	}
	if strings.Contains(string(logs), stack.WebhookToken) {
		t.Fatal("gitgate-apiserver's log contains the push-webhook token")
	}
}

// stackGitPassword is the password in the stack's Git URL.
func stackGitPassword(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(stack.GitURL)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	if password == "" {
		t.Fatal("the stack's Git URL carries no password: the test would prove nothing")
	}
	return password
}
