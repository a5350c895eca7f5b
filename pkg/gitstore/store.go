package gitstore

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// objectStore holds the mirror's objects: what the remote had at the last
// fetch or successful push. It is safe for concurrent use; nothing a
// request plans is ever written to it directly (see layer).
//
// Objects stay packed as Git sent them, delta-compressed against each
// other, and are inflated on read through one bounded cache: a tree that
// changes a little in every commit costs its delta, not its size, per
// commit. Objects a push published wait loose until enough of them are
// packed together; small packs are merged the way `git repack --geometric`
// does, so there are few to search.
type objectStore struct {
	limits   storeLimits
	inflated cache.Object // shared by every pack; safe for concurrent use

	// compacting is held by the one compaction running, and by collect.
	compacting sync.Mutex

	mu    sync.RWMutex
	packs []*pack // oldest first; a pack never changes once added
	loose map[plumbing.Hash]plumbing.EncodedObject
	// looseBytes is the size of the loose objects; received is what
	// fetches and pushes brought since the last collect, which bounds what
	// may have become unreachable since (see mayLinger).
	looseBytes, received int64
	// dead are packed objects no ref reaches since the last collect; they
	// are hidden, and their bytes freed when the mirror starts over (see
	// wasteful). deadBytes is their packed size at that collect.
	dead      map[plumbing.Hash]struct{}
	deadBytes int
}

// storeLimits bound what an objectStore keeps and how it packs.
type storeLimits struct {
	// looseObjects and looseBytes: loose objects are packed together once
	// there are this many of them, or they hold this many bytes.
	looseObjects int
	looseBytes   int64
	// packs is how many packs may accumulate before small ones are merged.
	packs int
	// inflatedBytes bounds the cache of inflated objects.
	inflatedBytes cache.FileSize
}

// defaultStoreLimits: loose objects wait for about a hundred writes, and
// the cache holds the trees and blobs of a few thousand commits.
func defaultStoreLimits() storeLimits {
	return storeLimits{
		looseObjects:  2048,
		looseBytes:    16 << 20,
		packs:         16,
		inflatedBytes: 64 * cache.MiByte,
	}
}

func newObjectStore(limits storeLimits) *objectStore {
	return &objectStore{
		limits:   limits,
		inflated: cache.NewObjectLRU(limits.inflatedBytes),
		loose:    map[plumbing.Hash]plumbing.EncodedObject{},
		dead:     map[plumbing.Hash]struct{}{},
	}
}

// empty is a store with nothing in it that shares s's limits and cache.
func (s *objectStore) empty() *objectStore {
	return &objectStore{
		limits: s.limits, inflated: s.inflated,
		loose: map[plumbing.Hash]plumbing.EncodedObject{},
		dead:  map[plumbing.Hash]struct{}{},
	}
}

// adopt replaces everything s holds with what from holds; from must not be
// used after.
func (s *objectStore) adopt(from *objectStore) {
	s.compacting.Lock()
	defer s.compacting.Unlock()
	from.compacting.Lock()
	defer from.compacting.Unlock()
	from.mu.Lock()
	defer from.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs, s.loose, s.dead, s.deadBytes = from.packs, from.loose, from.dead, from.deadBytes
	s.looseBytes, s.received = from.looseBytes, 0
}

func (s *objectStore) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	s.mu.RLock()
	if _, gone := s.dead[h]; gone {
		s.mu.RUnlock()
		return nil, false
	}
	if o, ok := s.loose[h]; ok {
		s.mu.RUnlock()
		return o, true
	}
	p := s.packOfLocked(h)
	s.mu.RUnlock()
	if p == nil {
		return nil, false
	}
	o, err := p.get(h)
	return o, err == nil
}

// packOfLocked is the newest pack holding h, or nil.
func (s *objectStore) packOfLocked(h plumbing.Hash) *pack {
	for i := len(s.packs) - 1; i >= 0; i-- {
		if s.packs[i].has(h) {
			return s.packs[i]
		}
	}
	return nil
}

// merge publishes a layer's objects and packs. Only the mirror's owner
// calls it.
func (s *objectStore) merge(l *layer) {
	s.mu.Lock()
	for h, o := range l.objects {
		if _, gone := s.dead[h]; !gone && (s.loose[h] != nil || s.packOfLocked(h) != nil) {
			continue
		}
		delete(s.dead, h)
		s.loose[h] = o
		s.looseBytes += o.Size()
		s.received += o.Size()
	}
	for _, p := range l.packs {
		for h := range s.dead {
			if p.has(h) {
				delete(s.dead, h) // sent again: alive
			}
		}
		s.received += int64(len(p.data))
	}
	s.packs = append(s.packs, l.packs...)
	s.mu.Unlock()
}

// mayLinger says whether a deleted branch may be left uncollected (see
// Repository.rewritten): only while what fetches and pushes brought since
// the last collect, all that could have become unreachable since, is at
// most a quarter of the packed bytes.
func (s *objectStore) mayLinger() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return 4*s.received <= int64(s.packedBytesLocked())
}

func (s *objectStore) packedBytesLocked() int {
	n := 0
	for _, p := range s.packs {
		n += len(p.data)
	}
	return n
}

// compactSoon starts packing in the background when enough objects wait
// loose or packs have piled up, unless a compaction is running already:
// a write does not wait for it. When it fails, the objects stay where they
// were (nothing is lost) and the next compaction tries again.
func (s *objectStore) compactSoon() {
	if !s.needsCompaction() || !s.compacting.TryLock() {
		return
	}
	go func() {
		defer s.compacting.Unlock()
		_ = s.compactLocked()
	}()
}

func (s *objectStore) needsCompaction() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.looseDueLocked() || len(s.packs) > s.limits.packs
}

// looseDueLocked says enough objects wait loose to be packed.
func (s *objectStore) looseDueLocked() bool {
	return len(s.loose) > 0 && (len(s.loose) >= s.limits.looseObjects || s.looseBytes >= s.limits.looseBytes)
}

// compactLocked packs what waits loose when there is enough of it, and
// merges small packs when there are too many; the caller holds compacting.
func (s *objectStore) compactLocked() error {
	if err := s.packLoose(); err != nil {
		return fmt.Errorf("packing loose objects: %w", err)
	}
	s.mergePacks()
	return nil
}

// packLoose packs the loose objects together once there are enough.
func (s *objectStore) packLoose() error {
	s.mu.RLock()
	if !s.looseDueLocked() {
		s.mu.RUnlock()
		return nil
	}
	waiting := make(objectMap, len(s.loose))
	for h, o := range s.loose {
		waiting[h] = o
	}
	s.mu.RUnlock()
	p, err := encodePack(waiting, s.inflated)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs = append(s.packs, p)
	for h, o := range waiting {
		if _, ok := s.loose[h]; ok {
			delete(s.loose, h)
			s.looseBytes -= o.Size()
		}
	}
	return nil
}

// mergePacks rolls the newest packs into one when there are too many, as
// git's geometric repack does: it takes packs from the newest while the
// next older one is less than twice the size of those taken, so that the
// packs left grow geometrically and there are few of them. The merge
// copies the packs' bytes (concatPacks): it inflates nothing, and dead
// objects stay in it until the mirror starts over (wasteful counts their
// bytes).
func (s *objectStore) mergePacks() {
	s.mu.RLock()
	packs := s.packs
	s.mu.RUnlock()
	if len(packs) <= s.limits.packs {
		return
	}
	first := len(packs) - 1
	size := len(packs[first].data)
	for first > 0 && len(packs[first-1].data) < 2*size {
		first--
		size += len(packs[first].data)
	}
	if first == len(packs)-1 {
		first-- // all twice the next: merge the two newest
	}
	taken := packs[first:]
	merged := concatPacks(taken, s.inflated)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Packs only join at the end while a compaction runs (merge), so the
	// ones taken are still where they were.
	rest := s.packs[first+len(taken):]
	s.packs = append(append(append([]*pack(nil), s.packs[:first]...), merged), rest...)
}

func (s *objectStore) isDead(h plumbing.Hash) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, gone := s.dead[h]
	return gone
}

// len is the number of objects held, about: an object two packs hold
// counts twice.
func (s *objectStore) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.packedLocked() + len(s.loose) - len(s.dead)
}

func (s *objectStore) packedLocked() int {
	n := 0
	for _, p := range s.packs {
		n += p.count
	}
	return n
}

// wasteful reports whether more than a quarter of the packed objects, or
// of the packed bytes, are dead: then the mirror should start over from a
// fresh fetch, which frees them. (Objects that came back since count as
// dead bytes until the next collect: at worst the mirror starts over
// early.)
func (s *objectStore) wasteful() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.dead) == 0 {
		return false
	}
	return 4*len(s.dead) > s.packedLocked() || 4*s.deadBytes > s.packedBytesLocked()
}

// collect drops every object that none of heads reaches. Only the
// mirror's owner calls it.
func (s *objectStore) collect(heads []plumbing.Hash) error {
	s.compacting.Lock()
	defer s.compacting.Unlock()
	live := map[plumbing.Hash]struct{}{}
	ro := published{s}
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
		o, ok := s.get(h)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, o := range s.loose {
		if _, ok := live[h]; !ok {
			delete(s.loose, h)
			s.looseBytes -= o.Size()
		}
	}
	s.received = 0
	s.deadBytes = 0
	for _, p := range s.packs {
		p.entries(func(h plumbing.Hash, size int) {
			if _, ok := live[h]; !ok {
				s.dead[h] = struct{}{}
				s.deadBytes += size
			}
		})
	}
	return nil
}

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
	packs   []*pack         // what a fetch received
}

func newLayer(base *objectStore) *layer {
	return &layer{base: base, objects: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (l *layer) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	if o, ok := l.objects[h]; ok {
		return o, true
	}
	for i := len(l.packs) - 1; i >= 0; i-- {
		if l.packs[i].has(h) {
			o, err := l.packs[i].get(h)
			return o, err == nil
		}
	}
	return l.base.get(h)
}

// PackfileWriter takes a fetched pack whole, to keep it packed.
func (l *layer) PackfileWriter() (io.WriteCloser, error) {
	return &packWriter{inflated: l.base.inflated, done: func(p *pack) { l.packs = append(l.packs, p) }}, nil
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

// PackfileWriter lets a fetch hand its pack over whole (see layer).
func (f *fetchStorer) PackfileWriter() (io.WriteCloser, error) {
	if pw, ok := f.objects.(storer.PackfileWriter); ok {
		return pw.PackfileWriter()
	}
	return nil, errReadOnly
}
