package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// TrailerSeal is the last line of the commits that approvals rely on (plan
// commits into an environment with approvals, approval and rejection
// commits, landing commits): an HMAC-SHA256, under the server's approval
// key, of the commit's tree, parents and message before this line. A
// commit pushed by anyone else cannot carry a valid one, so forged
// Approved-By trailers never count.
const TrailerSeal = "Gitgate-Seal"

// ErrNoApprovalKey means the server has no approval key configured.
var ErrNoApprovalKey = errors.New("this gitgate server has no approval key (--approval-key-file), so it cannot record or verify approvals; ask its administrators to configure one")

// sealInput is what a seal covers.
func sealInput(tree gitstore.Hash, parents []gitstore.Hash, message string) []byte {
	var b strings.Builder
	b.WriteString("gitgate-seal v1\ntree ")
	b.WriteString(tree.String())
	for _, p := range parents {
		b.WriteString("\nparent ")
		b.WriteString(p.String())
	}
	b.WriteString("\n\n")
	b.WriteString(message)
	return []byte(b.String())
}

// seal computes the seal of a commit under key.
func seal(key []byte, tree gitstore.Hash, parents []gitstore.Hash, message string) string {
	m := hmac.New(sha256.New, key)
	m.Write(sealInput(tree, parents, message))
	return hex.EncodeToString(m.Sum(nil))
}

// verifySeal reports whether c ends with a valid seal under key.
func verifySeal(key []byte, c *gitstore.Commit) bool {
	if len(key) == 0 {
		return false
	}
	msg := strings.TrimSuffix(c.Message, "\n")
	idx := strings.LastIndex(msg, "\n")
	if idx < 0 {
		return false
	}
	k, v, ok := strings.Cut(msg[idx+1:], ": ")
	if !ok || k != TrailerSeal {
		return false
	}
	want := seal(key, c.Tree, c.Parents, msg[:idx+1])
	return hmac.Equal([]byte(v), []byte(want))
}

// sealedCommitLocked writes a commit like CreateCommit whose message ends
// with its seal.
func (e *Engine) sealedCommitLocked(parents []gitstore.Hash, tree gitstore.Hash, edits []gitstore.FileEdit, message string) (gitstore.Hash, error) {
	if len(e.opts.ApprovalKey) == 0 {
		return gitstore.ZeroHash, ErrNoApprovalKey
	}
	sig := e.signature()
	if len(edits) > 0 || tree.IsZero() {
		// Build the tree first: the seal covers it.
		tmp, err := e.repo.CreateCommit(parents, tree, edits, "", sig, sig)
		if err != nil {
			return gitstore.ZeroHash, err
		}
		c, err := e.repo.Commit(tmp)
		if err != nil {
			return gitstore.ZeroHash, err
		}
		tree = c.Tree
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	message += TrailerSeal + ": " + seal(e.opts.ApprovalKey, tree, parents, message) + "\n"
	return e.repo.CreateCommit(parents, tree, nil, message, sig, sig)
}

// verifyCommit reports whether gitgate sealed c with this server's key.
func (e *Engine) verifyCommit(c *gitstore.Commit) bool { return verifySeal(e.opts.ApprovalKey, c) }
