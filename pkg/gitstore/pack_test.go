package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// smallLimits pack after a few writes and merge past four packs, so that a
// test of a few dozen commits goes through every path.
func smallLimits() storeLimits {
	l := defaultStoreLimits()
	l.looseObjects, l.packs = 12, 4
	return l
}

// fetchedMirror is a mirror with limits of a new bare copy of the example
// fleet, fetched; it returns the bare repository's path too.
func fetchedMirror(t *testing.T, limits storeLimits) (*Repository, string) {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := initBare(bare); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(Options{URL: "file://" + bare})
	if err != nil {
		t.Fatal(err)
	}
	repo.store.limits = limits
	if err := repo.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return repo, bare
}

// overlayFile is a file that changes a little in every commit, as an
// overlay's kustomization.yaml does when images are promoted.
func overlayFile(i int) []byte {
	var b bytes.Buffer
	for j := 0; j < 200; j++ {
		tag := "1.0.0"
		if j == i%200 {
			tag = fmt.Sprintf("1.0.%d", i)
		}
		fmt.Fprintf(&b, "- name: registry.example.com/team/service-%03d\n  newTag: %s\n", j, tag)
	}
	return b.Bytes()
}

// pushCommits pushes n commits to branch, each changing overlayFile.
func pushCommits(t *testing.T, repo *Repository, branch string, from Hash, n int) []Hash {
	t.Helper()
	ctx := context.Background()
	sig := Signature{Name: "t", Email: "t@example.com"}
	var out []Hash
	head, old := from, from
	if branch != "main" {
		old = ZeroHash
	}
	for i := 0; i < n; i++ {
		c, err := repo.CreateCommit([]Hash{head}, ZeroHash, []FileEdit{{Path: branch + "/images.yaml", Content: overlayFile(i)}}, fmt.Sprintf("%s %d", branch, i), sig, sig)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Push(ctx, PushRequest{Branch: branch, Old: old, New: c}); err != nil {
			t.Fatal(err)
		}
		head, old = c, c
		out = append(out, c)
	}
	return out
}

// TestPushedObjectsArePackedAndMerged: what pushes publish is packed once
// enough waits loose, small packs are merged past the limit, and every
// object stays readable through all of it; the packs hold the changing
// file as deltas, far smaller than its copies.
func TestPushedObjectsArePackedAndMerged(t *testing.T) {
	repo, bare := fetchedMirror(t, smallLimits())
	heads, _ := repo.Branches()
	objects := repo.Objects()
	const n = 60
	commits := pushCommits(t, repo, "main", heads["main"], n)
	if err := repo.store.compact(); err != nil {
		t.Fatal(err)
	}
	st := repo.store.stats()
	if st.Packs > smallLimits().packs+1 || st.Loose >= smallLimits().looseObjects {
		t.Errorf("after %d writes: %d packs and %d loose objects, want at most %d packs and fewer than %d loose", n, st.Packs, st.Loose, smallLimits().packs+1, smallLimits().looseObjects)
	}
	// Each commit added a commit, a root tree, a tree and a blob.
	if got, want := repo.Objects(), objects+4*n; got != want {
		t.Errorf("the mirror holds %d objects, want %d", got, want)
	}
	copies := n * len(overlayFile(0))
	if st.PackedBytes*4 > copies {
		t.Errorf("packs hold %d bytes for %d bytes of file copies: not delta-compressed", st.PackedBytes, copies)
	}
	for i, c := range commits {
		got, err := repo.Published().ReadFile(c, "main/images.yaml")
		if err != nil || !bytes.Equal(got, overlayFile(i)) {
			t.Fatalf("commit %d reads back %d bytes, %v; want overlayFile(%d)", i, len(got), err, i)
		}
	}
	// git agrees that the remote holds what the mirror pushed.
	if out := gitOut(t, "--git-dir", bare, "fsck", "--connectivity-only"); strings.Contains(out, "missing") {
		t.Fatalf("git fsck: %s", out)
	}
}

// TestFetchStartsOverWhenMostIsUnreachable: when a deleted branch leaves
// more than a quarter of the packed objects unreachable, the mirror starts
// over from a fresh fetch: nothing dead is left, what main reaches reads
// as before, and a reader taken before keeps working.
func TestFetchStartsOverWhenMostIsUnreachable(t *testing.T) {
	repo, bare := fetchedMirror(t, smallLimits())
	heads, _ := repo.Branches()
	objects := repo.Objects()
	feature := pushCommits(t, repo, "feature", heads["main"], 30)
	if err := repo.store.compact(); err != nil {
		t.Fatal(err)
	}
	if st := repo.store.stats(); st.Packs < 2 {
		t.Fatalf("the branch's objects were not packed: %+v", st)
	}
	before := repo.Published()
	gitOut(t, "--git-dir", bare, "branch", "-D", "feature")
	if err := repo.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := repo.store.stats(); st.Dead != 0 || st.Packs != 1 || st.Loose != 0 {
		t.Errorf("after starting over: %+v, want one pack and nothing dead or loose", st)
	}
	if got := repo.Objects(); got != objects {
		t.Errorf("the mirror holds %d objects, want the %d main reaches", got, objects)
	}
	if _, err := repo.ReadFile(heads["main"], "base/kustomization.yaml"); err != nil {
		t.Errorf("main's files: %v", err)
	}
	if _, err := repo.Commit(feature[len(feature)-1]); err == nil {
		t.Error("the deleted branch's head is still readable")
	}
	if _, err := before.Commit(heads["main"]); err != nil {
		t.Errorf("a reader taken before the restart: %v", err)
	}
}

// TestALandedBranchIsNoRewrite: deleting a branch whose head main reaches
// (a review branch after it landed) is no rewrite and collects nothing;
// deleting main, which the branch left does not reach, is one.
func TestALandedBranchIsNoRewrite(t *testing.T) {
	repo, bare := fetchedMirror(t, defaultStoreLimits())
	ctx := context.Background()
	heads, _ := repo.Branches()
	review := pushCommits(t, repo, "review", heads["main"], 1)[0]
	sig := Signature{Name: "t", Email: "t@example.com"}
	landing, _ := repo.CreateCommit([]Hash{review, heads["main"]}, ZeroHash, []FileEdit{{Path: "landed", Content: []byte("yes")}}, "land", sig, sig)
	if err := repo.Push(ctx, PushRequest{Branch: "main", Old: heads["main"], New: landing}); err != nil {
		t.Fatal(err)
	}
	if repo.rewritten(repo.Refs(), Refs{"refs/heads/main": landing}) {
		t.Error("deleting the landed review branch counts as a rewrite")
	}
	if !repo.rewritten(repo.Refs(), Refs{"refs/heads/review": review}) {
		t.Error("main moving away from what reaches it does not count as a rewrite")
	}
	objects := repo.Objects()
	gitOut(t, "--git-dir", bare, "branch", "-D", "review")
	if err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if got := repo.Objects(); got != objects {
		t.Errorf("after the landed branch was deleted the mirror holds %d objects, want %d", got, objects)
	}
}
