package engine

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// imageChanges lists what copying source's images (only those named, when
// names is not empty) into target would change.
func imageChanges(target, source []kustomization.Image, names []string) []gitgate.Change {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []gitgate.Change
	for _, src := range source {
		if len(want) > 0 && !want[src.Name] {
			continue
		}
		var cur kustomization.Image
		for _, t := range target {
			if t.Name == src.Name {
				cur = t
			}
		}
		if cur.NewName == src.NewName && cur.NewTag == src.NewTag && cur.Digest == src.Digest {
			continue
		}
		from, to := cur.Version(), src.Version()
		if cur.NewName != src.NewName {
			from, to = cur.Reference(), src.Reference()
		}
		out = append(out, gitgate.Change{Name: src.Name, From: from, To: to})
	}
	return out
}

// checkImageRules applies an environment's image rules to the images a
// promotion changes. An environment with imageTagPattern has rules, and
// they cover the whole reference, not only the tag: every changed image
// must carry a tag that matches the pattern (a digest alone, or a digest
// beside no tag, is refused: the pattern could not be applied), and its
// newName (the registry and repository) must stay what the target's
// overlay has, so a matching tag cannot be pulled from another registry.
// Changing where prod pulls from is an overlay change made through Git.
func checkImageRules(target *gitgate.Environment, promotion string, changes []gitgate.Change, targetImages, sourceImages []kustomization.Image) error {
	pattern := target.Spec.ImageTagPattern
	if pattern == "" {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return invalid("Promotion", promotion, field.Invalid(specPath.Child("environment"), target.Name, err.Error()))
	}
	var errs field.ErrorList
	for _, ch := range changes {
		img, cur := findImage(sourceImages, ch.Name), findImage(targetImages, ch.Name)
		fld := specPath.Child("images").Key(ch.Name)
		switch {
		case img.NewTag == "" && img.Digest != "":
			errs = append(errs, field.Invalid(fld, img.Reference(), fmt.Sprintf(
				"digest %s comes without a tag: %s's imageTagPattern %q applies to a tag, so the source must set a tag matching it beside the digest",
				img.Digest, target.Name, pattern)))
		case !re.MatchString(img.NewTag):
			errs = append(errs, field.Invalid(fld, img.NewTag,
				fmt.Sprintf("tag must match %s's imageTagPattern %q", target.Name, pattern)))
		}
		if img.NewName != cur.NewName {
			errs = append(errs, field.Invalid(fld, img.Reference(), fmt.Sprintf(
				"promotion would change the image's name from %q to %q: %s has an imageTagPattern, so promotions keep where it pulls %s from; change newName in %s through Git",
				nameOrDefault(kustomization.Image{Name: ch.Name, NewName: cur.NewName}), nameOrDefault(img), target.Name, ch.Name, target.Spec.Path)))
		}
	}
	if len(errs) > 0 {
		return &InvalidError{Kind: "Promotion", Name: promotion, Errors: errs}
	}
	return nil
}

// nameOrDefault is the image's newName, or its name when newName is unset.
func nameOrDefault(img kustomization.Image) string {
	if img.NewName != "" {
		return img.NewName
	}
	return img.Name
}

func hasImage(images []kustomization.Image, name string) bool {
	return findImage(images, name).Name != ""
}

func findImage(images []kustomization.Image, name string) kustomization.Image {
	for _, img := range images {
		if img.Name == name {
			return img
		}
	}
	return kustomization.Image{}
}

func toAPIImage(img kustomization.Image) gitgate.Image {
	return gitgate.Image{Name: img.Name, Image: img.Reference(), NewName: img.NewName, Tag: img.NewTag, Digest: img.Digest}
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
