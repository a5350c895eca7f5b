package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestPromoteImagesWritesOneCommitWithTrailers(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	before := f.remoteHead("main")

	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("prod-1", "prod", ""), User: "bob"})
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}

	if p.Status.Phase != gitgate.PromotionSucceeded || p.Status.PromotedBy != "bob" || p.Spec.From != "test" {
		t.Errorf("promotion status = %+v, spec = %+v; want Succeeded by bob from test", p.Status, p.Spec)
	}
	want := []gitgate.Change{{Name: "app", From: "version-1.2.2", To: "version-1.2.3"}}
	if len(p.Status.Changes) != 1 || p.Status.Changes[0] != want[0] {
		t.Errorf("changes = %+v, want %+v", p.Status.Changes, want)
	}
	head := f.remoteHead("main")
	if head != p.Status.Commit {
		t.Fatalf("remote main is %s, want the promotion commit %s", head, p.Status.Commit)
	}
	if parent := f.git(f.work, "rev-parse", head+"^"); parent != before {
		t.Errorf("promotion commit's parent is %s, want the old head %s", parent, before)
	}
	if files := f.git(f.work, "diff", "--name-only", before, head); files != "overlays/prod/kustomization.yaml" {
		t.Errorf("commit changed %q, want only overlays/prod/kustomization.yaml", files)
	}
	diff := f.git(f.work, "diff", "-U0", before, head)
	if !strings.Contains(diff, `-  newTag: version-1.2.2 # {"$imagepolicy": "flux-system:app-prod:tag"}`) ||
		!strings.Contains(diff, `+  newTag: version-1.2.3 # {"$imagepolicy": "flux-system:app-prod:tag"}`) ||
		strings.Count(diff, "\n+") != 2 { // the +++ header and the one changed line
		t.Errorf("diff is not exactly the tag line with its setter marker:\n%s", diff)
	}
	msg := f.git(f.work, "log", "-1", "--format=%B", head)
	for _, line := range []string{
		"Gitgate-Promotion: prod-1", "Gitgate-Environment: prod", "Gitgate-Branch: main",
		"Gitgate-From: test@" + before, "Gitgate-Change: app version-1.2.2 -> version-1.2.3", "Promoted-By: bob",
	} {
		if !strings.Contains(msg, line) {
			t.Errorf("commit message lacks trailer %q:\n%s", line, msg)
		}
	}

	// Read back: the snapshot shows the new state.
	prod, _ := e.Snapshot().Environment("prod")
	if tag := findImageTag(prod, "app"); tag != "version-1.2.3" {
		t.Errorf("prod app tag after promotion = %q", tag)
	}
	if lp := prod.Status.LastPromotion; lp == nil || lp.Name != "prod-1" || lp.PromotedBy != "bob" {
		t.Errorf("prod lastPromotion = %+v", lp)
	}
	if up := prod.Status.Upstream; up == nil || len(up.Pending) != 0 {
		t.Errorf("prod upstream pending after promotion = %+v, want none", up)
	}

	// Another engine reads the same promotion back from history alone.
	other := f.engine("main")
	got, err := other.Snapshot().Promotion("prod-1")
	if err != nil || got.Status.Commit != head || got.Status.PromotedBy != "bob" || len(got.Status.Changes) != 1 {
		t.Fatalf("second engine reads prod-1 as %+v, %v", got, err)
	}
	if other.Snapshot().ResourceVersion() != e.Snapshot().ResourceVersion() {
		t.Errorf("engines disagree on resourceVersion for the same state: %d vs %d",
			other.Snapshot().ResourceVersion(), e.Snapshot().ResourceVersion())
	}
}

func TestPromoteRefusals(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	head := f.remoteHead("main")
	cases := []struct {
		name      string
		promotion *gitgate.Promotion
		field     string
		want      string
	}{
		{"invalid: unknown target environment", promotion("p1", "qa", "test"), "spec.environment", "Not found"},
		{"invalid: unknown source environment", promotion("p2", "prod", "staging"), "spec.from", "Not found"},
		{"invalid: unknown image", promotion("p3", "prod", "test", "nope"), "spec.images[0]", "Not found"},
		{"invalid: tag misses imageTagPattern", promotion("p4", "prod", "dev", "app"), "spec.images[app]", "imageTagPattern"},
		{"invalid: nothing to promote", promotion("p5", "prod", "prod"), "spec.environment", "nothing to promote"},
		{"invalid: no upstream", promotion("p6", "dev", ""), "spec.from", "has no promotesFrom"},
		{"invalid: bad revision", &gitgate.Promotion{Spec: gitgate.PromotionSpec{Environment: "prod", Revision: "zzz"}}, "spec.revision", "SHA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.promotion.Name == "" {
				tc.promotion.Name = "p7"
			}
			_, err := e.Promote(context.Background(), PromotionRequest{Promotion: tc.promotion, User: "alice"})
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Promote() error = %v, want an InvalidError on %s", err, tc.field)
			}
			if len(inv.Errors) == 0 || inv.Errors[0].Field != tc.field || !strings.Contains(inv.Error(), tc.want) {
				t.Fatalf("Promote() error = %v, want field %s saying %q", inv, tc.field, tc.want)
			}
		})
	}
	if after := f.remoteHead("main"); after != head {
		t.Fatalf("refused promotions moved main from %s to %s", head, after)
	}
}

func TestDryRunPlansWithoutWriting(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	head := f.remoteHead("main")
	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("dry", "test", ""), User: "alice", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Status.Changes) != 1 || p.Status.Changes[0].To != "development-1.2.4" || p.Status.Commit != "" {
		t.Errorf("dry run returned %+v, want the app change and no commit", p.Status)
	}
	if after := f.remoteHead("main"); after != head {
		t.Fatalf("dry run moved main from %s to %s", head, after)
	}
	if _, err := e.Snapshot().Promotion("dry"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dry-run promotion is in history: %v", err)
	}
}

func TestPromotionNamesAreUnique(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("once", "prod", ""), User: "bob"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("once", "test", ""), User: "bob"})
	if !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second promotion named once: %v, want ErrAlreadyExists", err)
	}
}

func TestRollbackPromotesAnEarlierRevisionOfTheSameEnvironment(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	before := f.remoteHead("main")
	if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("up", "prod", ""), User: "bob"}); err != nil {
		t.Fatal(err)
	}
	rb := promotion("rollback", "prod", "prod")
	rb.Spec.Revision = before[:10]
	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: rb, User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Status.Changes) != 1 || p.Status.Changes[0].To != "version-1.2.2" {
		t.Fatalf("rollback changes = %+v, want app back to version-1.2.2", p.Status.Changes)
	}
	if !strings.Contains(f.show("main", "overlays/prod/kustomization.yaml"), "newTag: version-1.2.2") {
		t.Fatal("rolled-back tag is not in Git")
	}
}
