package gitstore

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Reader reads commits, trees and files. The one from
// Repository.Published reads the mirror alone and is safe for concurrent
// use with anything the Repository does; Repository's own read methods
// also see what is staged.
type Reader struct{ s storer.EncodedObjectStorer }

// Published reads the mirror's objects, those staged left out. It is safe
// for concurrent use.
func (r *Repository) Published() Reader { return Reader{published{r.store}} }

// Pending reads the mirror and what is staged now. Unlike the Repository,
// it keeps reading those objects after a Push or Discard, so it may be
// used beside a Push running on another goroutine.
func (r *Repository) Pending() Reader { return r.reader() }

// reader reads the mirror and what is staged.
func (r *Repository) reader() Reader {
	if r.stage != nil {
		return Reader{r.stage}
	}
	return r.Published()
}

// Commit returns a commit's metadata, or an error wrapping ErrCommitNotFound.
func (r *Repository) Commit(h Hash) (*Commit, error) { return r.reader().Commit(h) }

// ReadFile returns a file's content at a commit, or an error wrapping
// ErrFileNotFound.
func (r *Repository) ReadFile(commit Hash, name string) ([]byte, error) {
	return r.reader().ReadFile(commit, name)
}

// TreeHash returns the hash of the tree at dir in a commit ("" is the
// root), or an error wrapping ErrFileNotFound.
func (r *Repository) TreeHash(commit Hash, dir string) (Hash, error) {
	return r.reader().TreeHash(commit, dir)
}

// ListFiles returns the names of the regular files directly in dir at a commit.
func (r *Repository) ListFiles(commit Hash, dir string) ([]string, error) {
	return r.reader().ListFiles(commit, dir)
}

// EntryHashes returns the hash of the tree or file at each path in a
// commit, ZeroHash where there is none (see Reader.EntryHashes).
func (r *Repository) EntryHashes(commit Hash, paths []string) ([]Hash, error) {
	return r.reader().EntryHashes(commit, paths)
}

// WalkFiles calls fn with the path and content of every regular file in
// the commit's tree, in path order.
func (r *Repository) WalkFiles(commit Hash, fn func(name string, content []byte) error) error {
	return r.reader().WalkFiles(commit, fn)
}

// Walk visits the commits reachable from heads, newest first, skipping
// those for which skip returns true along with their ancestors. It stops
// early, without error, when fn returns ErrStopWalk.
func (r *Repository) Walk(heads []Hash, skip func(Hash) bool, fn func(*Commit) error) error {
	return r.reader().Walk(heads, skip, fn)
}

// IsAncestor reports whether a is b or one of b's ancestors.
func (r *Repository) IsAncestor(a, b Hash) (bool, error) { return r.reader().IsAncestor(a, b) }

// Commit returns a commit's metadata, or an error wrapping ErrCommitNotFound.
func (r Reader) Commit(h Hash) (*Commit, error) {
	c, err := r.commit(h)
	if err != nil {
		return nil, err
	}
	return toCommit(c), nil
}

func (r Reader) commit(h Hash) (*object.Commit, error) {
	c, err := object.GetCommit(r.s, h.plumbing())
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("commit %s: %w", h.Short(), ErrCommitNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", h.Short(), err)
	}
	return c, nil
}

func toCommit(c *object.Commit) *Commit {
	parents := make([]Hash, len(c.ParentHashes))
	for i, p := range c.ParentHashes {
		parents[i] = fromPlumbing(p)
	}
	return &Commit{
		Hash:      fromPlumbing(c.Hash),
		Tree:      fromPlumbing(c.TreeHash),
		Parents:   parents,
		Author:    Signature(c.Author),
		Committer: Signature(c.Committer),
		Message:   c.Message,
	}
}

// ReadFile returns a file's content at a commit, or an error wrapping
// ErrFileNotFound.
func (r Reader) ReadFile(commit Hash, name string) ([]byte, error) {
	c, err := r.commit(commit)
	if err != nil {
		return nil, err
	}
	f, err := c.File(cleanPath(name))
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s at %s: %w", name, commit.Short(), ErrFileNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", name, commit.Short(), err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", name, commit.Short(), err)
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// TreeHash returns the hash of the tree at dir in a commit ("" is the
// root), or an error wrapping ErrFileNotFound.
func (r Reader) TreeHash(commit Hash, dir string) (Hash, error) {
	t, err := r.tree(commit, dir)
	if err != nil {
		return ZeroHash, err
	}
	return fromPlumbing(t.Hash), nil
}

func (r Reader) tree(commit Hash, dir string) (*object.Tree, error) {
	c, err := r.commit(commit)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading tree of %s: %w", commit.Short(), err)
	}
	if dir = cleanPath(dir); dir == "" {
		return t, nil
	}
	sub, err := t.Tree(dir)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, fmt.Errorf("directory %s at %s: %w", dir, commit.Short(), ErrFileNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", dir, commit.Short(), err)
	}
	return sub, nil
}

// EntryHashes returns the hash of what each path names in a commit (a
// tree or a file; ZeroHash when nothing is there), reading each directory
// once however many of the paths share it: one call per commit serves a
// walk that follows many paths at once.
func (r Reader) EntryHashes(commit Hash, paths []string) ([]Hash, error) {
	c, err := r.commit(commit)
	if err != nil {
		return nil, err
	}
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading tree of %s: %w", commit.Short(), err)
	}
	trees := map[string]*object.Tree{"": root} // by directory; nil when absent
	var dirTree func(dir string) (*object.Tree, error)
	dirTree = func(dir string) (*object.Tree, error) {
		if t, ok := trees[dir]; ok {
			return t, nil
		}
		parent, err := dirTree(parentDir(dir))
		if err != nil {
			return nil, err
		}
		var t *object.Tree
		if parent != nil {
			if e, ferr := parent.FindEntry(path.Base(dir)); ferr == nil && e.Mode == filemode.Dir {
				if t, err = object.GetTree(r.s, e.Hash); err != nil {
					return nil, fmt.Errorf("reading %s at %s: %w", dir, commit.Short(), err)
				}
			}
		}
		trees[dir] = t
		return t, nil
	}
	out := make([]Hash, len(paths))
	for i, p := range paths {
		if p = cleanPath(p); p == "" {
			out[i] = fromPlumbing(root.Hash)
			continue
		}
		parent, err := dirTree(parentDir(p))
		if err != nil {
			return nil, err
		}
		if parent == nil {
			continue
		}
		if e, ferr := parent.FindEntry(path.Base(p)); ferr == nil {
			out[i] = fromPlumbing(e.Hash)
		}
	}
	return out, nil
}

// parentDir is the directory holding p, "" for the root.
func parentDir(p string) string {
	if d := path.Dir(p); d != "." {
		return d
	}
	return ""
}

// ListFiles returns the names of the regular files directly in dir at a commit.
func (r Reader) ListFiles(commit Hash, dir string) ([]string, error) {
	t, err := r.tree(commit, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range t.Entries {
		if e.Mode.IsFile() {
			names = append(names, e.Name)
		}
	}
	return names, nil
}

// WalkFiles calls fn with the path and content of every regular file in
// the commit's tree, in path order.
func (r Reader) WalkFiles(commit Hash, fn func(name string, content []byte) error) error {
	c, err := r.commit(commit)
	if err != nil {
		return err
	}
	files, err := c.Files()
	if err != nil {
		return fmt.Errorf("listing files of %s: %w", commit.Short(), err)
	}
	return files.ForEach(func(f *object.File) error {
		content, err := f.Contents()
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Name, err)
		}
		return fn(f.Name, []byte(content))
	})
}

// Walk visits the commits reachable from heads, newest first, skipping
// those for which skip returns true along with their ancestors. It stops
// early, without error, when fn returns ErrStopWalk.
func (r Reader) Walk(heads []Hash, skip func(Hash) bool, fn func(*Commit) error) error {
	seen := map[Hash]bool{}
	stack := append([]Hash(nil), heads...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] || (skip != nil && skip(h)) {
			continue
		}
		seen[h] = true
		c, err := r.commit(h)
		if err != nil {
			return err
		}
		cc := toCommit(c)
		if err := fn(cc); err != nil {
			if errors.Is(err, ErrStopWalk) {
				return nil
			}
			return err
		}
		for i := len(cc.Parents) - 1; i >= 0; i-- {
			stack = append(stack, cc.Parents[i])
		}
	}
	return nil
}

// ErrStopWalk ends a Walk early.
var ErrStopWalk = errors.New("stop walk")

// IsAncestor reports whether a is b or one of b's ancestors.
func (r Reader) IsAncestor(a, b Hash) (bool, error) {
	found := false
	err := r.Walk([]Hash{b}, nil, func(c *Commit) error {
		if c.Hash == a {
			found = true
			return ErrStopWalk
		}
		return nil
	})
	return found, err
}

// CreateCommit writes a commit on top of parent that applies edits, and
// returns its hash; with a Signer configured, the commit is signed. Its objects are staged: Push publishes them, Discard drops them.
// With no edits the commit has parent's tree. Extra parents make a merge.
func (r *Repository) CreateCommit(parents []Hash, tree Hash, edits []FileEdit, message string, author, committer Signature) (Hash, error) {
	root := tree
	if root.IsZero() && len(parents) > 0 {
		c, err := r.reader().commit(parents[0])
		if err != nil {
			return ZeroHash, err
		}
		root = fromPlumbing(c.TreeHash)
	}
	for _, e := range edits {
		var err error
		root, err = r.editTree(root, strings.Split(cleanPath(e.Path), "/"), e.Content)
		if err != nil {
			return ZeroHash, fmt.Errorf("writing %s: %w", e.Path, err)
		}
	}
	c := &object.Commit{
		Author:    object.Signature(author),
		Committer: object.Signature(committer),
		Message:   message,
		TreeHash:  root.plumbing(),
	}
	for _, p := range parents {
		c.ParentHashes = append(c.ParentHashes, p.plumbing())
	}
	if err := signCommit(r.signer, c); err != nil {
		return ZeroHash, err
	}
	return r.put(c)
}

// editTree returns the hash of tree with the file at parts replaced by
// content (nil deletes it), writing every changed tree object.
func (r *Repository) editTree(tree Hash, parts []string, content []byte) (Hash, error) {
	t := &object.Tree{}
	if !tree.IsZero() {
		old, err := object.GetTree(r.staging(), tree.plumbing())
		if err != nil {
			return ZeroHash, fmt.Errorf("reading tree %s: %w", tree.Short(), err)
		}
		t.Entries = append(t.Entries, old.Entries...)
	}
	name := parts[0]
	idx := -1
	for i, e := range t.Entries {
		if e.Name == name {
			idx = i
		}
	}
	var entry *object.TreeEntry
	if len(parts) == 1 {
		if content != nil {
			blob := r.staging().NewEncodedObject()
			blob.SetType(plumbing.BlobObject)
			w, err := blob.Writer()
			if err != nil {
				return ZeroHash, err
			}
			if _, err := w.Write(content); err != nil {
				return ZeroHash, err
			}
			_ = w.Close()
			h, err := r.staging().SetEncodedObject(blob)
			if err != nil {
				return ZeroHash, err
			}
			entry = &object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
		}
	} else {
		sub := ZeroHash
		if idx >= 0 && t.Entries[idx].Mode == filemode.Dir {
			sub = fromPlumbing(t.Entries[idx].Hash)
		}
		h, err := r.editTree(sub, parts[1:], content)
		if err != nil {
			return ZeroHash, err
		}
		if h != ZeroHash {
			entry = &object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h.plumbing()}
		}
	}
	switch {
	case idx >= 0 && entry != nil:
		t.Entries[idx] = *entry
	case idx >= 0:
		t.Entries = append(t.Entries[:idx], t.Entries[idx+1:]...)
	case entry != nil:
		t.Entries = append(t.Entries, *entry)
	}
	if len(t.Entries) == 0 {
		return ZeroHash, nil // an empty directory disappears
	}
	sort.Slice(t.Entries, func(i, j int) bool { return treeSortKey(t.Entries[i]) < treeSortKey(t.Entries[j]) })
	return r.put(t)
}

// treeSortKey orders entries the way Git does: directories as if their
// name ended in "/".
func treeSortKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

type encodable interface {
	Encode(plumbing.EncodedObject) error
}

// staging is where a write's objects go until Push publishes them.
func (r *Repository) staging() *layer {
	if r.stage == nil {
		r.stage = newLayer(r.store)
	}
	return r.stage
}

func (r *Repository) put(o encodable) (Hash, error) {
	obj := r.staging().NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return ZeroHash, fmt.Errorf("encoding object: %w", err)
	}
	h, err := r.staging().SetEncodedObject(obj)
	if err != nil {
		return ZeroHash, fmt.Errorf("storing object: %w", err)
	}
	return fromPlumbing(h), nil
}

func cleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}
