package gitstore

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// pack is one packfile held in memory as Git sent or encoded it (objects
// delta-compressed against each other), with its index. Objects are
// inflated on read; the inflated ones go through a cache the caller bounds.
// A pack never changes once made and is safe for concurrent use.
type pack struct {
	data  []byte
	idx   *packIndex
	count int

	mu sync.Mutex // go-git's Packfile reads through one cursor
	pf *packfile.Packfile
}

// packHeader and packTrailer are the sizes of a packfile's header
// ("PACK", version, object count) and of its closing checksum.
const (
	packHeader  = 12
	packTrailer = 20
)

// indexPack indexes a packfile's bytes. The pack must be complete: every
// delta's base is in it (go-git never asks for thin packs).
func indexPack(data []byte, inflated cache.Object) (*pack, error) {
	rec := &entryRecorder{}
	parser, err := packfile.NewParser(packfile.NewScanner(bytes.NewReader(data)), rec)
	if err != nil {
		return nil, fmt.Errorf("reading packfile: %w", err)
	}
	if _, err := parser.Parse(); err != nil {
		return nil, fmt.Errorf("indexing packfile: %w", err)
	}
	return newPack(data, newPackIndex(rec.entries), inflated), nil
}

func newPack(data []byte, idx *packIndex, inflated cache.Object) *pack {
	return &pack{
		data: data, idx: idx, count: len(idx.byHash),
		pf: packfile.NewPackfileWithCache(idx, nil, &packBytes{Reader: bytes.NewReader(data)}, inflated, 0),
	}
}

// concatPacks is one pack holding the objects of packs, their bytes
// copied as they are: a delta refers to its base by hash or by distance
// back, both of which a copy keeps. Nothing is inflated. An object two
// packs held is there twice, which go-git reads but `git index-pack`
// refuses: such a pack is for this mirror only, never sent or written out.
func concatPacks(packs []*pack, inflated cache.Object) *pack {
	size, count := packHeader+packTrailer, 0
	for _, p := range packs {
		size += len(p.data) - packHeader - packTrailer
		count += p.count
	}
	data := make([]byte, 0, size)
	data = append(data, "PACK"...)
	data = binary.BigEndian.AppendUint32(data, 2)
	data = binary.BigEndian.AppendUint32(data, uint32(count))
	entries := make([]idxfile.Entry, 0, count)
	for _, p := range packs {
		shift := uint64(len(data) - packHeader)
		for _, e := range p.idx.byHash {
			e.Offset += shift
			entries = append(entries, e)
		}
		data = append(data, p.data[packHeader:len(p.data)-packTrailer]...)
	}
	sum := sha1.Sum(data)
	data = append(data, sum[:]...)
	return newPack(data, newPackIndex(entries), inflated)
}

// has reports whether the pack holds h.
func (p *pack) has(h plumbing.Hash) bool {
	_, ok := p.idx.find(h)
	return ok
}

// get inflates h.
func (p *pack) get(h plumbing.Hash) (plumbing.EncodedObject, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pf.Get(h)
}

// entries calls fn with every object of the pack and the bytes it takes
// there (an object twice, when it is there twice).
func (p *pack) entries(fn func(h plumbing.Hash, size int)) {
	end := uint64(len(p.data) - packTrailer)
	for i := len(p.idx.byOffset) - 1; i >= 0; i-- {
		e := p.idx.byHash[p.idx.byOffset[i]]
		fn(e.Hash, int(end-e.Offset))
		end = e.Offset
	}
}

// encodePack packs objects, delta-compressing them against each other.
func encodePack(objects map[plumbing.Hash]plumbing.EncodedObject, inflated cache.Object) (*pack, error) {
	hashes := make([]plumbing.Hash, 0, len(objects))
	for h := range objects {
		hashes = append(hashes, h)
	}
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, objectMap(objects), false).Encode(hashes, packWindow); err != nil {
		return nil, fmt.Errorf("packing %d objects: %w", len(objects), err)
	}
	return indexPack(bytes.Clone(buf.Bytes()), inflated)
}

// packWindow is how many objects of the same type and size the encoder
// tries as a delta base, as `git repack --window` (git's default is 10).
const packWindow = 10

// packWriter receives the pack a fetch brings and indexes it on Close.
type packWriter struct {
	buf      bytes.Buffer
	inflated cache.Object
	done     func(*pack)
}

func (w *packWriter) Write(b []byte) (int, error) { return w.buf.Write(b) }

func (w *packWriter) Close() error {
	if w.buf.Len() == 0 {
		return nil
	}
	p, err := indexPack(bytes.Clone(w.buf.Bytes()), w.inflated)
	w.buf = bytes.Buffer{}
	if err != nil {
		return err
	}
	if p.count > 0 {
		w.done(p)
	}
	return nil
}

// packBytes is a pack's bytes as the billy.File go-git's Packfile reads.
type packBytes struct{ *bytes.Reader }

func (packBytes) Name() string                              { return "memory.pack" }
func (packBytes) Write([]byte) (int, error)                 { return 0, errReadOnly }
func (packBytes) Close() error                              { return nil }
func (packBytes) Lock() error                               { return nil }
func (packBytes) Unlock() error                             { return nil }
func (packBytes) Truncate(int64) error                      { return errReadOnly }
func (f packBytes) ReadAt(b []byte, off int64) (int, error) { return f.Reader.ReadAt(b, off) }

// objectMap reads a set of objects; the pack encoder reads from it.
type objectMap map[plumbing.Hash]plumbing.EncodedObject

func (m objectMap) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }
func (m objectMap) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, errReadOnly
}
func (m objectMap) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	return typed(m[h], t)
}
func (m objectMap) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errReadOnly
}
func (m objectMap) HasEncodedObject(h plumbing.Hash) error {
	_, err := typed(m[h], plumbing.AnyObject)
	return err
}
func (m objectMap) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o, err := typed(m[h], plumbing.AnyObject)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}
func (m objectMap) AddAlternate(string) error { return errReadOnly }
