// Package engine is gitgate's Git engine for one repository: it keeps a
// snapshot of every Environment (spec from .gitgate/environments, status from
// the overlays) and of every Promotion (from commit trailers), plans
// promotions, writes them as commits, pushes them, and streams changes.
//
// One writer at a time touches the Git mirror (all writes, refreshes and
// plans hold the engine's write lock, and unlocking it drops whatever was
// staged and not pushed). Every write is planned on the remote's current
// refs. Readers read the current immutable Snapshot and never wait on the
// write lock; Sync, which gets and lists without a resourceVersion call
// first, waits for one shared ref check and, when the remote moved, a fetch.
package engine
