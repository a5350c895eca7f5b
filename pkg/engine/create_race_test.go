package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// TestConcurrentCreatesOfOneEnvironmentCommitOnce has two replicas (two
// engines on one remote) and two clients of one replica create the same
// new Environment at once, as two server-side applies of one manifest do:
// exactly one create wins, every other gets ErrAlreadyExists (409), and
// Git has exactly one commit adding the definition.
func TestConcurrentCreatesOfOneEnvironmentCommitOnce(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	f.commitFile("main", "overlays/staging/kustomization.yaml", "resources:\n- ../../base\n")
	replicas := []*Engine{f.engine("main"), f.engine("main")}
	before := f.remoteHead("main")
	staging := &gitgate.Environment{Spec: gitgate.EnvironmentSpec{Path: "overlays/staging", PromotesFrom: "test", Strategy: gitgate.StrategyImages}}
	staging.Name = "staging"

	clients := []*Engine{replicas[0], replicas[0], replicas[1], replicas[1]}
	errs := make([]error, len(clients))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.CreateEnvironment(context.Background(), EnvironmentWrite{Environment: staging, User: "admin"})
		}()
	}
	close(start)
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrAlreadyExists):
			t.Errorf("client %d: %v, want success or ErrAlreadyExists", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d creates won, want exactly 1: %v", won, errs)
	}
	f.git(f.work, "fetch", "-q", "origin")
	added := f.git(f.work, "log", "--format=%H", before+"..origin/main", "--", ".gitgate/environments/staging.yaml")
	if n := f.git(f.work, "rev-list", "--count", before+"..origin/main"); n != "1" || added == "" {
		t.Fatalf("main gained %s commits (adding the definition: %q), want exactly 1", n, added)
	}
	for i, e := range replicas {
		if err := e.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Snapshot().Environment("staging"); err != nil {
			t.Errorf("replica %d does not read staging: %v", i, err)
		}
	}
}
