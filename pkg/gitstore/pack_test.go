package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
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
// over from a fresh fetch: nothing dead is left, and what main reaches
// reads as before.
func TestFetchStartsOverWhenMostIsUnreachable(t *testing.T) {
	repo, bare := fetchedMirror(t, smallLimits())
	heads, _ := repo.Branches()
	objects := repo.Objects()
	feature := pushCommits(t, repo, "feature", heads["main"], landedWithin+6) // too long to count as landed
	if err := repo.store.compact(); err != nil {
		t.Fatal(err)
	}
	if st := repo.store.stats(); st.Packs < 2 {
		t.Fatalf("the branch's objects were not packed: %+v", st)
	}
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
}

// TestALandedBranchIsNoRewrite: deleting a review branch after gitgate
// landed it (the landing's parent is the commit the review was planned
// on) is no rewrite and collects nothing; deleting a branch longer than
// landedWithin is one, and so is moving main off its history.
func TestALandedBranchIsNoRewrite(t *testing.T) {
	repo, bare := fetchedMirror(t, defaultStoreLimits())
	ctx := context.Background()
	heads, _ := repo.Branches()
	review := pushCommits(t, repo, "review", heads["main"], 2)
	sig := Signature{Name: "t", Email: "t@example.com"}
	landing, _ := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "review/images.yaml", Content: overlayFile(1)}}, "land", sig, sig)
	if err := repo.Push(ctx, PushRequest{Branch: "main", Old: heads["main"], New: landing}); err != nil {
		t.Fatal(err)
	}
	landed := Refs{"refs/heads/main": landing}
	if repo.rewritten(repo.Refs(), landed, true) {
		t.Error("deleting the landed review branch counts as a rewrite")
	}
	long := pushCommits(t, repo, "long", landing, landedWithin+1)
	if !repo.rewritten(Refs{"refs/heads/main": landing, "refs/heads/long": long[len(long)-1]}, landed, true) {
		t.Error("deleting a branch of more than landedWithin commits does not count as a rewrite")
	}
	if !repo.rewritten(landed, Refs{"refs/heads/main": review[0]}, true) {
		t.Error("main moving off its history does not count as a rewrite")
	}
	gitOut(t, "--git-dir", bare, "branch", "-D", "long")
	if err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
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

// TestDeadObjectsComeBack: objects no ref reaches after a rewrite are
// hidden, and readable again when a fetch brings a ref that reaches them
// or a push writes them again, also once packed.
func TestDeadObjectsComeBack(t *testing.T) {
	repo, bare := fetchedMirror(t, smallLimits())
	ctx := context.Background()
	heads, _ := repo.Branches()
	root := heads["main"]
	pushCommits(t, repo, "main", root, landedWithin+6) // root falls out of the newest commits
	sig := Signature{Name: "t", Email: "t@example.com"}
	f, err := repo.CreateCommit([]Hash{root}, ZeroHash, []FileEdit{{Path: "feature/secret.txt", Content: []byte("S\n")}}, "f", sig, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx, PushRequest{Branch: "feature", New: f}); err != nil {
		t.Fatal(err)
	}
	dead := func(branch string) {
		t.Helper()
		gitOut(t, "--git-dir", bare, "branch", "-D", branch)
		if err := repo.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
		if repo.store.stats().Dead == 0 {
			t.Fatalf("after deleting %s nothing is dead: %+v", branch, repo.store.stats())
		}
		if _, err := repo.Commit(f); err == nil {
			t.Fatalf("after deleting %s its commit is readable", branch)
		}
	}
	readable := func(c Hash, when string) {
		t.Helper()
		if got, err := repo.Published().ReadFile(c, "feature/secret.txt"); err != nil || string(got) != "S\n" {
			t.Errorf("%s: %q, %v", when, got, err)
		}
	}
	repo.store.limits.looseObjects = 1 // pack the branch: dead, not dropped
	if err := repo.store.compact(); err != nil {
		t.Fatal(err)
	}
	dead("feature")
	gitOut(t, "--git-dir", bare, "update-ref", "refs/heads/again", f.String())
	if err := repo.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	readable(f, "after the remote restored the branch")
	dead("again")
	heads, _ = repo.Branches()
	c, err := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "feature/secret.txt", Content: []byte("S\n")}}, "again", sig, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx, PushRequest{Branch: "main", Old: heads["main"], New: c}); err != nil {
		t.Fatal(err)
	}
	readable(c, "after a push wrote the dead blob again")
	if err := repo.store.compact(); err != nil {
		t.Fatal(err)
	}
	readable(c, "after the push was packed")
}

// TestMergedPacksReadAsTheirParts: packs merged by copying their bytes
// read every object as before, deltas across the copied ranges included,
// and keep an object that two packs held.
func TestMergedPacksReadAsTheirParts(t *testing.T) {
	inflated := cache.NewObjectLRU(cache.MiByte)
	var parts []*pack
	want := map[plumbing.Hash][]byte{}
	for k := 0; k < 3; k++ {
		objects := objectMap{}
		for i := 0; i < 40; i++ {
			o := &plumbing.MemoryObject{}
			o.SetType(plumbing.BlobObject)
			content := overlayFile(i + 40*k%80) // packs 0 and 2 hold the same objects
			_, _ = o.Write(content)
			objects[o.Hash()], want[o.Hash()] = o, content
		}
		p, err := encodePack(objects, inflated)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	merged := concatPacks(parts, cache.NewObjectLRU(cache.MiByte))
	if merged.count != 120 {
		t.Fatalf("the merged pack indexes %d objects, want 120", merged.count)
	}
	if _, err := indexPack(merged.data, inflated); err != nil {
		t.Fatalf("go-git cannot read the merged pack: %v", err)
	}
	for h, content := range want {
		o, err := merged.get(h)
		if err != nil {
			t.Fatalf("reading %s: %v", h, err)
		}
		r, _ := o.Reader()
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, content) {
			t.Fatalf("%s reads back %d bytes, want %d", h, len(got), len(content))
		}
	}
}

// TestFewButLargeDeadObjectsStartOver: a change that leaves a few objects
// unreachable but most of the packed bytes (a large file on a commit
// force-pushed away, or on a short branch deleted, which would otherwise
// count as landed) starts the mirror over too.
func TestFewButLargeDeadObjectsStartOver(t *testing.T) {
	large := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte(rng.Uint32()) // incompressible
	}
	for _, tc := range []struct {
		name, branch string
		undo         func(main Hash) []string // git arguments
	}{
		{"force-pushed away", "main", func(main Hash) []string {
			return []string{"update-ref", "refs/heads/main", main.String()}
		}},
		{"a short branch deleted", "big", func(Hash) []string { return []string{"branch", "-D", "big"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, bare := fetchedMirror(t, defaultStoreLimits())
			ctx := context.Background()
			heads, _ := repo.Branches()
			objects := repo.Objects()
			sig := Signature{Name: "t", Email: "t@example.com"}
			c, err := repo.CreateCommit([]Hash{heads["main"]}, ZeroHash, []FileEdit{{Path: "large/blob.bin", Content: large}}, "large", sig, sig)
			if err != nil {
				t.Fatal(err)
			}
			old := heads[tc.branch] // zero for a new branch
			if err := repo.Push(ctx, PushRequest{Branch: tc.branch, Old: old, New: c}); err != nil {
				t.Fatal(err)
			}
			repo.store.limits.looseObjects = 1 // packed, so only starting over frees it
			if err := repo.store.compact(); err != nil {
				t.Fatal(err)
			}
			gitOut(t, append([]string{"--git-dir", bare}, tc.undo(heads["main"])...)...)
			if err := repo.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			if st := repo.store.stats(); st.Dead != 0 || st.PackedBytes > 1<<19 {
				t.Errorf("after the large commit became unreachable: %+v, want nothing dead and the megabyte freed", st)
			}
			if got := repo.Objects(); got != objects {
				t.Errorf("the mirror holds %d objects, want the %d main reaches", got, objects)
			}
		})
	}
}

// TestStartingOverBacksOffAfterFailures: when the fresh fetch fails, the
// mirror stays as it was and the next attempts wait 2, 4, … fetches.
func TestStartingOverBacksOffAfterFailures(t *testing.T) {
	repo, bare := fetchedMirror(t, defaultStoreLimits())
	ctx := context.Background()
	objects := repo.Objects()
	if err := os.RemoveAll(bare); err != nil {
		t.Fatal(err)
	}
	var attempts []bool
	for i := 0; i < 8; i++ {
		before := repo.startOverFailures
		repo.startOverWhenDue(ctx)
		attempts = append(attempts, repo.startOverFailures != before)
	}
	want := []bool{true, false, false, true, false, false, false, false}
	if !slices.Equal(attempts, want) {
		t.Errorf("attempts at each fetch: %v, want %v", attempts, want)
	}
	if repo.Objects() != objects || repo.store.stats().Packs != 1 {
		t.Errorf("after failed restarts the mirror holds %d objects in %d packs, want %d as before", repo.Objects(), repo.store.stats().Packs, objects)
	}
}
