package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func breakGlassRecord(key string) BreakGlass {
	return BreakGlass{
		Environment: "prod", User: "bob", Operation: "UPDATE",
		APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-prod", Name: "app",
		Reason: "INC-7 hotfix", Key: key, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// Two replicas that observe the same change write one record between them,
// on a ref Flux does not read, and neither moves a branch.
func TestBreakGlassIsRecordedOnceOnTheAuditRef(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	a, b := f.engine("main"), f.engine("main")
	mainBefore := f.remoteHead("main")
	ctx := context.Background()

	var wg sync.WaitGroup
	wrote := make([]bool, 4)
	errs := make([]error, 4)
	for i := range wrote {
		e := a
		if i%2 == 1 {
			e = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrote[i], errs[i] = e.RecordBreakGlass(ctx, breakGlassRecord("uid-1@42"))
		}()
	}
	wg.Wait()
	n := 0
	for i := range wrote {
		if errs[i] != nil {
			t.Fatalf("recording: %v", errs[i])
		}
		if wrote[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d calls wrote the record, want exactly 1", n)
	}
	if _, err := b.RecordBreakGlass(ctx, breakGlassRecord("uid-1@43")); err != nil {
		t.Fatal(err)
	}

	f.git(f.work, "fetch", "-q", "origin", "+refs/gitgate/*:refs/gitgate/*")
	log := f.git(f.work, "log", "--format=%B%x00", "refs/gitgate/audit")
	if got := strings.Count(log, "Gitgate-Observed: uid-1@42"); got != 1 {
		t.Errorf("the audit ref records uid-1@42 %d times, want once:\n%s", got, log)
	}
	for _, want := range []string{"Gitgate-Break-Glass: INC-7 hotfix", "Gitgate-Environment: prod", "Gitgate-Break-Glass-By: bob",
		"Gitgate-Operation: UPDATE", "Gitgate-Object: apps/v1 Deployment shop-prod/app", "Gitgate-Observed-At: 2026-01-02T03:04:05Z"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit ref lacks %q:\n%s", want, log)
		}
	}
	if got := f.remoteHead("main"); got != mainBefore {
		t.Errorf("recording moved main from %s to %s", mainBefore, got)
	}
	if branches := f.git(f.work, "ls-remote", "--heads", "origin"); strings.Contains(branches, "audit") {
		t.Errorf("the audit chain is visible as a branch:\n%s", branches)
	}

	// A third replica reads both records back, for history and drift.
	c := f.engine("main")
	recs := c.BreakGlassRecords("prod", time.Time{})
	if len(recs) != 2 || recs[0].Key != "uid-1@42" || recs[1].Key != "uid-1@43" || recs[0].User != "bob" ||
		recs[0].Object() != "Deployment shop-prod/app" || recs[0].Reason != "INC-7 hotfix" {
		t.Fatalf("records read back: %+v", recs)
	}
	if got := c.BreakGlassRecords("prod", recs[0].Time); len(got) != 0 {
		t.Errorf("records after their own time: %+v", got)
	}
	if got := c.BreakGlassRecords("dev", time.Time{}); len(got) != 0 {
		t.Errorf("prod's records listed for dev: %+v", got)
	}
	h, err := c.History("prod", 100)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range h.Entries {
		if e.Author == "bob" && strings.Contains(e.Subject, "break-glass UPDATE of Deployment shop-prod/app: INC-7 hotfix") {
			found++
		}
	}
	if found != 2 {
		t.Errorf("history shows %d break-glass records, want 2: %+v", found, h.Entries)
	}
}
