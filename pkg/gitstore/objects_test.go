package gitstore

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
)

// TestEntryHashesAgreeWithGit checks EntryHashes against the git CLI's
// rev-parse <commit>:<path> for trees, files, the root and missing paths.
func TestEntryHashesAgreeWithGit(t *testing.T) {
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := gitserver.InitBare(context.Background(), bare, filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(Options{URL: "file://" + bare})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	heads, _ := repo.Branches()
	head := heads["main"]
	paths := []string{"", "overlays", "overlays/prod", "overlays/prod/kustomization.yaml", "base/deployment.yaml",
		"overlays/nowhere", "missing/deeper/file", "base/deployment.yaml/not-a-dir"}
	got, err := repo.EntryHashes(head, paths)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		want := ZeroHash
		if out, err := execGit(bare, "rev-parse", "--verify", "-q", head.String()+":"+p); err == nil {
			if want, err = ParseHash(strings.TrimSpace(out)); err != nil {
				t.Fatal(err)
			}
		}
		if got[i] != want {
			t.Errorf("EntryHashes(%q) = %s, git says %s", p, got[i], want)
		}
	}
	if got[0].IsZero() || got[5] != ZeroHash || got[6] != ZeroHash || got[7] != ZeroHash {
		t.Errorf("root %s and missing paths %v: want the root's hash and zeros", got[0], got[5:])
	}
}

// execGit runs the git CLI in dir and returns its output and error.
func execGit(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return string(out), err
}
