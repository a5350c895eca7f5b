// Package gitstore is gitgate's only user of go-git. It keeps an in-memory
// mirror of one remote repository, reads files and history from it, writes
// commits, and pushes them with compare-and-swap semantics.
//
// A Repository is not safe for concurrent use: its owner (the engine)
// serializes every call. Readers of gitgate's API never call it directly;
// they read snapshots the engine derives from it.
package gitstore
