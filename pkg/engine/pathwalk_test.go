package engine

import (
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// TestWalkPathsAnswersEveryPathInOneWalk checks the shared walk against
// what a walk per path would say: the newest commit that changed each
// directory, when each file appeared, and the limits.
func TestWalkPathsAnswersEveryPathInOneWalk(t *testing.T) {
	m := newMemGit()
	c1 := m.commit(nil, map[string]string{"a/k.yaml": "1", "b/k.yaml": "1", "c/k.yaml": "1", "defs/a.yaml": "a"}, "first")
	c2 := m.commit([]gitstore.Hash{c1}, map[string]string{"b/k.yaml": "2", "defs/b.yaml": "b"}, "b changes, b defined")
	c3 := m.commit([]gitstore.Hash{c2}, map[string]string{"unrelated.txt": "x"}, "unrelated")
	side := m.commit([]gitstore.Hash{c2}, map[string]string{"c/k.yaml": "side"}, "c on a side branch")
	c4 := m.commit([]gitstore.Hash{c3, side}, map[string]string{"a/k.yaml": "4", "c/k.yaml": "side"}, "merge: a and c change")
	c5 := m.commit([]gitstore.Hash{c4}, map[string]string{"unrelated.txt": "y"}, "unrelated again")
	name := map[gitstore.Hash]string{c1: "c1", c2: "c2", c3: "c3", c4: "c4", c5: "c5"}

	for _, tc := range []struct {
		name  string
		limit int
		known func(gitstore.Hash, string) (gitstore.Hash, bool)
		want  map[string]string // path → commit name
	}{
		{name: "found: each path's newest change, first parents only (c came with the merge)", limit: 100,
			want: map[string]string{"a": "c4", "b": "c2", "c": "c4", "missing": "c1"}},
		{name: "found: a path never changed since the root commit is the root", limit: 100,
			want: map[string]string{"defs": "c2"}},
		{name: "ran out: paths not found within the limit answer the head", limit: 2,
			want: map[string]string{"a": "c4", "b": "c5", "c": "c4"}},
		{name: "cached: a known answer at a previous head ends that path's search", limit: 100,
			known: func(h gitstore.Hash, p string) (gitstore.Hash, bool) {
				if h == c3 && p == "b" {
					return c3, true // a deliberately different answer, to see it used
				}
				return gitstore.ZeroHash, false
			},
			want: map[string]string{"a": "c4", "b": "c3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for p := range tc.want {
				paths = append(paths, p)
			}
			w, err := walkPaths(m, c5, paths, nil, tc.limit, tc.known)
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range tc.want {
				if got := name[w.touched[p]]; got != want {
					t.Errorf("last change of %s = %s, want %s", p, got, want)
				}
			}
		})
	}

	t.Run("found: when each definition file appeared, in the same walk", func(t *testing.T) {
		w, err := walkPaths(m, c5, []string{"a"}, []string{"defs/a.yaml", "defs/b.yaml"}, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		when := func(h gitstore.Hash) string { return m.commits[h].commit.Committer.When.String() }
		if got := w.added["defs/a.yaml"].String(); got != when(c1) {
			t.Errorf("defs/a.yaml appeared at %s, want c1's time %s", got, when(c1))
		}
		if got := w.added["defs/b.yaml"].String(); got != when(c2) {
			t.Errorf("defs/b.yaml appeared at %s, want c2's time %s", got, when(c2))
		}
		if name[w.touched["a"]] != "c4" {
			t.Errorf("last change of a = %s, want c4", name[w.touched["a"]])
		}
		if len(w.chain) != 5 || w.chain[0] != c5 || w.chain[4] != c1 {
			t.Errorf("chain read = %v, want c5 … c1 along first parents", w.chain)
		}
	})
}
