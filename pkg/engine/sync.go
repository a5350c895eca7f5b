package engine

import (
	"context"
	"sync"
	"time"
)

// Sync makes the snapshot at least as new as the remote was when Sync was
// called, the way kube-apiserver serves a consistent read from its watch
// cache: it asks the remote for its refs (one ref advertisement) and
// fetches when they moved. Concurrent callers share one check, and a check
// that started before a caller arrived is never taken as that caller's:
// the caller waits for the next one, shared by everyone arriving meanwhile.
//
// When the remote cannot be reached, Sync returns an error wrapping
// ErrUnavailable and the snapshot stays as it was; for RetryAfter after
// such a failure, Sync fails at once without asking the remote, so reads
// served from memory during an outage do not wait on the network.
func (e *Engine) Sync(ctx context.Context) error {
	c, start := e.syncs.join()
	if start {
		go e.runSyncs(c)
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runSyncs runs c, then every check queued while it ran.
func (e *Engine) runSyncs(c *syncCall) {
	for c != nil {
		c = e.syncs.finish(c, e.syncOnce())
	}
}

// syncOnce is one ref check, and a fetch when the refs moved.
func (e *Engine) syncOnce() error {
	if failed := e.lastCheckFailed.Load(); failed != 0 && time.Since(time.Unix(0, failed)) < e.opts.RetryAfter {
		ok, msg := e.Snapshot().GitReachable()
		if !ok {
			return e.unavailable(errorString(msg))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.SyncTimeout)
	defer cancel()
	start := time.Now()
	refs, err := e.repo.ListRefs(ctx)
	e.opts.ObserveGit("ls-remote", time.Since(start), err)
	if err != nil {
		e.lastCheckFailed.Store(time.Now().UnixNano())
		e.markUnreachable(err)
		return e.unavailable(err)
	}
	e.lastCheckFailed.Store(0)
	s := e.Snapshot()
	if ok, _ := s.GitReachable(); ok && s.Ready() && e.repo.Current(refs) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.repo.Current(refs) && e.hadFetch && e.reach.ok { // a write or refresh got there first
		return nil
	}
	// The fetch has the repository's own timeout, not the check's.
	return e.refreshLocked(context.Background())
}

// markUnreachable shows a failed check in the snapshot (GitReachable=False)
// unless a writer holds the lock: it is using the network itself and will
// record what it finds.
func (e *Engine) markUnreachable(err error) {
	if !e.mu.TryLock() {
		return
	}
	defer e.mu.Unlock()
	e.reach = unreachable(err, e.opts.Now())
	if e.hadFetch {
		_ = e.rebuildLocked()
	}
}

type errorString string

func (s errorString) Error() string { return string(s) }

// syncGroup shares ref checks: at most one runs, and at most one waits to
// run after it, joined by every caller arriving meanwhile.
type syncGroup struct {
	mu      sync.Mutex
	running *syncCall
	queued  *syncCall
}

type syncCall struct {
	done chan struct{}
	err  error
}

// join returns the check the caller waits for, and whether the caller
// must start it.
func (g *syncGroup) join() (*syncCall, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == nil {
		g.running = &syncCall{done: make(chan struct{})}
		return g.running, true
	}
	if g.queued == nil {
		g.queued = &syncCall{done: make(chan struct{})}
	}
	return g.queued, false
}

// finish completes c and returns the queued check, now running, if any.
func (g *syncGroup) finish(c *syncCall, err error) *syncCall {
	c.err = err
	close(c.done)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running, g.queued = g.queued, nil
	return g.running
}
