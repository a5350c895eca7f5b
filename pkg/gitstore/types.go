package gitstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Hash is a Git object name.
type Hash [20]byte

// ZeroHash is the hash of nothing: a branch that does not exist.
var ZeroHash Hash

// ParseHash parses a full 40-character hexadecimal object name.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 40 {
		return h, fmt.Errorf("%q is not a full commit SHA: it must have 40 hexadecimal characters", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%q is not a commit SHA: %w", s, err)
	}
	return h, nil
}

// String is the full hexadecimal name.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short is the first 7 characters, as git log --oneline shows them.
func (h Hash) Short() string { return h.String()[:7] }

// IsZero reports whether h is ZeroHash.
func (h Hash) IsZero() bool { return h == ZeroHash }

func fromPlumbing(h plumbing.Hash) Hash { return Hash(h) }
func (h Hash) plumbing() plumbing.Hash  { return plumbing.Hash(h) }

// Signature is an author or committer.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit is a commit's metadata.
type Commit struct {
	Hash      Hash
	Tree      Hash
	Parents   []Hash
	Author    Signature
	Committer Signature
	Message   string
}

// FileEdit changes one file in a commit: Content nil deletes the file.
type FileEdit struct {
	// Path is slash-separated and relative to the repository root.
	Path string
	// Content is the new content, or nil to delete the file.
	Content []byte
}

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrUnavailable means the remote could not be reached or refused our
	// credentials; the operation may work later.
	ErrUnavailable = errors.New("git remote unavailable")
	// ErrRemoteMoved means a push found the branch at another commit than
	// expected: fetch, re-plan and try again.
	ErrRemoteMoved = errors.New("remote branch moved")
	// ErrRejected means the remote refused an update for a reason of its
	// own (a hook, a protected branch): trying again will not help.
	ErrRejected = errors.New("remote refused the update")
	// ErrFileNotFound means a path does not exist in a commit.
	ErrFileNotFound = errors.New("file not found")
	// ErrCommitNotFound means a commit is not in the mirror.
	ErrCommitNotFound = errors.New("commit not found")
)
