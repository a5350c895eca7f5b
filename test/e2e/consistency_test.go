package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// pushTag commits a new app tag into an environment's overlay with the git
// CLI and pushes it, without waiting for gitgate to notice.
func (c *fleetClone) pushTag(env, prefix string) string {
	c.t.Helper()
	tag := fmt.Sprintf("%s%d.%d", prefix, time.Now().Unix()%100000, tagCounter.Add(1))
	c.git(c.dir, "fetch", "-q", "origin")
	c.git(c.dir, "checkout", "-q", "-B", "main", "origin/main")
	file := filepath.Join(c.dir, "overlays", env, "kustomization.yaml")
	content := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-%s\nresources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: %s # {\"$imagepolicy\": \"flux-system:app-%s:tag\"}\n", env, tag, env)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.git(c.dir, "commit", "-q", "-am", "Build "+tag+" for "+env)
	c.git(c.dir, "push", "-q", "origin", "main")
	return tag
}

// TestPromotionRightAfterAGitPushCarriesThePushedImage is CI's sequence:
// git push a new dev image, then at once create a promotion dev → test.
// After the first round gitgate's last state has dev and test equal, so a
// plan on it would answer "nothing to promote". Every time the promotion
// carries the pushed image, and a get right after a push shows it: writes
// and reads without a resourceVersion check the remote's refs first.
func TestPromotionRightAfterAGitPushCarriesThePushedImage(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	// A client in this process, not a kubectl process: its request follows
	// the push by milliseconds, well inside gitgate's poll interval.
	gitgateClient := clientset(t, "alice").GitgateV1alpha1()
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		tag := fleet.pushTag("dev", "development-5.")
		name := fmt.Sprintf("ci-after-push-%d-%d", time.Now().Unix()%100000, i)
		p, err := gitgateClient.Promotions(ns).Create(ctx, &v1alpha1.Promotion{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.PromotionSpec{Environment: "test", From: "dev"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("promotion %d right after pushing %s: %v", i, tag, err)
		}
		if len(p.Status.Changes) != 1 || p.Status.Changes[0].Name != "app" || p.Status.Changes[0].To != tag {
			t.Fatalf("promotion %d right after pushing %s carries %+v", i, tag, p.Status.Changes)
		}
		if !strings.Contains(fleet.git(fleet.dir, "show", fleet.head()+":overlays/test/kustomization.yaml"), "newTag: "+tag) {
			t.Fatalf("promotion %d: test's overlay in Git does not carry %s", i, tag)
		}
	}
	for i := 1; i <= 5; i++ {
		tag := fleet.pushTag("dev", "development-6.")
		env, err := gitgateClient.Environments(ns).Get(ctx, "dev", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, img := range env.Status.Images {
			if img.Name == "app" {
				got = img.Tag
			}
		}
		if got != tag {
			t.Fatalf("get %d right after pushing %s shows dev at %q", i, tag, got)
		}
	}
}
