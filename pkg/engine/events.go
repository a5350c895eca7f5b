package engine

import (
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// Event is one change of an Environment or a Promotion.
type Event struct {
	Type watch.EventType
	// ResourceVersion orders events; a watch resumes after it.
	ResourceVersion uint64
	// Exactly one of Environment and Promotion is set. Shared: DeepCopy
	// before changing.
	Environment *gitgate.Environment
	Promotion   *gitgate.Promotion
}

// subscriberBuffer is how many events a watcher may fall behind before it
// is dropped (and must relist).
const subscriberBuffer = 256

// broadcaster keeps the recent events for resuming watches and fans new
// ones out to subscribers.
type broadcaster struct {
	mu    sync.Mutex
	size  int
	buf   []Event
	floor uint64 // every event after floor is in buf
	subs  map[*Subscription]struct{}
}

func newBroadcaster(size int) *broadcaster {
	return &broadcaster{size: size, subs: map[*Subscription]struct{}{}}
}

// Subscription delivers events until Stop, or until the engine drops it;
// then C is closed and Err says why.
type Subscription struct {
	C    <-chan Event
	ch   chan Event
	b    *broadcaster
	from uint64 // events at or before it are not delivered
	err  error
	once sync.Once
}

// Err is why the subscription ended: nil after Stop, ErrExpired when the
// watcher fell behind or history was rewritten.
func (s *Subscription) Err() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.err
}

// Stop ends the subscription.
func (s *Subscription) Stop() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.closeLocked(nil)
}

func (s *Subscription) closeLocked(err error) {
	s.once.Do(func() {
		s.err = err
		delete(s.b.subs, s)
		close(s.ch)
	})
}

// Watch subscribes to the changes after resourceVersion; 0 means from now.
// It fails with ErrExpired when the engine no longer has all of them.
func (e *Engine) Watch(resourceVersion uint64) (*Subscription, error) {
	current := e.snap.Load().rv
	b := e.events
	b.mu.Lock()
	defer b.mu.Unlock()
	if resourceVersion == 0 {
		resourceVersion = current
	}
	// A resourceVersion beyond this replica's state (read from another
	// replica that fetched first) is kept: the changes up to it, once
	// read here, are not sent again.
	if resourceVersion < b.floor {
		return nil, fmt.Errorf("resourceVersion %d is older than the oldest change remembered (%d): list again: %w",
			resourceVersion, b.floor, ErrExpired)
	}
	var replay []Event
	for _, ev := range b.buf {
		if ev.ResourceVersion > resourceVersion {
			replay = append(replay, ev)
		}
	}
	ch := make(chan Event, len(replay)+subscriberBuffer)
	for _, ev := range replay {
		ch <- ev
	}
	s := &Subscription{C: ch, ch: ch, b: b, from: resourceVersion}
	b.subs[s] = struct{}{}
	return s, nil
}

// publish computes the events between two snapshots and delivers them;
// st is the commits that lead from one to the other.
func (b *broadcaster) publish(old, next *Snapshot, st step) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !old.ready || next.rv < old.rv {
		// First read, or history went back: resuming is impossible.
		for s := range b.subs {
			s.closeLocked(fmt.Errorf("repository history was rewritten: list again: %w", ErrExpired))
		}
		b.buf, b.floor = nil, next.rv
		return
	}
	events := assignResourceVersions(diffSnapshots(old, next), old.rv, next.rv, st)
	for _, ev := range events {
		b.buf = append(b.buf, ev)
		for s := range b.subs {
			if ev.ResourceVersion <= s.from {
				// The subscriber started from a snapshot that already
				// holds this change (it subscribed between the snapshot
				// swap and this publish).
				continue
			}
			select {
			case s.ch <- ev:
			default:
				s.closeLocked(fmt.Errorf("watcher fell more than %d events behind: list again: %w", subscriberBuffer, ErrExpired))
			}
		}
	}
	if over := len(b.buf) - b.size; over > 0 {
		b.floor = b.buf[over-1].ResourceVersion
		b.buf = append([]Event(nil), b.buf[over:]...)
	}
}

// diffSnapshots lists the environment and promotion changes, promotions in
// the order they were made.
func diffSnapshots(old, next *Snapshot) []Event {
	var events []Event
	for _, name := range next.envNames {
		env := next.envs[name].env
		prev, ok := old.envs[name]
		switch {
		case !ok:
			events = append(events, Event{Type: watch.Added, Environment: env})
		case !equality.Semantic.DeepEqual(prev.env, env):
			events = append(events, Event{Type: watch.Modified, Environment: env})
		}
	}
	for _, name := range old.envNames {
		if _, ok := next.envs[name]; !ok {
			events = append(events, Event{Type: watch.Deleted, Environment: old.envs[name].env})
		}
	}
	if old.historyVersion == next.historyVersion {
		return events
	}
	changed := slices.Values(next.promotionChanges) // a write's few, not all history
	if !next.promotionDelta {
		changed = next.promotionList.All() // all of it, oldest first
	}
	for p := range changed {
		prev, ok := old.promotions.get(p.Name)
		switch {
		case !ok:
			events = append(events, Event{Type: watch.Added, Promotion: p})
		case prev != p:
			events = append(events, Event{Type: watch.Modified, Promotion: p})
		}
	}
	if next.promotionDelta {
		return events // history was only added to
	}
	for p := range old.promotionList.All() {
		if _, ok := next.promotions.get(p.Name); !ok {
			events = append(events, Event{Type: watch.Deleted, Promotion: p})
		}
	}
	return events
}
