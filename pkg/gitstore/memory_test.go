package gitstore

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
)

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// looseObjects counts the objects a bare repository holds unpacked: small
// pushes land there.
func looseObjects(t *testing.T, bare string) int {
	t.Helper()
	for _, line := range strings.Split(gitOut(t, "--git-dir", bare, "count-objects", "-v"), "\n") {
		if v, ok := strings.CutPrefix(line, "count: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("count-objects printed no count")
	return 0
}

// TestStagedObjectsArePushedOrDropped: a write's objects stay out of the
// mirror until its push lands, and then the pack carried exactly them; a
// refused or discarded write leaves the mirror as it was.
func TestStagedObjectsArePushedOrDropped(t *testing.T) {
	repo, bare := fetchedMirror(t, defaultStoreLimits())
	ctx := context.Background()
	heads, _ := repo.Branches()
	objects := repo.Objects()
	sig := Signature{Name: "t", Email: "t@example.com"}

	// Discarded: nothing stays.
	if _, err := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "big.bin", Content: make([]byte, 1<<20)}}, "dry", sig, sig); err != nil {
		t.Fatal(err)
	}
	repo.Discard()
	if repo.Objects() != objects || repo.Staged() != 0 {
		t.Fatalf("after Discard the mirror holds %d objects (%d staged), want %d", repo.Objects(), repo.Staged(), objects)
	}

	// Refused (the ref moved): nothing reaches the remote, the objects stay staged until dropped.
	c, _ := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "nested/dir/b.txt", Content: []byte("b")}}, "b", sig, sig)
	staged := repo.Staged()
	if staged != 5 { // commit, root tree, nested, nested/dir, blob
		t.Fatalf("staged %d objects for a one-file commit two directories deep, want 5", staged)
	}
	err := repo.Push(ctx, PushRequest{Branch: "main", Old: c, New: c})
	if !errors.Is(err, ErrRemoteMoved) || repo.Objects() != objects {
		t.Fatalf("push with a wrong old value: %v; mirror holds %d objects, want ErrRemoteMoved and %d", err, repo.Objects(), objects)
	}

	// Pushed: the remote received exactly the staged objects, and the mirror keeps them.
	loose := looseObjects(t, bare)
	if err := repo.Push(ctx, PushRequest{Branch: "main", Old: heads["main"], New: c}); err != nil {
		t.Fatal(err)
	}
	if got := looseObjects(t, bare) - loose; got != staged {
		t.Errorf("the remote received %d objects, want the %d staged", got, staged)
	}
	if repo.Objects() != objects+staged || repo.Staged() != 0 {
		t.Errorf("after the push the mirror holds %d objects (%d staged), want %d", repo.Objects(), repo.Staged(), objects+staged)
	}
	if gitOut(t, "--git-dir", bare, "rev-parse", "main") != c.String() {
		t.Error("the remote's main is not the pushed commit")
	}
}

// TestFetchCollectsWhatNoRefReaches: after a branch is deleted and main
// is force-pushed back, the mirror drops the objects only they reached.
func TestFetchCollectsWhatNoRefReaches(t *testing.T) {
	repo, bare := fetchedMirror(t, defaultStoreLimits())
	ctx := context.Background()
	objects := repo.Objects()
	heads, _ := repo.Branches()
	base := heads["main"]
	sig := Signature{Name: "t", Email: "t@example.com"}
	for _, branch := range []string{"main", "feature"} {
		c, _ := repo.CreateCommit([]Hash{base}, ZeroHash, []FileEdit{{Path: branch + "/file.txt", Content: []byte(branch)}}, branch, sig, sig)
		old := base
		if branch == "feature" {
			old = ZeroHash
		}
		if err := repo.Push(ctx, PushRequest{Branch: branch, Old: old, New: c}); err != nil {
			t.Fatal(err)
		}
	}
	if repo.Objects() <= objects {
		t.Fatal("the pushes added no objects to the mirror")
	}
	gitOut(t, "--git-dir", bare, "branch", "-D", "feature")
	gitOut(t, "--git-dir", bare, "update-ref", "refs/heads/main", base.String())
	if err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if repo.Objects() != objects {
		t.Fatalf("after the rewrite the mirror holds %d objects, want the %d main reaches", repo.Objects(), objects)
	}
	if _, err := repo.ReadFile(base, "base/kustomization.yaml"); err != nil {
		t.Fatalf("a live object was collected: %v", err)
	}
}

func initBare(bare string) (string, error) {
	return gitserver.InitBare(context.Background(), bare, filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main")
}
