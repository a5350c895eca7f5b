package gitstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	idx   *idxfile.MemoryIndex
	count int
	size  int // bytes of packed data

	mu sync.Mutex // go-git's Packfile reads through one cursor
	pf *packfile.Packfile
}

// indexPack indexes a packfile's bytes. The pack must be complete: every
// delta's base is in it (go-git never asks for thin packs).
func indexPack(data []byte, inflated cache.Object) (*pack, error) {
	w := new(idxfile.Writer)
	parser, err := packfile.NewParser(packfile.NewScanner(bytes.NewReader(data)), w)
	if err != nil {
		return nil, fmt.Errorf("reading packfile: %w", err)
	}
	if _, err := parser.Parse(); err != nil {
		return nil, fmt.Errorf("indexing packfile: %w", err)
	}
	idx, err := w.Index()
	if err != nil {
		return nil, fmt.Errorf("indexing packfile: %w", err)
	}
	count, err := idx.Count()
	if err != nil {
		return nil, fmt.Errorf("indexing packfile: %w", err)
	}
	file := &packBytes{Reader: bytes.NewReader(data)}
	return &pack{
		idx: idx, count: int(count), size: len(data),
		pf: packfile.NewPackfileWithCache(idx, nil, file, inflated, 0),
	}, nil
}

// has reports whether the pack holds h.
func (p *pack) has(h plumbing.Hash) bool {
	ok, err := p.idx.Contains(h)
	return err == nil && ok
}

// get inflates h.
func (p *pack) get(h plumbing.Hash) (plumbing.EncodedObject, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pf.Get(h)
}

// hashes lists every object of the pack.
func (p *pack) hashes() ([]plumbing.Hash, error) {
	iter, err := p.idx.Entries()
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	out := make([]plumbing.Hash, 0, p.count)
	for {
		e, err := iter.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e.Hash)
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
