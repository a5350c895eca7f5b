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

// TestFreezeRefusesPromotionsAndSealsUntilOverridden: a weekend window
// (Berlin) open at the engine's clock refuses a promotion, a rollback and
// a seal into test, naming the window and its end, with the remote
// unchanged; an override passes and is recorded in the commit's trailers.
// The switch works alike, and SetFreeze commits it.
func TestFreezeRefusesPromotionsAndSealsUntilOverridden(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	saturday := time.Date(2026, 6, 6, 12, 0, 0, 0, berlin)
	e, err := New(Options{
		Repository:    gitstore.Options{URL: f.url, Credentials: f.creds, Timeout: 10 * time.Second},
		DefaultBranch: "main", Author: gitstore.Signature{Name: "gitgate", Email: "gitgate@example.com"},
		Now: func() time.Time { return saturday },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	test, err := e.Snapshot().Environment("test")
	if err != nil {
		t.Fatal(err)
	}
	test = test.DeepCopy()
	test.Spec.Freeze = &gitgate.FreezeSpec{Windows: []gitgate.FreezeWindow{{Start: "0 18 * * FRI", Duration: metav1.Duration{Duration: 62 * time.Hour}, TimeZone: "Europe/Berlin"}}}
	if _, err := e.UpdateEnvironment(ctx, EnvironmentWrite{Environment: test, User: "platform"}); err != nil {
		t.Fatal(err)
	}
	head := f.remoteHead("main")

	window := `frozen by window "0 18 * * FRI" for 62h in Europe/Berlin until 2026-06-08T08:00:00+02:00 (Mon 08:00 Europe/Berlin)`
	refusals := []struct {
		name  string
		write func() error
	}{
		{"refused: a promotion into test", func() error {
			_, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("test-1", "test", "dev"), User: "alice"})
			return err
		}},
		{"refused: a dry run of it", func() error {
			_, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("test-1", "test", "dev"), User: "alice", DryRun: true})
			return err
		}},
		{"refused: a rollback of test", func() error {
			p := promotion("test-back", "test", "test")
			p.Spec.Revision = head[:7]
			_, err := e.Promote(ctx, PromotionRequest{Promotion: p, User: "alice"})
			return err
		}},
		{"refused: a seal into test", func() error {
			_, err := e.CommitSealedSecret(ctx, sealWrite("test", "shop-test"))
			return err
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			var frozen *FrozenError
			if !errors.As(err, &frozen) || !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), window) {
				t.Fatalf("error = %v, want a FrozenError (409) naming %s", err, window)
			}
			if got := f.remoteHead("main"); got != head {
				t.Fatalf("a refused write moved main from %s to %s", head, got)
			}
		})
	}

	st, cond := FreezeStatus(e.Snapshot().mustEnvironment(t, "test"), saturday)
	if !st.Frozen || st.Until == nil || !st.Until.Time.Equal(time.Date(2026, 6, 8, 8, 0, 0, 0, berlin)) ||
		st.NextWindow == nil || !st.NextWindow.Start.Time.Equal(time.Date(2026, 6, 12, 18, 0, 0, 0, berlin)) ||
		cond.Status != metav1.ConditionTrue || cond.Reason != gitgate.ReasonFreezeWindow {
		t.Fatalf("freeze status = %+v, condition %+v", st, cond)
	}

	// An override passes, recorded in the trailers.
	p, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("test-2", "test", "dev"), User: "bob",
		FreezeOverride: &FreezeOverride{Reason: "hotfix 42", User: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	f.git(f.work, "fetch", "-q", "origin")
	msg := f.git(f.work, "log", "-1", "--format=%B", p.Status.Commit)
	for _, want := range []string{"Gitgate-Freeze: " + window, "Gitgate-Freeze-Override: hotfix 42", "Gitgate-Freeze-Override-By: bob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the override's commit lacks %q:\n%s", want, msg)
		}
	}

	// The switch: prod frozen by SetFreeze, then unfrozen.
	if _, _, err := e.SetFreeze(ctx, FreezeSwitch{Environment: "prod", Frozen: true, User: "bob"}); err == nil {
		t.Fatal("freezing without a reason passed")
	}
	if _, commit, err := e.SetFreeze(ctx, FreezeSwitch{Environment: "prod", Frozen: true, Reason: "incident 42", User: "bob"}); err != nil || commit == "" {
		t.Fatalf("freezing prod: %q, %v", commit, err)
	}
	_, err = e.Promote(ctx, PromotionRequest{Promotion: promotion("prod-1", "prod", "test"), User: "bob"})
	if err == nil || !strings.Contains(err.Error(), `frozen by its switch (reason: "incident 42")`) {
		t.Fatalf("promotion into a switched-off prod: %v", err)
	}
	if _, commit, err := e.SetFreeze(ctx, FreezeSwitch{Environment: "prod", Frozen: true, Reason: "incident 42", User: "bob"}); err != nil || commit != "" {
		t.Fatalf("freezing a frozen prod again made commit %q (%v), want none", commit, err)
	}
	env, commit, err := e.SetFreeze(ctx, FreezeSwitch{Environment: "prod", User: "bob"})
	if err != nil || commit == "" || env.Spec.Freeze != nil {
		t.Fatalf("unfreezing prod: %+v, %q, %v", env.Spec.Freeze, commit, err)
	}
}

func (s *Snapshot) mustEnvironment(t *testing.T, name string) *gitgate.Environment {
	t.Helper()
	env, err := s.Environment(name)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
