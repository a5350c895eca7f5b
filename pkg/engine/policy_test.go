package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const testOverlayHead = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-test\nresources:\n- ../../base\nimages:\n"

// TestImageRulesCoverNameTagAndDigest: prod's imageTagPattern makes its
// image rules cover the whole reference. Each case puts an image into
// test's overlay (as a build would, straight to Git) and promotes it to prod.
func TestImageRulesCoverNameTagAndDigest(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name   string
		target string // the environment promoted into, from test
		image  string // test's images: entry for app
		want   string // "" means allowed (planned with a dry run)
	}{
		{"refused: a matching tag from another registry", "prod",
			"- name: app\n  newName: evil.example.com/app\n  newTag: version-1.2.9\n",
			`would change the image's name from "registry.example.com/app" to "evil.example.com/app"`},
		{"refused: a digest without a tag", "prod",
			"- name: app\n  newName: registry.example.com/app\n  digest: " + digest + "\n",
			"comes without a tag: prod's imageTagPattern"},
		{"refused: a digest beside a tag the pattern refuses", "prod",
			"- name: app\n  newName: registry.example.com/app\n  newTag: latest\n  digest: " + digest + "\n",
			"tag must match prod's imageTagPattern"},
		{"refused: newName dropped, so the base's image name would be pulled", "prod",
			"- name: app\n  newTag: version-1.2.9\n",
			`would change the image's name from "registry.example.com/app" to "app"`},
		{"allowed: a digest beside a matching tag", "prod",
			"- name: app\n  newName: registry.example.com/app\n  newTag: version-1.2.9\n  digest: " + digest + "\n", ""},
		{"allowed: another registry into an environment without image rules", "dev",
			"- name: app\n  newName: mirror.example.com/app\n  newTag: anything\n", ""},
	}
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.commitFile("main", "overlays/test/kustomization.yaml", testOverlayHead+tc.image)
			if err := e.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			before := f.remoteHead("main")
			p := promotion("rules-"+string(rune('a'+i)), tc.target, "test", "app")
			got, err := e.Promote(ctx, PromotionRequest{Promotion: p, User: "bob", DryRun: tc.want == ""})
			if tc.want == "" {
				if err != nil || len(got.Status.Changes) != 1 {
					t.Fatalf("Promote() = %+v, %v; want one planned change", got, err)
				}
				return
			}
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Errors[0].Field != "spec.images[app]" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Promote() error = %v, want a 422 on spec.images[app] containing %q", err, tc.want)
			}
			if after := f.remoteHead("main"); after != before {
				t.Fatalf("a refused promotion moved main from %s to %s", before, after)
			}
		})
	}
}

// TestMergeIntoTheDefaultBranchCarriesNoDefinitions: on a git-flow fleet,
// someone who may push to test changes prod's definition there; promoting
// test into prod (main, where definitions live) is refused naming the file,
// and works again once test's definitions match main's.
func TestMergeIntoTheDefaultBranchCarriesNoDefinitions(t *testing.T) {
	f := newFixture(t, "gitflow", "main", "dev", "test")
	original := f.show("main", ".gitgate/environments/prod.yaml")
	f.commitFile("test", "deploy/feature.txt", "a feature\n")
	f.commitFile("test", ".gitgate/environments/prod.yaml", original+"\n  review: false\n  imageTagPattern: '.*'\n")
	f.commitFile("test", ".gitgate/environments/extra.yaml", "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: extra}\nspec: {path: extra}\n")
	e := f.engine("main")
	ctx := context.Background()
	before := f.remoteHead("main")

	_, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-1", "prod", ""), User: "bob"})
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Errors[0].Field != "spec.from" ||
		!strings.Contains(err.Error(), "(.gitgate/environments/extra.yaml, .gitgate/environments/prod.yaml)") ||
		!strings.Contains(err.Error(), "must not change environments") {
		t.Fatalf("Merge promotion carrying definitions: %v, want a 422 on spec.from naming both files", err)
	}
	if after := f.remoteHead("main"); after != before {
		t.Fatalf("a refused promotion moved main from %s to %s", before, after)
	}

	// test brings its definitions back in line: the feature is promoted.
	f.commitFile("test", ".gitgate/environments/prod.yaml", original+"\n")
	f.pull("test")
	f.git(f.work, "rm", "-q", ".gitgate/environments/extra.yaml")
	f.git(f.work, "commit", "-q", "-m", "drop extra")
	f.git(f.work, "push", "-q", "origin", "test")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-2", "prod", ""), User: "bob"}); err != nil {
		t.Fatalf("Merge promotion with matching definitions: %v", err)
	}
	if f.show("main", "deploy/feature.txt") != "a feature" {
		t.Fatal("the feature did not reach main")
	}
}
