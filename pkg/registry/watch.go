package registry

import (
	"context"
	"errors"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// View adapts one resource to Watch.
type View interface {
	// Initial returns the objects of namespace in s that match opts.
	Initial(s *engine.Snapshot, namespace string, opts *metainternalversion.ListOptions) []runtime.Object
	// FromEvent returns the object ev carries for namespace, or nil when
	// the event is of another resource or does not match opts.
	FromEvent(ev engine.Event, namespace string, opts *metainternalversion.ListOptions) runtime.Object
	// NewObject returns an empty object of the resource, for bookmarks.
	NewObject() runtime.Object
}

// StatusView is a View whose objects also change outside Git (Flux sync,
// drift): it turns a StatusChange into the objects to send as MODIFIED.
type StatusView interface {
	View
	FromStatusChange(c StatusChange, s *engine.Snapshot, namespace string, opts *metainternalversion.ListOptions) []runtime.Object
}

// Watch streams a resource's changes in ctx's namespace(s).
//
// With no resourceVersion (or "0") it first sends the current objects as
// ADDED; with sendInitialEvents it ends them with the
// k8s.io/initial-events-end bookmark (the watch-list protocol client-go
// informers use). With a resourceVersion it resumes after it, or fails with
// 410 Expired when the engine no longer has every change since.
func (b *Backend) Watch(ctx context.Context, opts *metainternalversion.ListOptions, resource schema.GroupResource, view View) (watch.Interface, error) {
	targets := b.Targets(ctx)
	var rv uint64
	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		var err error
		if rv, err = strconv.ParseUint(opts.ResourceVersion, 10, 64); err != nil {
			return nil, apierrors.NewBadRequest("resourceVersion must be a decimal number: " + err.Error())
		}
		if len(targets) > 1 {
			// Several repositories: only the list's own resourceVersion (the
			// sum of theirs) can be resumed, as "from now".
			if opts.ResourceVersion != ListResourceVersion(targets) {
				return nil, apierrors.NewResourceExpired("a watch across several repositories resumes only from the resourceVersion of the list just made: list again")
			}
			rv = 0
		}
	}
	w := &watcher{result: make(chan watch.Event, 64), done: make(chan struct{})}
	resuming := opts.ResourceVersion != "" && opts.ResourceVersion != "0"
	initial := !resuming && (opts.SendInitialEvents == nil || *opts.SendInitialEvents)
	type start struct {
		target Target
		sub    *engine.Subscription
		snap   *engine.Snapshot
	}
	var starts []start
	for _, t := range targets {
		snap := t.Engine.Snapshot()
		if rv > snap.ResourceVersion() {
			// Resumed from a state another replica read first: catch up
			// with the remote, as kube-apiserver waits for its cache.
			_ = t.Engine.Sync(ctx)
			if snap = t.Engine.Snapshot(); rv > snap.ResourceVersion() {
				for _, s := range starts {
					s.sub.Stop()
				}
				return nil, apierrors.NewResourceExpired("resourceVersion " + opts.ResourceVersion +
					" is newer than the repository holds (history was rewritten, or Git is unreachable): list again")
			}
		}
		from := rv
		if from == 0 {
			from = snap.ResourceVersion()
		}
		sub, err := t.Engine.Watch(from)
		if err != nil {
			for _, s := range starts {
				s.sub.Stop()
			}
			return nil, StatusError(err, resource, "", "")
		}
		starts = append(starts, start{t, sub, snap})
	}
	go func() {
		defer w.close()
		stopAll := func() {
			for _, s := range starts {
				s.sub.Stop()
			}
		}
		if initial {
			for _, s := range starts {
				for _, ns := range s.target.Namespaces {
					for _, obj := range view.Initial(s.snap, ns, opts) {
						if !w.send(watch.Event{Type: watch.Added, Object: obj}) {
							stopAll()
							return
						}
					}
				}
			}
		}
		if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks {
			bookmark := view.NewObject()
			m, _ := meta.Accessor(bookmark)
			m.SetResourceVersion(ListResourceVersion(targets))
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
			if !w.send(watch.Event{Type: watch.Bookmark, Object: bookmark}) {
				stopAll()
				return
			}
		}
		var wg sync.WaitGroup
		for _, s := range starts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.forward(s.sub, s.target.Namespaces, view, opts)
			}()
		}
		if sv, ok := view.(StatusView); ok && b.StatusChanges != nil {
			changes, stop := b.StatusChanges.Subscribe()
			go func() {
				defer stop()
				w.forwardStatus(changes, targets, sv, opts)
			}()
		}
		wg.Wait()
	}()
	return w, nil
}

type watcher struct {
	result   chan watch.Event
	done     chan struct{}
	stopOnce sync.Once
	sendMu   sync.Mutex // held by send and close: nothing sends on a closed result
	closed   bool
}

func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func (w *watcher) Stop() { w.stopOnce.Do(func() { close(w.done) }) }

func (w *watcher) send(ev watch.Event) bool {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	if w.closed {
		return false
	}
	select {
	case <-w.done:
		return false
	case w.result <- ev:
		return true
	}
}

// close ends the result channel once no send is under way.
func (w *watcher) close() {
	w.Stop()
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	w.closed = true
	close(w.result)
}

// forwardStatus sends, for each status change, the objects it touches as
// MODIFIED at their repository's current resourceVersion, until the watch
// stops.
func (w *watcher) forwardStatus(changes <-chan StatusChange, targets []Target, view StatusView, opts *metainternalversion.ListOptions) {
	for {
		select {
		case <-w.done:
			return
		case c := <-changes:
			for _, t := range targets {
				s := t.Engine.Snapshot()
				for _, ns := range t.Namespaces {
					for _, obj := range view.FromStatusChange(c, s, ns, opts) {
						if !w.send(watch.Event{Type: watch.Modified, Object: obj}) {
							return
						}
					}
				}
			}
		}
	}
}

// forward relays one engine's events until the watch stops or the engine
// ends the subscription (then a 410 tells the client to list again).
func (w *watcher) forward(sub *engine.Subscription, namespaces []string, view View, opts *metainternalversion.ListOptions) {
	defer sub.Stop()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); errors.Is(err, engine.ErrExpired) {
					status := apierrors.NewResourceExpired(err.Error()).Status()
					w.send(watch.Event{Type: watch.Error, Object: &status})
				}
				w.Stop()
				return
			}
			for _, ns := range namespaces {
				if obj := view.FromEvent(ev, ns, opts); obj != nil {
					if !w.send(watch.Event{Type: ev.Type, Object: obj}) {
						return
					}
				}
			}
		}
	}
}
