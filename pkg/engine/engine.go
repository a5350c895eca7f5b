package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// Options configure an Engine.
type Options struct {
	// Repository is the remote and its credentials.
	Repository gitstore.Options
	// DefaultBranch holds the environment definitions; default "main".
	DefaultBranch string
	// Author signs every commit gitgate makes.
	Author gitstore.Signature
	// PushAttempts bounds how often a write re-plans after the remote
	// moved; default 8.
	PushAttempts int
	// RetryAfter is what an unavailable error tells clients to wait; default
	// 1s. client-go (and so kubectl) retries a 503 with Retry-After up to 10
	// times, so this also bounds how long a write waits for Git to return.
	RetryAfter time.Duration
	// EventHistory is how many changes a watch can resume over; default 1000.
	EventHistory int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ObserveGit, when set, is told about every fetch and push.
	ObserveGit func(operation string, took time.Duration, err error)
}

func (o *Options) setDefaults() {
	if o.DefaultBranch == "" {
		o.DefaultBranch = "main"
	}
	if o.Author.Name == "" {
		o.Author = gitstore.Signature{Name: "gitgate", Email: "gitgate@localhost"}
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = 8
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.EventHistory <= 0 {
		o.EventHistory = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ObserveGit == nil {
		o.ObserveGit = func(string, time.Duration, error) {}
	}
}

// Engine serves one repository.
type Engine struct {
	opts   Options
	events *broadcaster
	snap   atomic.Pointer[Snapshot]
	// audit indexes the break-glass audit chain (audit.go).
	audit atomic.Pointer[auditIndex]

	// mu serializes every use of repo and of the fields below it.
	mu       sync.Mutex
	repo     *gitstore.Repository
	heads    map[string]gitstore.Hash
	known    map[gitstore.Hash]struct{}
	history  *history
	overlays map[gitstore.Hash]overlayFile // by the overlay directory's tree hash
	touched  map[touchKey]gitstore.Hash    // last commit that changed a path, by head
	chains   map[chainKey]*currentChain    // where a path is current, by branch and path
	renders  map[string]*rendered          // by branch:overlay directory
	reach    reachability
	hadFetch bool
}

type touchKey struct {
	head gitstore.Hash
	path string
}

type reachability struct {
	ok      bool
	message string
	at      time.Time
}

// New makes an engine. It reads nothing until Refresh.
func New(opts Options) (*Engine, error) {
	opts.setDefaults()
	repo, err := gitstore.Open(opts.Repository)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts:     opts,
		events:   newBroadcaster(opts.EventHistory),
		repo:     repo,
		heads:    map[string]gitstore.Hash{},
		known:    map[gitstore.Hash]struct{}{},
		history:  newHistory(),
		overlays: map[gitstore.Hash]overlayFile{},
		touched:  map[touchKey]gitstore.Hash{},
		chains:   map[chainKey]*currentChain{},
		renders:  map[string]*rendered{},
	}
	e.snap.Store(&Snapshot{defaultBranch: opts.DefaultBranch})
	return e, nil
}

// Snapshot is the state as of the last refresh or write. It never blocks.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Ready reports whether the repository has been read at least once.
func (e *Engine) Ready() bool { return e.snap.Load().ready }

// Refresh fetches the remote and publishes what changed. When the remote
// cannot be reached, the previous snapshot stays (marked GitReachable=False)
// and the error wraps ErrUnavailable.
func (e *Engine) Refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refreshLocked(ctx)
}

func (e *Engine) refreshLocked(ctx context.Context) error {
	start := time.Now()
	err := e.repo.Fetch(ctx)
	e.opts.ObserveGit("fetch", time.Since(start), err)
	if err != nil {
		e.reach = reachability{ok: false, message: err.Error(), at: e.opts.Now()}
		if e.hadFetch {
			// Keep serving the last good state, marked unreachable.
			if rerr := e.rebuildLocked(); rerr != nil {
				return rerr
			}
		}
		return e.unavailable(err)
	}
	e.hadFetch = true
	e.reach = reachability{ok: true, at: e.opts.Now()}
	return e.rebuildLocked()
}

func (e *Engine) unavailable(err error) error {
	return &UnavailableError{RetryAfter: e.opts.RetryAfter, Err: err}
}

// Run refreshes every interval until ctx ends. Errors are reported through
// onError (and through the snapshot's GitReachable condition).
func (e *Engine) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Refresh(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// rebuildLocked reads the mirror's branches, updates the history index and
// publishes a new snapshot with the changes as events.
func (e *Engine) rebuildLocked() error {
	heads, err := e.repo.Branches()
	if err != nil {
		return err
	}
	if err := e.updateHistoryLocked(heads); err != nil {
		return err
	}
	old := e.snap.Load()
	next, err := e.buildSnapshotLocked(heads)
	if err != nil {
		return err
	}
	e.heads = heads
	e.snap.Store(next)
	e.events.publish(old, next)
	e.refreshAuditLocked()
	return nil
}

// updateHistoryLocked discovers the commits that the branches gained and
// indexes their promotion trailers. When a branch was deleted or rewritten,
// it starts over from the current branches.
func (e *Engine) updateHistoryLocked(heads map[string]gitstore.Hash) error {
	for branch, old := range e.heads {
		head, ok := heads[branch]
		if ok && head == old {
			continue
		}
		ff := false
		if ok {
			var err error
			if ff, err = e.repo.IsAncestor(old, head); err != nil {
				return err
			}
		}
		if !ff {
			e.known = map[gitstore.Hash]struct{}{}
			e.history = newHistory()
			break
		}
	}
	for _, branch := range branchOrder(heads, e.opts.DefaultBranch) {
		err := e.repo.Walk([]gitstore.Hash{heads[branch]}, func(h gitstore.Hash) bool {
			_, ok := e.known[h]
			return ok
		}, func(c *gitstore.Commit) error {
			e.known[c.Hash] = struct{}{}
			e.history.add(c, branch)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading history of %s: %w", branch, err)
		}
	}
	return e.history.settle(e.repo, heads)
}
