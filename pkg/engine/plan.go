package engine

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// plan is a promotion worked out against one repository state: what it
// changes, and the commit that would carry it.
type plan struct {
	target, source *gitgate.Environment
	sourceRev      gitstore.Hash
	branch         string        // where the commit goes
	parent         gitstore.Hash // branch head the commit builds on; zero for a new review branch
	baseHead       gitstore.Hash // the environment branch head planned against
	changes        []gitgate.Change
	edits          []gitstore.FileEdit // Images strategy
	mergeTree      gitstore.Hash       // Merge strategy: the source tree
}

var specPath = field.NewPath("spec")

// planLocked works out promotion p against snapshot s.
func (e *Engine) planLocked(s *Snapshot, p *gitgate.Promotion) (*plan, error) {
	target, err := e.usableEnvironment(s, p.Spec.Environment, specPath.Child("environment"))
	if err != nil {
		return nil, err
	}
	fromName := p.Spec.From
	if fromName == "" {
		fromName = target.Spec.PromotesFrom
	}
	if fromName == "" {
		return nil, invalid("Promotion", p.Name, field.Required(specPath.Child("from"),
			fmt.Sprintf("environment %s has no promotesFrom: name the environment to promote from", target.Name)))
	}
	source, err := e.usableEnvironment(s, fromName, specPath.Child("from"))
	if err != nil {
		return nil, err
	}
	pl := &plan{target: target, source: source, branch: target.Spec.Branch, baseHead: s.heads[target.Spec.Branch]}
	if pl.sourceRev, err = e.resolveRevisionLocked(s, source, p.Spec.Revision); err != nil {
		return nil, invalid("Promotion", p.Name, field.Invalid(specPath.Child("revision"), p.Spec.Revision, err.Error()))
	}
	pl.parent = pl.baseHead
	if target.Spec.Review {
		pl.branch = ReviewBranchPrefix + p.Name
		if _, exists := s.heads[pl.branch]; exists {
			return nil, fmt.Errorf("review branch %s exists already: %w", pl.branch, ErrAlreadyExists)
		}
	}
	switch target.Spec.Strategy {
	case gitgate.StrategyMerge:
		err = e.planMergeLocked(pl)
	default:
		err = e.planImagesLocked(pl, p)
	}
	if err != nil {
		return nil, err
	}
	if len(pl.changes) == 0 {
		return nil, invalid("Promotion", p.Name, field.Invalid(specPath.Child("environment"), target.Name,
			fmt.Sprintf("nothing to promote: %s already has what %s has at %s", target.Name, source.Name, pl.sourceRev.Short())))
	}
	return pl, nil
}

// usableEnvironment returns a defined, valid environment or a 422 naming fld.
func (e *Engine) usableEnvironment(s *Snapshot, name string, fld *field.Path) (*gitgate.Environment, error) {
	st, ok := s.envs[name]
	if !ok {
		return nil, invalid("Promotion", "", field.NotFound(fld, name))
	}
	if st.err != nil {
		return nil, invalid("Promotion", "", field.Invalid(fld, name,
			"environment is not usable: "+st.err.Errors.ToAggregate().Error()))
	}
	return st.env, nil
}

// resolveRevisionLocked turns a (possibly short) SHA into a commit on the
// source environment's branch; empty means the branch head.
func (e *Engine) resolveRevisionLocked(s *Snapshot, source *gitgate.Environment, rev string) (gitstore.Hash, error) {
	head := s.heads[source.Spec.Branch]
	if rev == "" {
		return head, nil
	}
	var found gitstore.Hash
	err := e.repo.Walk([]gitstore.Hash{head}, nil, func(c *gitstore.Commit) error {
		if strings.HasPrefix(c.Hash.String(), rev) {
			found = c.Hash
			return gitstore.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return gitstore.ZeroHash, err
	}
	if found.IsZero() {
		return gitstore.ZeroHash, fmt.Errorf("must be a commit on branch %s of environment %s", source.Spec.Branch, source.Name)
	}
	return found, nil
}

// planImagesLocked copies the source overlay's image versions into the target overlay.
func (e *Engine) planImagesLocked(pl *plan, p *gitgate.Promotion) error {
	sourceImages, ierr := e.imagesAtLocked(pl.sourceRev, pl.source.Spec.Path)
	if ierr != nil {
		return invalid("Promotion", p.Name, field.Invalid(specPath.Child("revision"), pl.sourceRev.String(),
			"the source overlay cannot be read there: "+ierr.Errors.ToAggregate().Error()))
	}
	targetImages, ierr := e.imagesAtLocked(pl.baseHead, pl.target.Spec.Path)
	if ierr != nil {
		return ierr
	}
	var errs field.ErrorList
	for i, name := range p.Spec.Images {
		if !hasImage(sourceImages, name) {
			errs = append(errs, field.NotFound(specPath.Child("images").Index(i), name))
		}
	}
	if len(errs) > 0 {
		return &InvalidError{Kind: "Promotion", Name: p.Name, Errors: errs}
	}
	pl.changes = imageChanges(targetImages, sourceImages, p.Spec.Images)
	if pattern := pl.target.Spec.ImageTagPattern; pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return invalid("Promotion", p.Name, field.Invalid(specPath.Child("environment"), pl.target.Name, err.Error()))
		}
		for _, ch := range pl.changes {
			img := findImage(sourceImages, ch.Name)
			if img.NewTag != "" && !re.MatchString(img.NewTag) {
				errs = append(errs, field.Invalid(specPath.Child("images").Key(ch.Name), img.NewTag,
					fmt.Sprintf("tag must match %s's imageTagPattern %q", pl.target.Name, pattern)))
			}
		}
		if len(errs) > 0 {
			return &InvalidError{Kind: "Promotion", Name: p.Name, Errors: errs}
		}
	}
	if len(pl.changes) == 0 {
		return nil
	}
	var updates []kustomization.Image
	for _, ch := range pl.changes {
		updates = append(updates, findImage(sourceImages, ch.Name))
	}
	file := path.Join(pl.target.Spec.Path, kustomization.FileName)
	raw, err := e.repo.ReadFile(pl.baseHead, file)
	if err != nil {
		return err
	}
	edited, err := kustomization.SetImages(raw, updates)
	if err != nil {
		return invalid("Promotion", p.Name, field.Invalid(specPath.Child("environment"), pl.target.Name, err.Error()))
	}
	pl.edits = []gitstore.FileEdit{{Path: file, Content: edited}}
	return nil
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

// planMergeLocked moves the target branch to the source revision's tree,
// refusing when the target has commits the source lacks.
func (e *Engine) planMergeLocked(pl *plan) error {
	head := pl.baseHead
	headTree, err := e.repo.TreeHash(head, "")
	if err != nil {
		return err
	}
	sourceTree, err := e.repo.TreeHash(pl.sourceRev, "")
	if err != nil {
		return err
	}
	if headTree == sourceTree {
		return nil // nothing to promote
	}
	inSource := map[gitstore.Hash]bool{}
	if err := e.repo.Walk([]gitstore.Hash{pl.sourceRev}, nil, func(c *gitstore.Commit) error {
		inSource[c.Hash] = true
		return nil
	}); err != nil {
		return err
	}
	var missing []string
	err = e.repo.Walk([]gitstore.Hash{head}, func(h gitstore.Hash) bool { return inSource[h] }, func(c *gitstore.Commit) error {
		if isPromotionMerge(e.repo, c) {
			return nil
		}
		subject, _, _ := strings.Cut(c.Message, "\n")
		missing = append(missing, c.Hash.Short()+" "+subject)
		return nil
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 10 {
			shown = shown[:10]
		}
		return &ConflictError{
			Commits: missing,
			Message: fmt.Sprintf("branch %s has %d commit(s) that %s (%s) lacks; merge them back first (promote %s into %s, or git merge %s into %s): %s",
				pl.target.Spec.Branch, len(missing), pl.source.Name, pl.source.Spec.Branch, pl.target.Name, pl.source.Name,
				pl.target.Spec.Branch, pl.source.Spec.Branch, strings.Join(shown, "; ")),
		}
	}
	// The merged tree is the source's: check the target's overlay there.
	if err := e.guardOverlayLocked(pl.target, head, pl.sourceRev, "Promotion", specPath.Child("environment"), true); err != nil {
		return err
	}
	pl.mergeTree = sourceTree
	pl.changes = []gitgate.Change{{Name: pl.target.Spec.Branch, From: head.Short(), To: pl.sourceRev.Short()}}
	return nil
}

// isPromotionMerge reports whether c is a gitgate Merge promotion: a merge
// commit whose tree is its promoted parent's, so it adds nothing of its own.
func isPromotionMerge(repo *gitstore.Repository, c *gitstore.Commit) bool {
	if len(c.Parents) != 2 || trailerValue(parseTrailers(c.Message), TrailerPromotion) == "" {
		return false
	}
	src, err := repo.Commit(c.Parents[1])
	return err == nil && src.Tree == c.Tree
}
