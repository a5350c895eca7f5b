package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// TestReadersDoNotWaitOnABlockedPush holds a promotion's push inside the
// Git server (a pre-receive hook that waits for the test) while the writer
// holds the write lock, and reads meanwhile: History, Ancestors and the
// snapshot answer at once, as doc.go promises (readers never wait on the
// network).
func TestReadersDoNotWaitOnABlockedPush(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	dir := t.TempDir()
	entered, release := filepath.Join(dir, "entered"), filepath.Join(dir, "release")
	hook := fmt.Sprintf("#!/bin/sh\ntouch %q\nwhile [ ! -e %q ]; do sleep 0.05; done\n", entered, release)
	if err := os.WriteFile(filepath.Join(f.bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	releasePush := func() { _ = os.WriteFile(release, nil, 0o644) }
	t.Cleanup(releasePush)

	pushed := make(chan error, 1)
	go func() {
		_, err := e.Promote(context.Background(), PromotionRequest{Promotion: promotion("prod-blocked", "prod", ""), User: "bob"})
		pushed <- err
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(entered); err == nil {
			break
		}
		select {
		case err := <-pushed:
			t.Fatalf("the promotion ended before its push reached the hook: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the promotion's push never reached the pre-receive hook")
		}
	}
	if e.mu.TryLock() {
		e.mu.Unlock()
		t.Fatal("the push waits in the hook, but the write lock is free: the test would prove nothing")
	}

	type answer struct {
		history *gitgate.EnvironmentHistory
		commits []string
		err     error
	}
	read := make(chan answer, 1)
	go func() {
		h, err := e.History("prod", 10)
		if err != nil {
			read <- answer{err: err}
			return
		}
		head, _ := e.Snapshot().Head("main")
		commits, _, err := e.Ancestors(head.String(), 10)
		read <- answer{history: h, commits: commits, err: err}
	}()
	select {
	case a := <-read:
		if a.err != nil || len(a.history.Entries) == 0 || len(a.commits) == 0 {
			t.Fatalf("reads during the blocked push: history %+v, ancestors %v, %v", a.history, a.commits, a.err)
		}
		if a.history.Entries[0].Promotion == "prod-blocked" {
			t.Errorf("History shows the promotion before its push was accepted: %+v", a.history.Entries[0])
		}
	case <-time.After(5 * time.Second): // well below the push's own 10 s timeout
		t.Fatal("History and Ancestors waited on the write lock of a blocked push")
	}

	releasePush()
	if err := <-pushed; err != nil {
		t.Fatalf("the promotion after its push was released: %v", err)
	}
	h, err := e.History("prod", 10)
	if err != nil || len(h.Entries) == 0 || h.Entries[0].Promotion != "prod-blocked" {
		t.Fatalf("History after the push = %+v, %v; want prod-blocked first", h, err)
	}
}
