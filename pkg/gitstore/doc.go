// Package gitstore is gitgate's only user of go-git. It keeps an in-memory
// mirror of one remote repository, reads files and history from it, writes
// commits, and pushes them with compare-and-swap semantics.
//
// Objects a write creates are staged apart from the mirror and published
// only by a successful push, which sends exactly them; Discard drops them.
// Every error from the network is scrubbed of credentials here.
//
// A Repository is not safe for concurrent use, except for Published, Refs,
// Current and ListRefs: its owner (the engine) serializes every other call.
package gitstore
