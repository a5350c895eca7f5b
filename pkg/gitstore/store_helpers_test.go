package gitstore

import "github.com/go-git/go-git/v5/plumbing"

// compact runs a compaction now, after any running in the background.
func (s *objectStore) compact() error {
	s.compacting.Lock()
	defer s.compacting.Unlock()
	return s.compactLocked()
}

// storeStats describes the store for tests.
type storeStats struct {
	Packs, PackedBytes, Loose, Dead int
}

func (s *objectStore) stats() storeStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := storeStats{Packs: len(s.packs), Loose: len(s.loose), Dead: len(s.dead)}
	for _, p := range s.packs {
		st.PackedBytes += len(p.data)
	}
	return st
}

// hashes lists every object of the pack (an object twice, when it is
// there twice).
func (p *pack) hashes() []plumbing.Hash {
	out := make([]plumbing.Hash, len(p.idx.byHash))
	for i, e := range p.idx.byHash {
		out[i] = e.Hash
	}
	return out
}
