package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// maxBackoff caps the pause between two attempts of a write.
const maxBackoff = time.Second

// writeAttempt plans a write against a snapshot and makes its commit in the
// mirror. It returns the push to make, or an error that ends the write.
type writeAttempt func(s *Snapshot) (gitstore.PushRequest, error)

// writeLocked makes attempt's commit reach the remote: when the remote
// moved, it fetches, re-plans on the new head and tries again, with jittered
// backoff, at most PushAttempts times. Nothing reaches the remote unless the
// push of the complete commit succeeds; on success the snapshot is rebuilt.
func (e *Engine) writeLocked(ctx context.Context, attempt writeAttempt) error {
	if !e.hadFetch {
		if err := e.refreshLocked(ctx); err != nil {
			return err
		}
	}
	backoff := 20 * time.Millisecond
	for i := 0; ; i++ {
		req, err := attempt(e.snap.Load())
		if err != nil {
			return err
		}
		start := time.Now()
		err = e.repo.Push(ctx, req)
		e.opts.ObserveGit("push", time.Since(start), err)
		switch {
		case err == nil:
			e.reach = reachability{ok: true, at: e.opts.Now()}
			return e.rebuildLocked()
		case errors.Is(err, gitstore.ErrRemoteMoved):
			if i+1 >= e.opts.PushAttempts {
				return &ConflictError{Message: fmt.Sprintf("branch %s kept moving: gave up after %d attempts; try again", req.Branch, i+1)}
			}
		default:
			e.reach = reachability{ok: false, message: err.Error(), at: e.opts.Now()}
			_ = e.rebuildLocked()
			return e.unavailable(err)
		}
		// Someone else pushed first: wait a little, read the new head, re-plan.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
		backoff = min(2*backoff, maxBackoff)
		if err := e.refreshLocked(ctx); err != nil {
			return err
		}
	}
}

// signature is the configured author at the current time.
func (e *Engine) signature() gitstore.Signature {
	sig := e.opts.Author
	sig.When = e.opts.Now()
	return sig
}
