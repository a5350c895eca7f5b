package gitstore

import (
	"errors"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// objectStore holds the mirror's objects: what the remote had at the last
// fetch or successful push. It is safe for concurrent use; nothing a
// request plans is ever written to it directly (see layer).
type objectStore struct {
	mu      sync.RWMutex
	objects map[plumbing.Hash]plumbing.EncodedObject
}

func newObjectStore() *objectStore {
	return &objectStore{objects: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (s *objectStore) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[h]
	return o, ok
}

// merge adds a layer's objects.
func (s *objectStore) merge(l *layer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, o := range l.objects {
		s.objects[h] = o
	}
}

// len is the number of objects held.
func (s *objectStore) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.objects)
}

// collect drops every object that none of heads reaches.
func (s *objectStore) collect(heads []plumbing.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := make(map[plumbing.Hash]struct{}, len(s.objects))
	ro := readOnly{s}
	var markTree func(h plumbing.Hash) error
	markTree = func(h plumbing.Hash) error {
		if _, seen := live[h]; seen {
			return nil
		}
		live[h] = struct{}{}
		t, err := object.GetTree(ro, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil // never fetched: nothing to keep
		}
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			if e.Mode == filemode.Dir {
				if err := markTree(e.Hash); err != nil {
					return err
				}
				continue
			}
			live[e.Hash] = struct{}{}
		}
		return nil
	}
	stack := append([]plumbing.Hash(nil), heads...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := live[h]; seen {
			continue
		}
		o, ok := s.objects[h]
		if !ok {
			continue
		}
		live[h] = struct{}{}
		if o.Type() != plumbing.CommitObject {
			continue
		}
		c, err := object.DecodeCommit(ro, o)
		if err != nil {
			return err
		}
		if err := markTree(c.TreeHash); err != nil {
			return err
		}
		stack = append(stack, c.ParentHashes...)
	}
	for h := range s.objects {
		if _, ok := live[h]; !ok {
			delete(s.objects, h)
		}
	}
	return nil
}

// readOnly reads an objectStore whose lock the caller holds.
type readOnly struct{ s *objectStore }

func (r readOnly) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }
func (r readOnly) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, errReadOnly
}
func (r readOnly) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	return typed(r.s.objects[h], t)
}
func (r readOnly) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errReadOnly
}
func (r readOnly) HasEncodedObject(h plumbing.Hash) error {
	_, err := typed(r.s.objects[h], plumbing.AnyObject)
	return err
}
func (r readOnly) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o, err := typed(r.s.objects[h], plumbing.AnyObject)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}
func (r readOnly) AddAlternate(string) error { return errReadOnly }

func typed(o plumbing.EncodedObject, t plumbing.ObjectType) (plumbing.EncodedObject, error) {
	if o == nil || (t != plumbing.AnyObject && o.Type() != t) {
		return nil, plumbing.ErrObjectNotFound
	}
	return o, nil
}

// layer holds objects that are not the remote's yet: one write's staged
// objects, or one fetch's incoming ones. Reads fall through to the store.
// Dropping a layer frees everything it holds; merging it publishes it. A
// layer is used by one goroutine at a time.
type layer struct {
	base    *objectStore
	objects map[plumbing.Hash]plumbing.EncodedObject
	order   []plumbing.Hash // in the order written
}

func newLayer(base *objectStore) *layer {
	return &layer{base: base, objects: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (l *layer) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	if o, ok := l.objects[h]; ok {
		return o, true
	}
	return l.base.get(h)
}

func (l *layer) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject records o in the layer even when the store has it, so
// that the layer holds every object a write made: the pack it pushes.
func (l *layer) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h := o.Hash()
	if _, ok := l.objects[h]; !ok {
		l.objects[h] = o
		l.order = append(l.order, h)
	}
	return h, nil
}

func (l *layer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, _ := l.get(h)
	return typed(o, t)
}

func (l *layer) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	var out []plumbing.EncodedObject
	for _, h := range l.order {
		if o := l.objects[h]; t == plumbing.AnyObject || o.Type() == t {
			out = append(out, o)
		}
	}
	return storer.NewEncodedObjectSliceIter(out), nil
}

func (l *layer) HasEncodedObject(h plumbing.Hash) error {
	_, err := l.EncodedObject(plumbing.AnyObject, h)
	return err
}

func (l *layer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o, err := l.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}

func (l *layer) AddAlternate(string) error { return errReadOnly }

// published reads the store alone; it is safe for concurrent use.
type published struct{ s *objectStore }

func (p published) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }
func (p published) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, errReadOnly
}
func (p published) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, _ := p.s.get(h)
	return typed(o, t)
}
func (p published) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errReadOnly
}
func (p published) HasEncodedObject(h plumbing.Hash) error {
	_, err := p.EncodedObject(plumbing.AnyObject, h)
	return err
}
func (p published) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o, err := p.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}
func (p published) AddAlternate(string) error { return errReadOnly }

// fetchStorer is what go-git's fetch writes into: the mirror's references
// and configuration, and the objects of the layer the fetch fills.
type fetchStorer struct {
	memory.ConfigStorage
	memory.ShallowStorage
	memory.IndexStorage
	memory.ReferenceStorage
	memory.ModuleStorage
	objects storer.EncodedObjectStorer
}

func newFetchStorer(objects storer.EncodedObjectStorer) *fetchStorer {
	return &fetchStorer{ReferenceStorage: memory.ReferenceStorage{}, ModuleStorage: memory.ModuleStorage{}, objects: objects}
}

func (f *fetchStorer) NewEncodedObject() plumbing.EncodedObject { return f.objects.NewEncodedObject() }
func (f *fetchStorer) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	return f.objects.SetEncodedObject(o)
}
func (f *fetchStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	return f.objects.EncodedObject(t, h)
}
func (f *fetchStorer) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return f.objects.IterEncodedObjects(t)
}
func (f *fetchStorer) HasEncodedObject(h plumbing.Hash) error { return f.objects.HasEncodedObject(h) }
func (f *fetchStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	return f.objects.EncodedObjectSize(h)
}
func (f *fetchStorer) AddAlternate(string) error { return errReadOnly }
