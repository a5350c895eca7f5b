package engine

import (
	"errors"
	"path"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// overlayFile is what gitgate reads from an overlay's kustomization.yaml.
type overlayFile struct {
	images []kustomization.Image
	// namespace is its namespace: field, empty when it sets none.
	namespace string
}

// imagesAtLocked reads the images of the kustomization in dir at commit.
func (e *Engine) imagesAtLocked(commit gitstore.Hash, dir string) ([]kustomization.Image, *InvalidError) {
	return imagesAt(e.repo, e.overlays, commit, dir)
}

// overlayAtLocked reads the kustomization in dir at commit, cached.
func (e *Engine) overlayAtLocked(commit gitstore.Hash, dir string) (overlayFile, *InvalidError) {
	return readOverlay(e.repo, e.overlays, commit, dir)
}

// imagesAt reads the images of the kustomization in dir at commit.
func imagesAt(git gitReader, cache map[gitstore.Hash]overlayFile, commit gitstore.Hash, dir string) ([]kustomization.Image, *InvalidError) {
	overlay, err := readOverlay(git, cache, commit, dir)
	return overlay.images, err
}

// readOverlay reads the kustomization in dir at commit, cached (when cache
// is not nil) by the directory's tree hash.
func readOverlay(git gitReader, cache map[gitstore.Hash]overlayFile, commit gitstore.Hash, dir string) (overlayFile, *InvalidError) {
	fld := field.NewPath("spec", "path")
	tree, err := git.TreeHash(commit, dir)
	if err != nil {
		return overlayFile{}, &InvalidError{Kind: "Environment", Errors: field.ErrorList{field.Invalid(fld, dir,
			"must be a directory on the branch at "+commit.Short()+": "+err.Error())}}
	}
	if overlay, ok := cache[tree]; ok {
		return overlay, nil
	}
	raw, err := git.ReadFile(commit, path.Join(dir, kustomization.FileName))
	if err != nil {
		msg := "must hold a " + kustomization.FileName
		if !errors.Is(err, gitstore.ErrFileNotFound) {
			msg = err.Error()
		}
		return overlayFile{}, &InvalidError{Kind: "Environment", Errors: field.ErrorList{field.Invalid(fld, dir, msg)}}
	}
	images, err := kustomization.Images(raw)
	if err != nil {
		return overlayFile{}, &InvalidError{Kind: "Environment", Errors: field.ErrorList{field.Invalid(fld, dir, err.Error())}}
	}
	ns, err := kustomization.Namespace(raw)
	if err != nil {
		return overlayFile{}, &InvalidError{Kind: "Environment", Errors: field.ErrorList{field.Invalid(fld, dir, err.Error())}}
	}
	overlay := overlayFile{images: images, namespace: ns}
	if cache != nil {
		cache[tree] = overlay
	}
	return overlay, nil
}
