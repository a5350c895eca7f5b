package registry

import (
	"sync"

	"github.com/gitgate-dev/gitgate/pkg/clusterstate"
)

// StatusChange says that something an Environment's or a Promotion's
// status shows changed outside Git: the Flux Kustomization that applies an
// environment (Kustomization set), or break-glass drift recorded against
// an environment (Environment set).
type StatusChange struct {
	// Kustomization is namespace/name of a Flux Kustomization; Before and
	// After are what it showed before and after the change (nil when it
	// was first seen, or deleted).
	Kustomization string
	Before, After *clusterstate.Kustomization
	// Namespace and Environment name an Environment.
	Namespace, Environment string
}

// StatusNotifier fans status changes out to the watches that are open.
// A watch that falls behind by more than its buffer loses the oldest
// notifications it has not read, never blocks the sender: the objects it
// sends are read when sent, so the newest state still arrives.
type StatusNotifier struct {
	mu   sync.Mutex
	subs map[chan StatusChange]struct{}
}

// statusBuffer is how many notifications a watch may have unread.
const statusBuffer = 64

// Notify tells every open watch about c.
func (n *StatusNotifier) Notify(c StatusChange) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- c:
		default: // full: drop the oldest, keep the newest
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- c:
			default:
			}
		}
	}
}

// Subscribe returns a channel of changes and the function that ends it.
func (n *StatusNotifier) Subscribe() (<-chan StatusChange, func()) {
	ch := make(chan StatusChange, statusBuffer)
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[chan StatusChange]struct{}{}
	}
	n.subs[ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs, ch)
		n.mu.Unlock()
	}
}
