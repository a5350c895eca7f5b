package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// TestARefusedPromotionLeavesStatusAsItWas: after a promotion the Git
// server refused and a later rebuild, prod's status shows the images it
// had, and after one that lands, the new ones. (Status reads the images
// from the overlay file, so this does not see a stale render; the render
// cache has TestPrerenderedOverlaysAreCheckedBeforeUse.)
func TestARefusedPromotionLeavesStatusAsItWas(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()
	env := func() []string {
		t.Helper()
		p, err := e.Snapshot().Environment("prod")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range p.Status.Images {
			out = append(out, img.Name+":"+img.Tag)
		}
		return out
	}
	before := env()
	hook := filepath.Join(f.bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho refused >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("refused", "prod", ""), User: "bob"}); err == nil {
		t.Fatal("the server's hook refused the push, but the promotion succeeded")
	}
	if err := os.Remove(hook); err != nil {
		t.Fatal(err)
	}
	f.commitFile("main", "docs/unrelated.md", "a change elsewhere\n")
	if err := e.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := env(); !reflect.DeepEqual(got, before) {
		t.Fatalf("after a refused promotion and a rebuild prod shows %v, want %v as before", got, before)
	}
	if _, err := e.Promote(ctx, PromotionRequest{Promotion: promotion("landed", "prod", ""), User: "bob"}); err != nil {
		t.Fatal(err)
	}
	if got := env(); reflect.DeepEqual(got, before) {
		t.Fatalf("after a promotion that landed prod still shows %v", got)
	}
}

// TestPrerenderedOverlaysAreCheckedBeforeUse: what prerenderLocked renders
// at a staged commit is served at that commit, and never at another one
// whose directories differ (the head, when the push does not land).
func TestPrerenderedOverlaysAreCheckedBeforeUse(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	head, _ := e.Snapshot().Head("main")
	const file = "overlays/prod/kustomization.yaml"
	old, err := e.repo.ReadFile(head, file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(old), "version-1.2.2", "version-9.9.9", 1)
	if edited == string(old) {
		t.Fatal("the example prod overlay no longer has version-1.2.2")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.repo.Discard()
	sig := e.signature()
	staged, err := e.repo.CreateCommit([]gitstore.Hash{head}, gitstore.ZeroHash, []gitstore.FileEdit{{Path: file, Content: []byte(edited)}}, "staged", sig, sig)
	if err != nil {
		t.Fatal(err)
	}
	e.prerenderLocked(e.repo.Pending(), gitstore.PushRequest{Branch: "main", New: staged})
	if r := e.renders["main:overlays/prod"]; r == nil || r.out == nil || !strings.Contains(strings.Join(r.out.Images, " "), "version-9.9.9") {
		t.Fatal("the prerender did not leave the staged commit's render in the cache")
	}
	images := func(commit gitstore.Hash) string {
		t.Helper()
		out, err := e.renderLocked("main", commit, "overlays/prod")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out.Images, " ")
	}
	if got := images(staged); !strings.Contains(got, "version-9.9.9") {
		t.Errorf("at the staged commit the overlay renders %q, want version-9.9.9", got)
	}
	if got := images(head); !strings.Contains(got, "version-1.2.2") {
		t.Errorf("at the head the overlay renders %q, want version-1.2.2: the prerender was served", got)
	}
}

// TestARenderWaitsForAMissingReference: an overlay that refers to a
// directory that does not exist yet fails to render, and renders once it
// is there: the cache notices the directory that should hold it.
func TestARenderWaitsForAMissingReference(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()
	overlay := f.show("main", "overlays/prod/kustomization.yaml")
	f.commitFile("main", "overlays/prod/kustomization.yaml", strings.Replace(overlay, "- ../../base\n", "- ../../base\n- ../extra\n", 1))
	render := func() error {
		t.Helper()
		if err := e.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		head, _ := e.Snapshot().Head("main")
		e.mu.Lock()
		defer e.mu.Unlock()
		_, err := e.renderLocked("main", head, "overlays/prod")
		return err
	}
	if err := render(); err == nil {
		t.Fatal("an overlay that refers to a missing file renders")
	}
	f.commitFile("main", "overlays/extra/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n")
	f.commitFile("main", "overlays/extra/kustomization.yaml", "resources:\n- settings.yaml\n")
	if err := render(); err != nil {
		t.Fatalf("the referenced directory is there now, but the overlay still does not render: %v", err)
	}
}

// TestADirectoryReadForOneFileIsStillLoadedWhole: when the base refers to
// one file of a directory and the overlay to that directory as a
// kustomization, the overlay builds (the directory is loaded, not taken
// as done because a file of it was read first).
func TestADirectoryReadForOneFileIsStillLoadedWhole(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"
	f.commitFile("main", "base/extras/settings.yaml", fmt.Sprintf(cm, "settings"))
	f.commitFile("main", "base/extras/kustomization.yaml", "resources:\n- more.yaml\n")
	f.commitFile("main", "base/extras/more.yaml", fmt.Sprintf(cm, "more"))
	base := f.show("main", "base/kustomization.yaml")
	f.commitFile("main", "base/kustomization.yaml", strings.Replace(base, "resources:\n", "resources:\n- extras/settings.yaml\n", 1))
	overlay := f.show("main", "overlays/prod/kustomization.yaml")
	f.commitFile("main", "overlays/prod/kustomization.yaml", strings.Replace(overlay, "- ../../base\n", "- ../../base\n- ../../base/extras\n", 1))
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	head, _ := e.Snapshot().Head("main")
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.renderLocked("main", head, "overlays/prod"); err != nil {
		t.Fatalf("the overlay does not build: %v", err)
	}
}
