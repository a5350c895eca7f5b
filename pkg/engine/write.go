package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// maxBackoff caps the pause between two attempts of a write.
const maxBackoff = time.Second

// writeAttempt plans a write against a snapshot and makes its commit in the
// mirror. It returns the push to make, or an error that ends the write.
type writeAttempt func(s *Snapshot) (gitstore.PushRequest, error)

// write is every writer's skeleton: under the write lock, a dry run runs
// attempt once against the current snapshot, without the network, and its
// commit is dropped with whatever else it staged when the lock is released;
// a write goes through writeLocked.
func (e *Engine) write(ctx context.Context, dryRun bool, attempt writeAttempt) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if dryRun {
		_, err := attempt(e.snap.Load())
		return err
	}
	return e.writeLocked(ctx, attempt)
}

// writeLocked makes attempt's commit reach the remote. Every attempt starts
// with the remote's refs (the advertisement of the receive-pack session
// that then carries the push): when they moved, it fetches first, so the
// write is planned on the remote's current head. When the push finds the
// ref moved anyway, it re-plans, with jittered backoff, at most
// PushAttempts times. Nothing reaches the remote unless the push of the
// complete commit succeeds; on success the snapshot is rebuilt. Staged
// objects of a failed attempt are dropped before the next one.
func (e *Engine) writeLocked(ctx context.Context, attempt writeAttempt) error {
	backoff := 20 * time.Millisecond
	for i := 0; ; i++ {
		req, err := e.attemptLocked(ctx, attempt)
		switch {
		case err == nil:
			e.reach = reachability{ok: true, at: e.opts.Now()}
			return e.rebuildLocked()
		case errors.Is(err, gitstore.ErrRemoteMoved):
			if i+1 >= e.opts.PushAttempts {
				what := "branch " + req.Branch
				if req.Ref != "" {
					what = req.Ref
				}
				return &ConflictError{Message: fmt.Sprintf("%s kept moving: gave up after %d attempts; try again", what, i+1)}
			}
		case errors.Is(err, gitstore.ErrRejected):
			return &ConflictError{Message: err.Error() + ": the Git server refused the change (a hook or a protected branch); ask its administrators"}
		case errors.Is(err, gitstore.ErrUnavailable):
			e.reach = unreachable(err, e.opts.Now())
			if e.hadFetch {
				_ = e.rebuildLocked()
			}
			return e.unavailable(err)
		default:
			return err
		}
		// Someone else pushed first: wait a little, then plan again on
		// the head the next attempt reads.
		e.repo.Discard()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attemptLocked is one try of a write: read the remote's refs, fetch when
// they moved, plan, push.
func (e *Engine) attemptLocked(ctx context.Context, attempt writeAttempt) (gitstore.PushRequest, error) {
	start := time.Now()
	sess, err := e.repo.OpenPush(ctx)
	e.opts.ObserveGit("ls-remote", time.Since(start), err)
	if err != nil {
		return gitstore.PushRequest{}, err
	}
	defer sess.Close()
	if !e.hadFetch || !e.repo.Current(sess.Refs()) {
		if err := e.refreshLocked(ctx); err != nil {
			var unavailable *UnavailableError
			if errors.As(err, &unavailable) {
				return gitstore.PushRequest{}, unavailable.Err
			}
			return gitstore.PushRequest{}, err
		}
	}
	req, err := attempt(e.snap.Load())
	if err != nil {
		return req, err
	}
	// The overlays the rebuild after the push will render are rendered
	// while the Git server takes the push. The push is waited for whatever
	// happens to the rendering, which is only a head start: a panic in it
	// is dropped (the rebuild renders again), and one in the push fails
	// this write, as it would have without the goroutine.
	pending := e.repo.Pending()
	start = time.Now()
	pushed := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				pushed <- fmt.Errorf("pushing %s: panic: %v", req.New.Short(), p)
			}
		}()
		err := sess.Push(ctx, req)
		e.opts.ObserveGit("push", time.Since(start), err)
		pushed <- err
	}()
	func() {
		defer func() {
			if p := recover(); p != nil {
				klog.ErrorS(fmt.Errorf("panic: %v", p), "Rendering overlays during a push; the rebuild after it renders them again", "commit", req.New.Short())
			}
		}()
		e.prerenderLocked(pending, req)
	}()
	return req, <-pushed
}

// signature is the configured author at the current time.
func (e *Engine) signature() gitstore.Signature {
	sig := e.opts.Author
	sig.When = e.opts.Now()
	return sig
}
