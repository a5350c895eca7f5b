package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// soakLeft reads the refusal of a promotion that came before its soak:
// when the upstream became Healthy at the revision, and how long is left.
var soakLeft = regexp.MustCompile(`has been Healthy for \S+ since (\S+); (\S+) left`)

// An environment with spec.promotionPolicy.minSoak takes from its upstream
// only what the upstream has run Healthy, as the real Flux reports it, for
// that long: a promotion that comes too early is refused (422) saying what
// stands in the way and how long is left, and leaves Git alone; once the
// soak has passed, the same promotion lands.
func TestMinSoakRefusesThenAdmits(t *testing.T) {
	ctx := context.Background()
	const soak = 30 * time.Second
	fleet := cloneFleet(t)
	env := uniqueName("soak")
	fleet.commitFiles("Add the "+env+" overlay", map[string]string{
		"overlays/" + env + "/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-" + env +
			"\nresources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: version-0.0.1\n- name: proxy\n  newName: registry.example.com/proxy\n  newTag: \"0.9\"\n",
	})
	createPromotion(t, "admin", envManifest("shop", env, "{path: overlays/"+env+", promotesFrom: test, promotionPolicy: {minSoak: "+soak.String()+"}}"))
	t.Cleanup(func() { _, _ = stack.Kubectl(ctx, "admin", "delete", "environment", env, "-n", "shop") })

	// test gets a revision of its own, pushed straight to Git: Flux has
	// not run it yet, let alone for 30s.
	tag := fleet.setTag("test", "version-71.")
	refs := fleet.gitRefs()
	out, err := plugin("admin", "create", "promotion", "--to", env, "-n", "shop")
	if err == nil {
		t.Fatalf("a promotion before the soak was admitted:\n%s", out)
	}
	if !strings.Contains(out, "is invalid: spec.from: Forbidden") || !strings.Contains(out, "spec.promotionPolicy.minSoak") ||
		!(strings.Contains(out, "is not Healthy there yet") || soakLeft.MatchString(out)) {
		t.Errorf("the refusal does not say what stands in the way:\n%s", out)
	}
	if got := fleet.gitRefs(); got != refs {
		t.Errorf("a refused promotion changed Git:\nbefore %s\nafter  %s", refs, got)
	}
	if got := kubectl(t, "admin", "get", "promotions", "-n", "shop", "-o", "jsonpath={.items[?(@.spec.environment==\""+env+"\")].metadata.name}"); got != "" {
		t.Errorf("a refused promotion is listed: %s", got)
	}

	// Once Flux runs test's revision Healthy, the refusal counts down.
	var since time.Time
	eventually(t, "the refusal says how long is left", fluxWait, func() string {
		out, err := plugin("admin", "create", "promotion", "--to", env, "-n", "shop", "--dry-run=server")
		if err == nil {
			return "admitted before the soak:\n" + out
		}
		m := soakLeft.FindStringSubmatch(out)
		if m == nil {
			return out
		}
		if since, err = time.Parse(time.RFC3339, m[1]); err != nil {
			t.Fatalf("the refusal's time %q: %v", m[1], err)
		}
		return ""
	})
	eventually(t, "the promotion is admitted once the soak passed", soak+fluxWait, func() string {
		if out, err := plugin("admin", "create", "promotion", "--to", env, "-n", "shop", "--dry-run=server"); err != nil {
			return out
		}
		return ""
	})
	if early := since.Add(soak).Sub(time.Now()); early > time.Second {
		t.Errorf("admitted %s before test had been Healthy for %s (Healthy since %s)", early, soak, since)
	}
	out, err = plugin("admin", "create", "promotion", "--to", env, "-n", "shop", "-o", "name")
	if err != nil {
		t.Fatalf("the promotion after the soak: %v\n%s", err, out)
	}
	got := kubectl(t, "admin", "get", "environment", env, "-n", "shop", "-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
	if strings.TrimSpace(got) != tag {
		t.Errorf("%s runs tag %q after the promotion, want %s", env, got, tag)
	}
}
