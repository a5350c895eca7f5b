package engine

import (
	"errors"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// rendered is the outcome of building one overlay, with the tree hash of
// every directory the build read: while those stay the same, so does it.
type rendered struct {
	dirs map[string]gitstore.Hash
	out  *kustomization.Rendered
	err  error
	// at is the last commit where dirs were found the same (a commit's
	// trees never change), so the rebuild after a push does not check again
	// what the render during the push checked.
	at gitstore.Hash
}

// renderLocked builds an overlay at the head of branch, cached while the
// directories it read stay the same.
func (e *Engine) renderLocked(branch string, commit gitstore.Hash, dir string) (*kustomization.Rendered, error) {
	r := e.cachedRenderLocked(e.repo, branch, commit, dir)
	return r.out, r.err
}

// cachedRenderLocked is the overlay in dir at commit, read through git,
// from the cache when the directories it read are the same there.
func (e *Engine) cachedRenderLocked(git gitReader, branch string, commit gitstore.Hash, dir string) *rendered {
	key := branch + ":" + dir
	if prev, ok := e.renders[key]; ok && (prev.at == commit || treesUnchanged(git, commit, prev.dirs)) {
		prev.at = commit
		return prev
	}
	r := renderAt(git, commit, dir)
	r.at = commit
	e.renders[key] = r
	return r
}

// prerenderLocked renders the overlays on a pushed branch at its new
// commit, through git (which must see the staged objects), into the cache
// the rebuild after the push reads: it runs while the push is in flight.
// An entry is checked against the trees it read before it is used, so one
// made for a push that fails is never served.
func (e *Engine) prerenderLocked(git gitReader, req gitstore.PushRequest) {
	if req.Branch == "" {
		return
	}
	for _, st := range e.snap.Load().envs {
		if st.env != nil && st.env.Spec.Branch == req.Branch {
			e.cachedRenderLocked(git, req.Branch, req.New, st.env.Spec.Path)
		}
	}
}

// renderAt builds the overlay in dir at any commit, uncached.
func renderAt(git gitReader, commit gitstore.Hash, dir string) *rendered {
	fs := filesys.MakeFsInMemory()
	r := &rendered{dirs: map[string]gitstore.Hash{}}
	if r.err = loadDir(git, commit, dir, fs, r.dirs, map[string]bool{}); r.err == nil {
		r.out, r.err = kustomization.Render(fs, "/"+dir)
	}
	return r
}

func treesUnchanged(git gitReader, commit gitstore.Hash, dirs map[string]gitstore.Hash) bool {
	for dir, tree := range dirs {
		if now, _ := git.TreeHash(commit, dir); now != tree {
			return false
		}
	}
	return true
}

// loadDir copies dir's files into fs, then follows what its
// kustomization refers to: directories recursively, files one by one.
// dirs receives the tree of every directory read (zero when missing);
// loaded says which directories were loaded whole. Remote references and
// paths outside the repository are left to kustomize to refuse.
func loadDir(git gitReader, commit gitstore.Hash, dir string, fs filesys.FileSystem, dirs map[string]gitstore.Hash, loaded map[string]bool) error {
	if loaded[dir] {
		return nil
	}
	loaded[dir] = true
	tree, err := git.TreeHash(commit, dir)
	dirs[dir] = tree // zero when missing, so the cache notices it appearing
	if errors.Is(err, gitstore.ErrFileNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	files, err := git.ListFiles(commit, dir)
	if err != nil {
		return err
	}
	var refs []string
	for _, f := range files {
		content, err := git.ReadFile(commit, path.Join(dir, f))
		if err != nil {
			return err
		}
		if err := fs.WriteFile("/"+path.Join(dir, f), content); err != nil {
			return err
		}
		if f == kustomization.FileName {
			if refs, err = kustomization.References(content); err != nil {
				return err
			}
		}
	}
	for _, ref := range refs {
		target := kustomization.CleanJoin(dir, ref)
		if strings.Contains(ref, "://") || strings.HasPrefix(target, "..") {
			continue
		}
		if _, err := git.TreeHash(commit, target); err == nil {
			if err := loadDir(git, commit, target, fs, dirs, loaded); err != nil {
				return err
			}
			continue
		}
		content, err := git.ReadFile(commit, target)
		if err != nil {
			// Nothing there yet: a directory appearing there changes this.
			if _, ok := dirs[target]; !ok {
				dirs[target] = gitstore.ZeroHash
			}
			continue
		}
		if err := fs.WriteFile("/"+target, content); err != nil {
			return err
		}
		parent := path.Dir(target)
		if _, ok := dirs[parent]; !ok {
			dirs[parent], _ = git.TreeHash(commit, parent)
		}
	}
	return nil
}
