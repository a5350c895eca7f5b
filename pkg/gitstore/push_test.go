package gitstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestGitgateRefsArePushedAndMirrored: a ref outside refs/heads (an audit
// log) is pushed with compare-and-swap like a branch, and every mirror
// fetches it.
func TestGitgateRefsArePushedAndMirrored(t *testing.T) {
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := initBare(bare); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	writer, _ := Open(Options{URL: "file://" + bare})
	reader, _ := Open(Options{URL: "file://" + bare})
	for _, r := range []*Repository{writer, reader} {
		if err := r.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const audit = GitgateRefs + "audit"
	sig := Signature{Name: "t", Email: "t@example.com"}
	first, _ := writer.CreateCommit(nil, ZeroHash, []FileEdit{{Path: "log", Content: []byte("1\n")}}, "audit 1", sig, sig)
	if err := writer.Push(ctx, PushRequest{Ref: audit, New: first}); err != nil {
		t.Fatal(err)
	}
	second, _ := writer.CreateCommit([]Hash{first}, ZeroHash, []FileEdit{{Path: "log", Content: []byte("1\n2\n")}}, "audit 2", sig, sig)
	if err := writer.Push(ctx, PushRequest{Ref: audit, Old: ZeroHash, New: second}); !errors.Is(err, ErrRemoteMoved) {
		t.Fatalf("creating the audit ref again: %v, want ErrRemoteMoved", err)
	}
	if err := writer.Push(ctx, PushRequest{Ref: audit, Old: first, New: second}); err != nil {
		t.Fatal(err)
	}
	if gitOut(t, "--git-dir", bare, "rev-parse", audit) != second.String() {
		t.Fatal("the remote's audit ref is not the pushed commit")
	}
	refs, err := reader.ListRefs(ctx)
	if err != nil || refs[audit] != second || reader.Current(refs) {
		t.Fatalf("ListRefs = %v, %v; want the audit ref at %s, and the reader's mirror not current", refs, err, second.Short())
	}
	if err := reader.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if reader.Refs()[audit] != second || !reader.Current(refs) {
		t.Fatalf("after a fetch the reader has %v", reader.Refs())
	}
	if content, err := reader.ReadFile(second, "log"); err != nil || string(content) != "1\n2\n" {
		t.Fatalf("reading the audit log: %q, %v", content, err)
	}
	if branches, _ := reader.Branches(); len(branches) != 1 {
		t.Fatalf("Branches lists %v, want main alone", branches)
	}
}
