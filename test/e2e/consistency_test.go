package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// Every time it carries the pushed image, and a get right after a push
// shows it: writes and reads without a resourceVersion check the remote's
// refs first.
func TestPromotionRightAfterAGitPushCarriesThePushedImage(t *testing.T) {
	fleet := cloneFleet(t)
	for i := 1; i <= 5; i++ {
		tag := fleet.pushTag("dev", "development-5.")
		name := fmt.Sprintf("ci-after-push-%d-%d", time.Now().Unix()%100000, i)
		out := createPromotion(t, "alice", promotionYAML(name, "test", "dev"), "-n", "shop",
			"-o", `jsonpath={.status.changes[?(@.name=="app")].to}`)
		if strings.TrimSpace(out) != tag {
			t.Fatalf("promotion %d right after pushing %s carries %q", i, tag, out)
		}
		if !strings.Contains(fleet.git(fleet.dir, "show", fleet.head()+":overlays/test/kustomization.yaml"), "newTag: "+tag) {
			t.Fatalf("promotion %d: test's overlay in Git does not carry %s", i, tag)
		}

		tag = fleet.pushTag("dev", "development-6.")
		got := kubectl(t, "alice", "get", "environment", "dev", "-n", "shop", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
		if strings.TrimSpace(got) != tag {
			t.Fatalf("get right after pushing %s shows dev at %q", tag, got)
		}
	}
}
