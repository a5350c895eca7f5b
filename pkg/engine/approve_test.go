package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

func TestTally(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 11, 29, 12, min, 0, 0, time.UTC) }
	approve := func(by, plan string, min int) decision {
		return decision{plan: plan, by: by, approve: true, time: at(min), sealed: true}
	}
	reject := func(by, plan string, min int) decision {
		return decision{plan: plan, by: by, time: at(min), sealed: true}
	}
	forged := approve("mallory", "p1", 5)
	forged.sealed = false
	cases := []struct {
		name          string
		ds            []decision
		required      int
		wantApprovals []string
		wantRejected  []string
		wantMet       bool
	}{
		{"awaiting: one of two approved", []decision{approve("bob", "p1", 1)}, 2, []string{"bob"}, nil, false},
		{"met: two distinct users approved the plan", []decision{approve("bob", "p1", 1), approve("carol", "p1", 2)}, 2, []string{"bob", "carol"}, nil, true},
		{"ignored: the author's approval", []decision{approve("alice", "p1", 1), approve("bob", "p1", 2)}, 2, []string{"bob"}, nil, false},
		{"ignored: a second approval by the same user", []decision{approve("bob", "p1", 1), approve("bob", "p1", 3)}, 2, []string{"bob"}, nil, false},
		{"ignored: an approval of a superseded plan", []decision{approve("bob", "p0", 1), approve("carol", "p1", 2)}, 2, []string{"carol"}, nil, false},
		{"ignored: an approval gitgate did not write", []decision{forged, approve("bob", "p1", 2)}, 2, []string{"bob"}, nil, false},
		{"rejected: a rejection stops a met quorum", []decision{approve("bob", "p1", 1), approve("carol", "p1", 2), reject("dave", "p1", 3)}, 2, []string{"bob", "carol"}, []string{"dave"}, false},
		{"rejected: a rejection of an earlier plan still counts", []decision{reject("dave", "p0", 1)}, 1, nil, []string{"dave"}, false},
		{"met: approvals counted in time order, whatever order Git gave", []decision{approve("carol", "p1", 9), approve("bob", "p1", 1)}, 2, []string{"bob", "carol"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			approvals, rejections := tally("p1", "alice", tc.ds)
			if got := names(approvals); strings.Join(got, ",") != strings.Join(tc.wantApprovals, ",") {
				t.Errorf("approvals = %v, want %v", got, tc.wantApprovals)
			}
			if got := names(rejections); strings.Join(got, ",") != strings.Join(tc.wantRejected, ",") {
				t.Errorf("rejections = %v, want %v", got, tc.wantRejected)
			}
			q := quorum{required: tc.required, approvals: len(approvals), rejections: len(rejections)}
			if q.met() != tc.wantMet {
				t.Errorf("quorum met = %v, want %v", q.met(), tc.wantMet)
			}
		})
	}
}

func names(rs []gitgate.ApprovalRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.By)
	}
	return out
}

func TestSealVerifiesOnlyTheSealedCommit(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	tree, parent := gitstore.Hash{1}, gitstore.Hash{2}
	msg := "Approve promotion prod-1\n\nGitgate-Approval: prod-1\nApproved-By: bob\n"
	sealed := msg + TrailerSeal + ": " + seal(key, tree, []gitstore.Hash{parent}, msg) + "\n"
	cases := []struct {
		name string
		c    gitstore.Commit
		key  []byte
		want bool
	}{
		{"verified: as gitgate wrote it", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{parent}, Message: sealed}, key, true},
		{"refused: another user in the trailer", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{parent}, Message: strings.Replace(sealed, "bob", "eve", 1)}, key, false},
		{"refused: the seal copied onto another parent", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{{3}}, Message: sealed}, key, false},
		{"refused: the seal copied onto another tree", gitstore.Commit{Tree: gitstore.Hash{4}, Parents: []gitstore.Hash{parent}, Message: sealed}, key, false},
		{"refused: another key", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{parent}, Message: sealed}, []byte(strings.Repeat("x", 32)), false},
		{"refused: no seal", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{parent}, Message: msg}, key, false},
		{"refused: no key configured", gitstore.Commit{Tree: tree, Parents: []gitstore.Hash{parent}, Message: sealed}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifySeal(tc.key, &tc.c); got != tc.want {
				t.Errorf("verifySeal = %v, want %v", got, tc.want)
			}
		})
	}
}

// approvalsFixture is the trunk fleet with prod requiring two approvals,
// and an engine with an approval key.
func approvalsFixture(t *testing.T) (*fixture, *Engine) {
	t.Helper()
	f := newFixture(t, "trunk", "main")
	def := f.show("main", EnvironmentsDir+"/prod.yaml") + "\n  approvals: {required: 2}\n"
	f.commitFile("main", EnvironmentsDir+"/prod.yaml", def)
	e, err := New(Options{
		Repository:    gitstore.Options{URL: f.url, Credentials: f.creds, Timeout: 10 * time.Second},
		DefaultBranch: "main",
		Author:        gitstore.Signature{Name: "gitgate", Email: "gitgate@example.com"},
		ApprovalKey:   []byte(strings.Repeat("approval-key-", 4)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, e
}

func approvedOf(p *gitgate.Promotion) metav1.Condition {
	for _, c := range p.Status.Conditions {
		if c.Type == gitgate.ConditionApproved {
			return c
		}
	}
	return metav1.Condition{}
}

func TestApprovalsTwoOfThree(t *testing.T) {
	ctx := context.Background()
	f, e := approvalsFixture(t)
	mainBefore := f.remoteHead("main")

	// alice proposes: the commit waits on the review branch.
	p, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-1", "prod", ""), User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	review := ReviewBranchPrefix + "prod-1"
	if p.Status.Phase != gitgate.PromotionProposed || p.Status.Branch != review || p.Status.ApprovalsRequired != 2 {
		t.Fatalf("promotion = %s on %s needing %d, want Proposed on %s needing 2", p.Status.Phase, p.Status.Branch, p.Status.ApprovalsRequired, review)
	}
	if got := f.remoteHead("main"); got != mainBefore {
		t.Fatalf("main moved to %s on a proposal", got)
	}

	// The author cannot approve.
	_, err = e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "alice", Decision: gitgate.ApprovalApprove})
	var inv *InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "alice created promotion prod-1 and cannot approve it") {
		t.Fatalf("self-approval: err = %v, want an InvalidError naming the author", err)
	}

	// bob approves once; again writes nothing.
	res, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "bob", Decision: gitgate.ApprovalApprove, Message: "looks good"})
	if err != nil || res.Commit.IsZero() || len(res.Promotion.Status.Approvals) != 1 {
		t.Fatalf("bob's approval: %+v, %v", res, err)
	}
	reviewHead := f.remoteHead(review)
	if msg := f.git(f.work, "log", "-1", "--format=%B", reviewHead); !strings.Contains(msg, "Approved-By: bob") || !strings.Contains(msg, "Gitgate-Plan: "+p.Status.Commit) {
		t.Errorf("approval commit lacks its trailers:\n%s", msg)
	}
	res, err = e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "bob", Decision: gitgate.ApprovalApprove})
	if err != nil || !res.Commit.IsZero() || f.remoteHead(review) != reviewHead {
		t.Fatalf("bob's second approval wrote something: %+v, %v", res, err)
	}

	// A forged approval pushed straight to the review branch does not count.
	f.pull(review)
	forged := "Approve promotion prod-1\n\nGitgate-Approval: prod-1\nGitgate-Environment: prod\nGitgate-Plan: " + p.Status.Commit +
		"\nApproved-By: carol\n" + TrailerSeal + ": " + strings.Repeat("0", 64)
	f.git(f.work, "commit", "-q", "--allow-empty", "--author=gitgate <gitgate@example.com>", "-m", forged)
	f.git(f.work, "push", "-q", "origin", review)
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Snapshot().Promotion("prod-1"); len(got.Status.Approvals) != 1 || got.Status.Phase != gitgate.PromotionProposed {
		t.Fatalf("after a forged approval: %d approvals, %s; want 1, Proposed", len(got.Status.Approvals), got.Status.Phase)
	}
	if f.remoteHead("main") != mainBefore {
		t.Fatal("a forged approval landed the promotion")
	}

	// Someone changes prod's app tag: the plan changes, approvals reset.
	overlay := strings.Replace(f.show("main", "overlays/prod/kustomization.yaml"), "version-1.2.2", "version-1.2.1", 1)
	moved := f.commitFile("main", "overlays/prod/kustomization.yaml", overlay)
	res, err = e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "carol", Decision: gitgate.ApprovalApprove})
	if err != nil {
		t.Fatalf("carol's approval: %v", err)
	}
	if got := f.remoteHead("main"); got != moved {
		t.Fatalf("main = %s, want %s: a changed plan must not land", got, moved)
	}
	if p := res.Promotion; p.Status.Phase != gitgate.PromotionProposed || len(p.Status.Approvals) != 0 ||
		approvedOf(p).Reason != gitgate.ReasonReplanned || !strings.Contains(approvedOf(p).Message, "version-1.2.1") {
		t.Fatalf("after the re-plan: %s with %d approvals, condition %+v; want Proposed, 0, Replanned naming the new tag",
			p.Status.Phase, len(p.Status.Approvals), approvedOf(p))
	}

	// bob and carol approve the new plan: it lands.
	if _, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "bob", Decision: gitgate.ApprovalApprove}); err != nil {
		t.Fatal(err)
	}
	res, err = e.Approve(ctx, ApprovalRequest{Promotion: "prod-1", User: "carol", Decision: gitgate.ApprovalApprove})
	if err != nil || res.Landed.IsZero() {
		t.Fatalf("the quorum did not land: %+v, %v", res, err)
	}
	head := f.remoteHead("main")
	if head != res.Landed.String() || f.git(f.work, "rev-parse", head+"^") != moved {
		t.Fatalf("main = %s, want the landing commit %s on %s", head, res.Landed, moved)
	}
	msg := f.git(f.work, "log", "-1", "--format=%B", head)
	for _, line := range []string{"Gitgate-Promotion: prod-1", "Promoted-By: alice", "Approved-By: bob", "Approved-By: carol", "Gitgate-Change: app version-1.2.1 -> version-1.2.3"} {
		if !strings.Contains(msg, line) {
			t.Errorf("landing commit lacks %q:\n%s", line, msg)
		}
	}
	if got := res.Promotion; got.Status.Phase != gitgate.PromotionSucceeded || len(got.Status.Approvals) != 2 {
		t.Errorf("landed promotion = %s with %d approvals, want Succeeded with 2", got.Status.Phase, len(got.Status.Approvals))
	}

	// A fresh engine reads the same from Git alone.
	e2, err := New(Options{Repository: gitstore.Options{URL: f.url, Credentials: f.creds, Timeout: 10 * time.Second},
		DefaultBranch: "main", ApprovalKey: []byte(strings.Repeat("approval-key-", 4))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e2.Snapshot().Promotion("prod-1"); got.Status.Phase != gitgate.PromotionSucceeded || strings.Join(names(got.Status.Approvals), ",") != "bob,carol" {
		t.Errorf("re-read promotion = %s approved by %v, want Succeeded by bob,carol", got.Status.Phase, names(got.Status.Approvals))
	}
}

func TestRejectionStopsThePromotion(t *testing.T) {
	ctx := context.Background()
	f, e := approvalsFixture(t)
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-2", "prod", ""), User: "alice"}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-2", User: "bob", Decision: gitgate.ApprovalReject, Message: "not on a Friday"})
	if err != nil || res.Promotion.Status.Phase != gitgate.PromotionRejected {
		t.Fatalf("rejection: %+v, %v; want Rejected", res, err)
	}
	before := f.remoteHead(ReviewBranchPrefix + "prod-2")
	_, err = e.Approve(ctx, ApprovalRequest{Promotion: "prod-2", User: "carol", Decision: gitgate.ApprovalApprove})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), "is Rejected") {
		t.Fatalf("approving a rejected promotion: err = %v, want a conflict", err)
	}
	if f.remoteHead(ReviewBranchPrefix+"prod-2") != before {
		t.Error("approving a rejected promotion wrote a commit")
	}
}

// TestAFreezeHoldsTheLandingBack: the approval that meets the quorum
// while prod is frozen is recorded, the landing is refused (409, main
// unchanged), and approving again once prod is unfrozen lands it.
func TestAFreezeHoldsTheLandingBack(t *testing.T) {
	ctx := context.Background()
	f, e := approvalsFixture(t)
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-5", "prod", ""), User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-5", User: "bob", Decision: gitgate.ApprovalApprove}); err != nil {
		t.Fatal(err)
	}
	def := f.show("main", EnvironmentsDir+"/prod.yaml")
	f.commitFile("main", EnvironmentsDir+"/prod.yaml", def+"\n  freeze: {frozen: true, reason: release night}\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	frozenMain := f.remoteHead("main")
	_, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-5", User: "carol", Decision: gitgate.ApprovalApprove})
	var frozen *FrozenError
	if !errors.As(err, &frozen) || !strings.Contains(err.Error(), "release night") {
		t.Fatalf("the quorum's approval while prod is frozen: err = %v, want a FrozenError naming the freeze", err)
	}
	if got := f.remoteHead("main"); got != frozenMain {
		t.Fatalf("a frozen prod took a landing: main moved from %s to %s", frozenMain, got)
	}
	f.commitFile("main", EnvironmentsDir+"/prod.yaml", def)
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := e.Approve(ctx, ApprovalRequest{Promotion: "prod-5", User: "carol", Decision: gitgate.ApprovalApprove})
	if err != nil || res.Landed.IsZero() || res.Promotion.Status.Phase != gitgate.PromotionSucceeded {
		t.Fatalf("approving again after the freeze: %+v, %v; want it landed", res, err)
	}
}

func TestApprovalsNeedAKey(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	def := f.show("main", EnvironmentsDir+"/prod.yaml") + "\n  approvals: {required: 1}\n"
	f.commitFile("main", EnvironmentsDir+"/prod.yaml", def)
	e := f.engine("main")
	before := f.remoteHead("main")
	_, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("prod-3", "prod", ""), User: "alice"})
	if !errors.Is(err, ErrNoApprovalKey) {
		t.Fatalf("err = %v, want ErrNoApprovalKey", err)
	}
	if f.remoteHead("main") != before || f.remoteHead(ReviewBranchPrefix+"prod-3") != "" {
		t.Error("a refused proposal changed Git")
	}
}

func TestApprovalsWithReviewAGitHostMergeLands(t *testing.T) {
	ctx := context.Background()
	f, e := approvalsFixture(t)
	def := f.show("main", EnvironmentsDir+"/prod.yaml") + "\n  review: true\n"
	f.commitFile("main", EnvironmentsDir+"/prod.yaml", def)
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-4", "prod", ""), User: "alice"}); err != nil {
		t.Fatal(err)
	}
	// The Git host merges the review branch (a pull request), no approvals given.
	f.pull("main")
	f.git(f.work, "fetch", "-q", "origin")
	f.git(f.work, "merge", "-q", "--no-ff", "-m", "Merge pull request", "origin/"+ReviewBranchPrefix+"prod-4")
	f.git(f.work, "push", "-q", "origin", "main")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := e.Snapshot().Promotion("prod-4")
	if err != nil || p.Status.Phase != gitgate.PromotionSucceeded {
		t.Fatalf("after the host's merge: %+v, %v; want Succeeded", p, err)
	}
}
