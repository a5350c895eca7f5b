package e2e

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

func TestKubectlListsEnvironmentsWithTheSpecColumns(t *testing.T) {
	t.Parallel()
	ns := newFleet(t).ns
	out := kubectl(t, "alice", "get", "environments", "-n", ns)
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{"NAME", "BRANCH", "PATH", "FROM", "STRATEGY", "IMAGES", "PENDING", "REVISION", "AGE"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Fatalf("columns = %v, want %v", header, want)
	}
	for _, env := range []string{"dev", "test", "prod"} {
		if !strings.Contains(out, "\n"+env+" ") {
			t.Errorf("environment %s missing:\n%s", env, out)
		}
	}
	// AGE is the age of the commit that added the definition file.
	if strings.Contains(out, "<unknown>") {
		t.Errorf("an environment has no age:\n%s", out)
	}
	yaml := kubectl(t, "alice", "get", "env", "prod", "-n", ns, "-o", "yaml")
	for _, s := range []string{"image: registry.example.com/app:", "name: app", "type: Ready", "promotesFrom: test"} {
		if !strings.Contains(yaml, s) {
			t.Errorf("prod -o yaml lacks %q:\n%s", s, yaml)
		}
	}
	if out := kubectl(t, "alice", "get", "gitgate", "-n", ns, "-o", "name"); !strings.Contains(out, "environment.gitgate.dev/prod") {
		t.Errorf("category gitgate does not list environments:\n%s", out)
	}
}

func TestBobsPromotionIsExactlyOneCommit(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	tag := fleet.setTag("test", "version-3.")
	before := fleet.head()

	out := createPromotion(t, "bob", promotionYAML("release-"+strings.ReplaceAll(tag, ".", "-"), "prod", ""), "-n", ns, "-o", "name")
	name := strings.TrimPrefix(strings.TrimSpace(out), "promotion.gitgate.dev/")

	head := fleet.head()
	if parent := fleet.git(fleet.dir, "rev-parse", head+"^"); parent != before {
		t.Fatalf("the promotion is not one commit on top of %s (parent %s)", before, parent)
	}
	if files := fleet.git(fleet.dir, "diff", "--name-only", before, head); files != "overlays/prod/kustomization.yaml" {
		t.Errorf("the commit changed %q, want only the prod overlay", files)
	}
	if !strings.Contains(fleet.git(fleet.dir, "show", head+":overlays/prod/kustomization.yaml"), "newTag: "+tag) {
		t.Errorf("prod overlay does not carry %s", tag)
	}
	msg := fleet.git(fleet.dir, "log", "-1", "--format=%B", head)
	for _, trailer := range []string{"Gitgate-Promotion: " + name, "Gitgate-Environment: prod", "Promoted-By: bob", "Gitgate-From: test@"} {
		if !strings.Contains(msg, trailer) {
			t.Errorf("commit lacks %q:\n%s", trailer, msg)
		}
	}
	list := kubectl(t, "alice", "get", "promotions", "-n", ns)
	if !strings.Contains(list, name) || !strings.Contains(list, head[:7]) || !strings.Contains(list, "bob") {
		t.Errorf("kubectl get promotions does not show %s at %s by bob:\n%s", name, head[:7], list)
	}
	if out := kubectl(t, "alice", "get", "promotions", "-n", ns, "--field-selector", "spec.environment=prod", "-o", "name"); !strings.Contains(out, "promotion.gitgate.dev/"+name) {
		t.Errorf("field selector spec.environment=prod does not list the prod promotion %s:\n%s", name, out)
	}
	if out := kubectl(t, "alice", "get", "promotions", "-n", ns, "--field-selector", "spec.environment=dev", "-o", "name"); strings.Contains(out, name) {
		t.Errorf("field selector spec.environment=dev lists the prod promotion:\n%s", out)
	}
}

func TestServerDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	tag := fleet.setTag("dev", "development-4.")
	before := fleet.head()
	out := createPromotion(t, "alice", promotionYAML("dry-run-check", "test", ""), "-n", ns, "--dry-run=server", "-o", "yaml")
	if !strings.Contains(out, "to: "+tag) {
		t.Errorf("dry run does not show the planned change to %s:\n%s", tag, out)
	}
	if after := fleet.head(); after != before {
		t.Fatalf("dry run moved main from %s to %s", before, after)
	}
	if out := kubectlFails(t, "alice", "", "get", "promotion", "dry-run-check", "-n", ns); !strings.Contains(out, "NotFound") {
		t.Errorf("dry-run promotion exists: %s", out)
	}
}

func TestPromoteVerbScopesWhoPromotesWhere(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.setTag("test", "version-5.")
	before := fleet.head()
	out := kubectlFails(t, "alice", promotionYAML("alice-prod-", "prod", ""), "create", "-n", ns, "-f", "-")
	for _, s := range []string{"Forbidden", `verb "promote"`, `environment "prod"`, `namespace "` + ns + `"`} {
		if !strings.Contains(out, s) {
			t.Errorf("alice's refusal lacks %q: %s", s, out)
		}
	}
	if fleet.head() != before {
		t.Fatal("a forbidden promotion changed Git")
	}
	fleet.setTag("dev", "development-5.")
	if out := createPromotion(t, "alice", promotionYAML("alice-test-", "test", ""), "-n", ns); !strings.Contains(out, "created") {
		t.Fatalf("alice into test: %s", out)
	}
}

func TestInvalidPromotionsGet422AndLeaveGitAlone(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	before := fleet.head()
	// An unknown environment is a 422 for someone allowed to promote
	// anywhere; others learn nothing but their 403.
	if out := kubectlFails(t, "admin", promotionYAML("bad-env", "qa", "test"), "create", "-n", ns, "-f", "-"); !strings.Contains(out, `spec.environment: Not found: "qa"`) {
		t.Errorf("unknown environment as admin: %s", out)
	}
	if out := kubectlFails(t, "alice", promotionYAML("bad-env", "qa", "test"), "create", "-n", ns, "-f", "-"); !strings.Contains(out, "Forbidden") || strings.Contains(out, "Not found") {
		t.Errorf("unknown environment as alice: %s, want a 403 that does not say whether qa exists", out)
	}
	cases := []struct{ name, manifest, want string }{
		{"unknown image", "apiVersion: gitgate.dev/v1alpha1\nkind: Promotion\nmetadata: {name: bad-image}\nspec: {environment: prod, images: [nope]}\n", `spec.images[0]: Not found: "nope"`},
		{"nothing to promote", promotionYAML("bad-nothing", "prod", "prod"), "nothing to promote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := kubectlFails(t, "bob", tc.manifest, "create", "-n", ns, "-f", "-")
			if !strings.Contains(out, "is invalid") || !strings.Contains(out, tc.want) {
				t.Errorf("got %q, want a 422 saying %q", out, tc.want)
			}
		})
	}
	// The same through the clientset: the status code itself.
	_, err := clientset(t, "bob").GitgateV1alpha1().Promotions(ns).Create(context.Background(),
		&v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "bad-code"}, Spec: v1alpha1.PromotionSpec{Environment: "prod", Images: []string{"nope"}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("clientset error = %v, want 422 Invalid", err)
	}
	if fleet.head() != before {
		t.Fatal("invalid promotions changed Git")
	}
}

func TestPromotionsAreImmutable(t *testing.T) {
	t.Parallel()
	fleet := newFleet(t)
	ns := fleet.ns
	fleet.setTag("dev", "development-6.")
	createPromotion(t, "alice", promotionYAML("immutable-check", "test", ""), "-n", ns)
	out := kubectlFails(t, "admin", "", "patch", "promotion", "immutable-check", "-n", ns, "--type=merge", "-p", `{"spec":{"message":"x"}}`)
	if !strings.Contains(out, "immutable Git history") {
		t.Errorf("patch refusal: %s", out)
	}
	if out := kubectlFails(t, "admin", "", "delete", "promotion", "immutable-check", "-n", ns); !strings.Contains(out, "MethodNotAllowed") {
		t.Errorf("delete refusal: %s", out)
	}
}
