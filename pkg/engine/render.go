package engine

import (
	"errors"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// rendered is the outcome of building one overlay, with the tree hash of
// every directory the build read: while those stay the same, so does it.
type rendered struct {
	dirs map[string]gitstore.Hash
	out  *kustomization.Rendered
	err  error
}

// renderLocked builds an overlay at the head of branch, cached while the
// directories it read stay the same.
func (e *Engine) renderLocked(branch string, commit gitstore.Hash, dir string) (*kustomization.Rendered, error) {
	key := branch + ":" + dir
	if prev, ok := e.renders[key]; ok && e.treesUnchangedLocked(commit, prev.dirs) {
		return prev.out, prev.err
	}
	r := e.renderAtLocked(commit, dir)
	e.renders[key] = r
	return r.out, r.err
}

// renderAtLocked builds the overlay in dir at any commit, uncached.
func (e *Engine) renderAtLocked(commit gitstore.Hash, dir string) *rendered {
	fs := filesys.MakeFsInMemory()
	r := &rendered{dirs: map[string]gitstore.Hash{}}
	if r.err = e.loadDirLocked(commit, dir, fs, r.dirs); r.err == nil {
		r.out, r.err = kustomization.Render(fs, "/"+dir)
	}
	return r
}

func (e *Engine) treesUnchangedLocked(commit gitstore.Hash, dirs map[string]gitstore.Hash) bool {
	for dir, tree := range dirs {
		if now, _ := e.repo.TreeHash(commit, dir); now != tree {
			return false
		}
	}
	return true
}

// loadDirLocked copies dir's files into fs, then follows what its
// kustomization refers to: directories recursively, files one by one.
// Remote references and paths outside the repository are left to kustomize
// to refuse.
func (e *Engine) loadDirLocked(commit gitstore.Hash, dir string, fs filesys.FileSystem, dirs map[string]gitstore.Hash) error {
	if _, done := dirs[dir]; done {
		return nil
	}
	tree, err := e.repo.TreeHash(commit, dir)
	dirs[dir] = tree // zero when missing, so the cache notices it appearing
	if errors.Is(err, gitstore.ErrFileNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	files, err := e.repo.ListFiles(commit, dir)
	if err != nil {
		return err
	}
	var refs []string
	for _, f := range files {
		content, err := e.repo.ReadFile(commit, path.Join(dir, f))
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
		if _, err := e.repo.TreeHash(commit, target); err == nil {
			if err := e.loadDirLocked(commit, target, fs, dirs); err != nil {
				return err
			}
			continue
		}
		if content, err := e.repo.ReadFile(commit, target); err == nil {
			if err := fs.WriteFile("/"+target, content); err != nil {
				return err
			}
			parent := path.Dir(target)
			if _, ok := dirs[parent]; !ok {
				dirs[parent], _ = e.repo.TreeHash(commit, parent)
			}
		}
	}
	return nil
}

// effectiveImages pairs the overlay's images: entries with what the render
// runs, and adds rendered images no entry names.
func effectiveImages(declared []kustomization.Image, renderedImages []string) []gitgate.Image {
	used := map[string]bool{}
	var out []gitgate.Image
	for _, d := range declared {
		img := toAPIImage(d)
		repo := d.Name
		if d.NewName != "" {
			repo = d.NewName
		}
		for _, r := range renderedImages {
			if kustomization.Repository(r) == repo {
				img.Image, used[r] = r, true
				break
			}
		}
		out = append(out, img)
	}
	for _, r := range renderedImages {
		if !used[r] {
			out = append(out, gitgate.Image{Name: kustomization.Repository(r), Image: r})
		}
	}
	return out
}
