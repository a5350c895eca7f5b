package engine

import "github.com/gitgate-dev/gitgate/pkg/gitstore"

// gitReader is what planning, status and rendering read from Git: commits,
// trees and files at a revision, and walks over commits. Branch heads are
// resolved by the Snapshot a plan is made against (the refs it was built
// from), so nothing here touches refs or the network.
//
// *gitstore.Repository implements it (and also sees the objects a write
// has staged), gitstore.Reader too (published objects only, for readers
// that must not wait on a writer); plan_test.go has an in-memory one.
type gitReader interface {
	// Commit reads one commit.
	Commit(h gitstore.Hash) (*gitstore.Commit, error)
	// ReadFile reads a file at a commit; gitstore.ErrFileNotFound when absent.
	ReadFile(commit gitstore.Hash, name string) ([]byte, error)
	// TreeHash is the hash of a directory at a commit ("" is the root);
	// gitstore.ErrFileNotFound when absent.
	TreeHash(commit gitstore.Hash, dir string) (gitstore.Hash, error)
	// EntryHashes is the hash of the tree or file at each path at a
	// commit, gitstore.ZeroHash where there is none; each directory is
	// read once, however many paths share it.
	EntryHashes(commit gitstore.Hash, paths []string) ([]gitstore.Hash, error)
	// ListFiles names the files (not directories) directly in dir at a commit.
	ListFiles(commit gitstore.Hash, dir string) ([]string, error)
	// Walk visits the commits reachable from heads, each once, newest
	// first along each parent, skipping those skip accepts and their
	// ancestors; fn may return gitstore.ErrStopWalk to end the walk
	// without error.
	Walk(heads []gitstore.Hash, skip func(gitstore.Hash) bool, fn func(*gitstore.Commit) error) error
	// IsAncestor reports whether a is b or in b's history.
	IsAncestor(a, b gitstore.Hash) (bool, error)
}

var (
	_ gitReader = (*gitstore.Repository)(nil)
	_ gitReader = gitstore.Reader{}
)
