package gitstore

import (
	"bytes"
	"cmp"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// packIndex finds a pack's objects by hash and by offset: two sorted
// arrays, about 40 bytes an object, built once and never changed, so safe
// for concurrent use. go-git's MemoryIndex would add a map from offsets
// to hashes on the first delta read, and drops an object's second copy,
// which a merged pack may hold (the deltas after it refer to its offset).
type packIndex struct {
	byHash   []idxfile.Entry // sorted by hash, then offset
	byOffset []uint32        // positions in byHash, sorted by offset
}

func newPackIndex(entries []idxfile.Entry) *packIndex {
	slices.SortFunc(entries, func(a, b idxfile.Entry) int {
		if c := bytes.Compare(a.Hash[:], b.Hash[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	byOffset := make([]uint32, len(entries))
	for i := range byOffset {
		byOffset[i] = uint32(i)
	}
	slices.SortFunc(byOffset, func(a, b uint32) int { return cmp.Compare(entries[a].Offset, entries[b].Offset) })
	return &packIndex{byHash: entries, byOffset: byOffset}
}

func (x *packIndex) find(h plumbing.Hash) (idxfile.Entry, bool) {
	i, ok := slices.BinarySearchFunc(x.byHash, h, func(e idxfile.Entry, h plumbing.Hash) int { return bytes.Compare(e.Hash[:], h[:]) })
	if !ok {
		return idxfile.Entry{}, false
	}
	return x.byHash[i], true
}

// Contains implements idxfile.Index.
func (x *packIndex) Contains(h plumbing.Hash) (bool, error) {
	_, ok := x.find(h)
	return ok, nil
}

// FindOffset implements idxfile.Index.
func (x *packIndex) FindOffset(h plumbing.Hash) (int64, error) {
	e, ok := x.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	return int64(e.Offset), nil
}

// FindCRC32 implements idxfile.Index.
func (x *packIndex) FindCRC32(h plumbing.Hash) (uint32, error) {
	e, ok := x.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	return e.CRC32, nil
}

// FindHash implements idxfile.Index.
func (x *packIndex) FindHash(o int64) (plumbing.Hash, error) {
	i, ok := slices.BinarySearchFunc(x.byOffset, o, func(p uint32, o int64) int { return cmp.Compare(int64(x.byHash[p].Offset), o) })
	if !ok {
		return plumbing.ZeroHash, plumbing.ErrObjectNotFound
	}
	return x.byHash[x.byOffset[i]].Hash, nil
}

// Count implements idxfile.Index.
func (x *packIndex) Count() (int64, error) { return int64(len(x.byHash)), nil }

// Entries implements idxfile.Index: by hash.
func (x *packIndex) Entries() (idxfile.EntryIter, error) {
	return &entryIter{next: func(i int) *idxfile.Entry { return &x.byHash[i] }, n: len(x.byHash)}, nil
}

// EntriesByOffset implements idxfile.Index.
func (x *packIndex) EntriesByOffset() (idxfile.EntryIter, error) {
	return &entryIter{next: func(i int) *idxfile.Entry { return &x.byHash[x.byOffset[i]] }, n: len(x.byOffset)}, nil
}

type entryIter struct {
	next func(int) *idxfile.Entry
	i, n int
}

func (it *entryIter) Next() (*idxfile.Entry, error) {
	if it.i >= it.n {
		return nil, io.EOF
	}
	e := *it.next(it.i)
	it.i++
	return &e, nil
}

func (it *entryIter) Close() error { return nil }

// entryRecorder observes a pack's parse and records where each object is.
type entryRecorder struct {
	entries  []idxfile.Entry
	checksum plumbing.Hash
}

func (r *entryRecorder) OnHeader(count uint32) error {
	r.entries = make([]idxfile.Entry, 0, count)
	return nil
}
func (r *entryRecorder) OnInflatedObjectHeader(plumbing.ObjectType, int64, int64) error { return nil }
func (r *entryRecorder) OnInflatedObjectContent(h plumbing.Hash, pos int64, crc uint32, _ []byte) error {
	r.entries = append(r.entries, idxfile.Entry{Hash: h, CRC32: crc, Offset: uint64(pos)})
	return nil
}
func (r *entryRecorder) OnFooter(h plumbing.Hash) error {
	r.checksum = h
	return nil
}
