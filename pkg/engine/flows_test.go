package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestReviewModeIsProposedUntilMerged(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	f.commitFile("main", ".gitgate/environments/prod.yaml", `apiVersion: gitgate.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {path: overlays/prod, promotesFrom: test, review: true}
`)
	e := f.engine("main")
	mainBefore := f.remoteHead("main")

	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("prod-7", "prod", ""), User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != gitgate.PromotionProposed || p.Status.Branch != "gitgate/promotions/prod-7" {
		t.Fatalf("reviewed promotion = %s on %s, want Proposed on gitgate/promotions/prod-7", p.Status.Phase, p.Status.Branch)
	}
	if f.remoteHead("main") != mainBefore {
		t.Fatal("a reviewed promotion moved main")
	}
	if f.remoteHead("gitgate/promotions/prod-7") != p.Status.Commit {
		t.Fatal("the review branch does not hold the promotion commit")
	}

	// The pull request is merged on the Git host.
	f.pull("main")
	f.git(f.work, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "origin/gitgate/promotions/prod-7")
	f.git(f.work, "push", "-q", "origin", "main")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Snapshot().Promotion("prod-7")
	if got.Status.Phase != gitgate.PromotionSucceeded || got.Status.Branch != "main" {
		t.Fatalf("after merge prod-7 is %s on %s, want Succeeded on main", got.Status.Phase, got.Status.Branch)
	}
}

func TestMergeStrategyMovesTheBranchOrNamesTheCommitsToMergeBack(t *testing.T) {
	f := newFixture(t, "gitflow", "main", "dev", "test")
	f.commitFile("dev", "deploy/feature.txt", "new feature\n")
	e := f.engine("main")

	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-1", "test", ""), User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	head := f.remoteHead("test")
	if head != p.Status.Commit {
		t.Fatalf("test is at %s, want the promotion commit %s", head, p.Status.Commit)
	}
	if diff := f.git(f.work, "diff", "origin/dev", "origin/test"); diff != "" {
		t.Fatalf("test's tree differs from dev's after the promotion:\n%s", diff)
	}
	if parents := f.git(f.work, "log", "-1", "--format=%P", head); len(strings.Fields(parents)) != 2 {
		t.Fatalf("promotion commit parents = %q, want test's old head and dev's head", parents)
	}

	// A second promotion after more work on dev merges cleanly on top.
	f.commitFile("dev", "deploy/feature.txt", "better feature\n")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-2", "test", ""), User: "alice"}); err != nil {
		t.Fatalf("second promotion: %v", err)
	}

	// A hotfix straight on test makes test diverge from dev.
	hotfix := f.commitFile("test", "deploy/hotfix.txt", "fix\n")
	f.commitFile("dev", "deploy/feature.txt", "even better\n")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := f.remoteHead("test")
	_, err = e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-3", "test", ""), User: "alice"})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || len(conflict.Commits) != 1 || !strings.HasPrefix(conflict.Commits[0], hotfix[:7]) {
		t.Fatalf("diverged promotion error = %v, want a conflict naming %s", err, hotfix[:7])
	}
	if !strings.Contains(conflict.Error(), "merge them back first") {
		t.Errorf("conflict message does not say what to do: %s", conflict)
	}
	if f.remoteHead("test") != before {
		t.Fatal("a refused promotion moved test")
	}

	// Promoting back (test -> dev) is the same operation: dev has a commit
	// test lacks, so it is refused naming that commit, and nothing moves.
	devBefore := f.remoteHead("dev")
	_, err = e.Promote(context.Background(), PromotionRequest{Promotion: promotion("dev-back", "dev", "test"), User: "alice"})
	if !errors.As(err, &conflict) || len(conflict.Commits) != 1 {
		t.Fatalf("promoting test into diverged dev: %v, want a conflict naming dev's one commit test lacks", err)
	}
	if f.remoteHead("dev") != devBefore {
		t.Fatal("a refused promotion moved dev")
	}

	// Once the hotfix is merged back into dev, dev -> test works again:
	// test fast-forwards to dev, which now holds both the hotfix and the feature.
	f.pull("dev")
	f.git(f.work, "merge", "-q", "--no-edit", "origin/test")
	f.git(f.work, "push", "-q", "origin", "dev")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-4", "test", ""), User: "alice"})
	if err != nil {
		t.Fatalf("promotion after merging the hotfix back: %v", err)
	}
	if head := f.remoteHead("test"); head != again.Status.Commit {
		t.Fatalf("test is at %s, want the promotion's commit %s", head, again.Status.Commit)
	}
	if diff := f.git(f.work, "diff", "origin/dev", "origin/test"); diff != "" {
		t.Fatalf("test differs from dev after the promotion:\n%s", diff)
	}
	if got := f.show("test", "deploy/hotfix.txt"); got != "fix" {
		t.Fatalf("test lost the hotfix: %q", got)
	}
}

func TestConcurrentEnginesPromoteEachChangeExactlyOnce(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	const perEngine = 20
	// dev gets 2*perEngine revisions, each with its own tag.
	var revs []string
	for i := 0; i < 2*perEngine; i++ {
		revs = append(revs, f.commitFile("main", "overlays/dev/kustomization.yaml", fmt.Sprintf(
			"resources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: development-%d\n", i)))
	}
	engines := []*Engine{f.engine("main"), f.engine("main")}
	var mu sync.Mutex
	succeeded := map[string]bool{}
	landed := make([]int, len(engines))
	var conflicts int
	var wg sync.WaitGroup
	for n, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := n; i < len(revs); i += 2 {
				p := promotion(fmt.Sprintf("test-%d", i), "test", "dev")
				p.Spec.Revision = revs[i]
				_, err := e.Promote(context.Background(), PromotionRequest{Promotion: p, User: "ci"})
				mu.Lock()
				switch {
				case err == nil:
					succeeded[p.Name] = true
					landed[n]++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Errorf("%s: %v", p.Name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(succeeded)+conflicts != 2*perEngine {
		t.Fatalf("%d succeeded + %d conflicts, want %d in all", len(succeeded), conflicts, 2*perEngine)
	}
	f.remoteHead("main") // fetches
	log := f.git(f.work, "log", "--format=%P%x09%(trailers:key=Gitgate-Promotion,valueonly,separator=%x2C)", "origin/main")
	seen := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		parents, name, _ := strings.Cut(line, "\t")
		if len(strings.Fields(parents)) > 1 {
			t.Fatalf("history is not linear: a merge commit with parents %s", parents)
		}
		if name = strings.TrimSpace(name); name != "" {
			seen[name]++
		}
	}
	for name := range succeeded {
		if seen[name] != 1 {
			t.Errorf("%s is in history %d times, want once", name, seen[name])
		}
	}
	if len(seen) != len(succeeded) {
		t.Errorf("history holds %d promotions, %d succeeded", len(seen), len(succeeded))
	}
	// Re-planning on the moved head is what makes racing writers work: each
	// engine lands its promotions, and giving up (after PushAttempts
	// re-plans) is the rare exception, not the rule.
	for n, count := range landed {
		if count == 0 {
			t.Errorf("engine %d landed none of its %d promotions", n, perEngine)
		}
	}
	if conflicts > perEngine/2 {
		t.Errorf("%d of %d promotions gave up after repeated conflicts, want at most %d", conflicts, 2*perEngine, perEngine/2)
	}
	t.Logf("%d promotions succeeded, %d gave up after repeated conflicts", len(succeeded), conflicts)
}

func TestGitOutageKeepsReadsAndFailsWritesWithRetryHint(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	if err := f.server.Stop(); err != nil {
		t.Fatal(err)
	}

	err := e.Refresh(context.Background())
	var unavailable *UnavailableError
	if !errors.As(err, &unavailable) || unavailable.RetryAfter <= 0 {
		t.Fatalf("refresh during outage: %v, want an UnavailableError with a retry hint", err)
	}
	envs := e.Snapshot().Environments()
	if len(envs) != 3 {
		t.Fatalf("during the outage %d environments are served, want 3", len(envs))
	}
	if ok, _ := e.Snapshot().GitReachable(); ok {
		t.Error("snapshot says Git is reachable during the outage")
	}
	if !hasCondition(envs[0], gitgate.ConditionGitReachable, "False") {
		t.Errorf("environment conditions during outage: %+v", envs[0].Status.Conditions)
	}
	_, err = e.Promote(context.Background(), PromotionRequest{Promotion: promotion("down", "prod", ""), User: "bob"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("promotion during outage: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), testPass) {
		t.Fatalf("error leaks the password: %v", err)
	}

	if err := f.server.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("up", "prod", ""), User: "bob"}); err != nil {
		t.Fatalf("promotion after restart: %v", err)
	}
	if ok, _ := e.Snapshot().GitReachable(); !ok {
		t.Error("snapshot still says Git is unreachable")
	}
}

func hasCondition(env *gitgate.Environment, typ, status string) bool {
	for _, c := range env.Status.Conditions {
		if c.Type == typ && string(c.Status) == status {
			return true
		}
	}
	return false
}

func TestBrokenDefinitionsAffectOnlyTheirEnvironment(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	f.commitFile("main", ".gitgate/environments/qa.yaml", "spec: [this is not a spec\n")
	f.commitFile("main", "overlays/test/kustomization.yaml", "images: app\n")
	e := f.engine("main")
	s := e.Snapshot()

	for name, broken := range map[string]bool{"qa": true, "test": true, "dev": false, "prod": true} {
		env, err := s.Environment(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		isBroken := s.EnvironmentError(name) != nil
		if name == "prod" {
			// prod is fine; only its upstream (test) is broken.
			broken = false
		}
		if isBroken != broken || hasCondition(env, gitgate.ConditionReady, "False") != broken {
			t.Errorf("%s: broken=%v (conditions %+v), want broken=%v", name, isBroken, env.Status.Conditions, broken)
		}
	}
	var inv *InvalidError
	if !errors.As(s.EnvironmentError("test"), &inv) || inv.Errors[0].Field != "spec.path" {
		t.Errorf("test's error = %v, want one on spec.path", s.EnvironmentError("test"))
	}
	if _, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("x", "test", ""), User: "a"}); !errors.As(err, &inv) {
		t.Errorf("promotion into a broken environment: %v, want InvalidError", err)
	}
	if tag := findImageTag(mustEnv(t, s, "dev"), "app"); tag != "development-1.2.4" {
		t.Errorf("dev still served with tag %q", tag)
	}
}

func mustEnv(t *testing.T, s *Snapshot, name string) *gitgate.Environment {
	t.Helper()
	env, err := s.Environment(name)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestEnvironmentWritesAreCommits(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	for _, dir := range []string{"staging", "qa"} { // every environment owns its own overlay
		f.commitFile("main", "overlays/"+dir+"/kustomization.yaml", "resources:\n- ../../base\nimages:\n- name: app\n  newTag: "+dir+"-1\n")
	}
	e := f.engine("main")
	ctx := context.Background()
	staging := &gitgate.Environment{Spec: gitgate.EnvironmentSpec{Path: "overlays/staging", PromotesFrom: "test", Strategy: gitgate.StrategyImages}}
	staging.Name = "staging"

	// A dry run checks everything and writes nothing.
	before := f.remoteHead("main")
	if _, err := e.CreateEnvironment(ctx, EnvironmentWrite{Environment: staging, User: "admin", DryRun: true}); err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	badPath := staging.DeepCopy()
	badPath.Spec.Path = "overlays/nowhere"
	var dryInvalid *InvalidError
	if _, err := e.CreateEnvironment(ctx, EnvironmentWrite{Environment: badPath, DryRun: true}); !errors.As(err, &dryInvalid) {
		t.Fatalf("dry-run create with a missing path: %v, want InvalidError", err)
	}
	if after := f.remoteHead("main"); after != before {
		t.Fatalf("dry runs moved main from %s to %s", before, after)
	}
	if _, err := e.Snapshot().Environment("staging"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a dry-run environment exists: %v", err)
	}

	created, err := e.CreateEnvironment(ctx, EnvironmentWrite{Environment: staging, User: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.show("main", ".gitgate/environments/staging.yaml"), "promotesFrom: test") {
		t.Fatal("the definition file is not in Git")
	}
	if len(created.Status.Images) == 0 {
		t.Errorf("created environment has no status images: %+v", created.Status)
	}
	addedAt := f.git(f.work, "log", "-1", "--format=%ct", "origin/main", "--", ".gitgate/environments/staging.yaml")
	if got := fmt.Sprint(created.CreationTimestamp.Unix()); got != addedAt {
		t.Errorf("creationTimestamp %s, want the time of the commit that added the file (%s)", got, addedAt)
	}
	rvAtCreate := e.Snapshot().ResourceVersionString()

	// Someone else changes the file; an update from the old read conflicts.
	f.commitFile("main", ".gitgate/environments/staging.yaml", "apiVersion: gitgate.dev/v1alpha1\nkind: Environment\nmetadata: {name: staging}\nspec: {path: overlays/staging, promotesFrom: dev}\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if changed, _ := e.Snapshot().Environment("staging"); !changed.CreationTimestamp.Equal(&created.CreationTimestamp) {
		t.Errorf("a change to the definition moved creationTimestamp from %v to %v", created.CreationTimestamp, changed.CreationTimestamp)
	}
	// A fresh engine finds the same time in history.
	if fresh, _ := f.engine("main").Snapshot().Environment("staging"); !fresh.CreationTimestamp.Equal(&created.CreationTimestamp) {
		t.Errorf("another replica reads creationTimestamp %v, want %v", fresh.CreationTimestamp, created.CreationTimestamp)
	}
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	stale := staging.DeepCopy()
	stale.ResourceVersion = rvAtCreate
	stale.Spec.ImageTagPattern = "^v"
	if _, err := e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: stale, User: "admin"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	fresh := stale.DeepCopy()
	fresh.ResourceVersion = e.Snapshot().ResourceVersionString()
	if _, err := e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: fresh, User: "admin"}); err != nil {
		t.Fatalf("fresh update: %v", err)
	}

	for name, env := range map[string]*gitgate.Environment{
		"spec.path":         {Spec: gitgate.EnvironmentSpec{Path: "overlays/nowhere", Strategy: gitgate.StrategyImages}},
		"spec.promotesFrom": {Spec: gitgate.EnvironmentSpec{Path: "overlays/qa", PromotesFrom: "bogus", Strategy: gitgate.StrategyImages}},
		"spec.strategy":     {Spec: gitgate.EnvironmentSpec{Path: "overlays/qa", Strategy: "Yolo"}},
	} {
		env.Name = "bad"
		var inv *InvalidError
		if _, err := e.CreateEnvironment(ctx, EnvironmentWrite{Environment: env}); !errors.As(err, &inv) || inv.Errors[0].Field != name {
			t.Errorf("invalid environment: %v, want an error on %s", err, name)
		}
	}
	// A cycle: dev promoting from prod.
	dev := mustEnv(t, e.Snapshot(), "dev").DeepCopy()
	dev.Spec.PromotesFrom = "prod"
	if _, err := e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: dev}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v, want an error naming the cycle", err)
	}

	if _, err := e.DeleteEnvironment(ctx, EnvironmentWrite{Environment: staging, User: "admin"}); err != nil {
		t.Fatal(err)
	}
	f.remoteHead("main") // fetches
	if out := f.git(f.work, "ls-tree", "--name-only", "origin/main", ".gitgate/environments/"); strings.Contains(out, "staging") {
		t.Fatalf("staging.yaml still in Git: %s", out)
	}
}

func TestWatchStreamsChangesFromAnywhere(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	other := f.engine("main")
	start := e.Snapshot().ResourceVersion()
	sub, err := e.Watch(start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()

	// A promotion through another engine, and a commit pushed straight to Git.
	if _, err := other.Promote(context.Background(), PromotionRequest{Promotion: promotion("elsewhere", "prod", ""), User: "bob"}); err != nil {
		t.Fatal(err)
	}
	f.commitFile("main", "overlays/dev/kustomization.yaml", "resources:\n- ../../base\nimages:\n- name: app\n  newTag: development-9\n")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var gotPromotion, gotDev bool
	var last uint64
	for len(sub.C) > 0 {
		ev := <-sub.C
		if ev.ResourceVersion <= last && last != 0 {
			t.Errorf("event resourceVersion %d after %d", ev.ResourceVersion, last)
		}
		last = ev.ResourceVersion
		if ev.Promotion != nil && ev.Type == watch.Added && ev.Promotion.Name == "elsewhere" {
			gotPromotion = true
		}
		if ev.Environment != nil && ev.Environment.Name == "dev" && findImageTag(ev.Environment, "app") == "development-9" {
			gotDev = true
		}
	}
	if !gotPromotion || !gotDev {
		t.Fatalf("watch saw promotion=%v dev change=%v, want both", gotPromotion, gotDev)
	}
	if last > e.Snapshot().ResourceVersion() || last <= start {
		t.Errorf("last event resourceVersion %d outside (%d, %d]", last, start, e.Snapshot().ResourceVersion())
	}

	// Resuming from the start replays the same changes.
	again, err := e.Watch(start)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if len(again.C) == 0 {
		t.Error("resuming from the start replayed nothing")
	}
	if _, err := e.Watch(start - 1); !errors.Is(err, ErrExpired) {
		t.Errorf("watch from before the first read: %v, want ErrExpired", err)
	}
}

func TestStatusShowsWhatTheOverlayRenders(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	deployment := f.show("main", "base/deployment.yaml")
	f.commitFile("main", "base/deployment.yaml", strings.Replace(deployment, "      - name: metrics-proxy",
		"      - name: sidecar\n        image: busybox:1.36\n      - name: metrics-proxy", 1))
	e := f.engine("main")
	dev := mustEnv(t, e.Snapshot(), "dev")
	want := map[string]string{
		"app":     "registry.example.com/app:development-1.2.4",
		"proxy":   "registry.example.com/proxy:1.0",
		"busybox": "busybox:1.36", // no images: entry names it; the render shows it
	}
	got := map[string]string{}
	for _, img := range dev.Status.Images {
		got[img.Name] = img.Image
	}
	for name, ref := range want {
		if got[name] != ref {
			t.Errorf("dev image %s = %q, want %q (all: %v)", name, got[name], ref, got)
		}
	}

	// A base that kustomize cannot build makes every environment unready.
	f.commitFile("main", "base/kustomization.yaml", "resources:\n- deployment.yaml\n- missing.yaml\n")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	prod := mustEnv(t, e.Snapshot(), "prod")
	if !hasCondition(prod, gitgate.ConditionReady, "False") || !strings.Contains(fmt.Sprint(prod.Status.Conditions), "RenderFailed") {
		t.Fatalf("prod conditions with a broken base: %+v", prod.Status.Conditions)
	}
}

func TestHistoryListsEveryCommitThatChangedTheEnvironment(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	direct := f.commitFile("main", "overlays/prod/kustomization.yaml", "resources:\n- ../../base\nimages:\n"+
		"- name: app\n  newName: registry.example.com/app\n  newTag: hotfix\n- name: proxy\n  newName: registry.example.com/proxy\n  newTag: \"1.0\"\n")
	f.commitFile("main", "overlays/dev/kustomization.yaml", "resources:\n- ../../base\n") // not prod's
	e := f.engine("main")
	p, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("prod-9", "prod", ""), User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.History("prod", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, entry := range h.Entries {
		got = append(got, entry.Commit[:7]+" "+entry.Promotion+" "+entry.PromotedBy)
	}
	want := []string{p.Status.Commit[:7] + " prod-9 bob", direct[:7] + "  ", f.git(f.work, "rev-list", "--max-parents=0", "HEAD")[:7] + "  "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("history of prod = %q, want %q", got, want)
	}
	if _, err := e.History("nope", 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("history of an unknown environment: %v", err)
	}
}

func TestPathCurrentAtFollowsTheEnvironmentsPath(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()
	head0 := f.remoteHead("main")
	if s := e.Snapshot(); !s.PathCurrentAt("prod", head0) || s.PathCurrentAt("prod", "not-a-sha") || s.PathCurrentAt("staging", head0) {
		t.Fatal("the head must be current for prod; garbage and unknown environments never")
	}

	// A commit to another environment leaves prod's path as it was.
	head1 := f.commitFile("main", "overlays/dev/note.txt", "dev only\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := e.Snapshot()
	if !before.PathCurrentAt("prod", head0) || !before.PathCurrentAt("prod", head1) {
		t.Fatal("a commit to dev made prod's earlier commit stale")
	}

	// A commit to prod's path makes every earlier commit stale for prod.
	head2 := f.commitFile("main", "overlays/prod/note.txt", "prod\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.Snapshot()
	if s.PathCurrentAt("prod", head1) || s.PathCurrentAt("prod", head0) || !s.PathCurrentAt("prod", head2) {
		t.Fatal("after a change to prod's path only the new commit is current for prod")
	}
	if !s.PathCurrentAt("dev", head1) || !s.PathCurrentAt("dev", head2) {
		t.Fatal("a change to prod's path made dev stale")
	}
	// An older snapshot keeps its own answer.
	if !before.PathCurrentAt("prod", head1) {
		t.Fatal("a later refresh changed what an earlier snapshot says")
	}
}
