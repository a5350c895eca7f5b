package engine

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

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
	freeze         []trailer           // a freeze override's record, if one was used
}

var specPath = field.NewPath("spec")

// planner works promotions out against a snapshot. It reads Git through a
// gitReader alone and writes nothing, so it is tested without a Git server
// (plan_test.go). Branch heads come from the snapshot.
type planner struct {
	git           gitReader
	defaultBranch string
	// overlays caches parsed overlays by tree hash; nil caches nothing.
	overlays map[gitstore.Hash]overlayFile
	// healthySince measures spec.promotionPolicy.minSoak (soak.go); nil
	// refuses every promotion that asks for a soak.
	healthySince healthySince
	// now is the clock a soak is measured with.
	now func() time.Time
}

// plannerLocked plans on the mirror, staged objects included.
func (e *Engine) plannerLocked() planner {
	pn := planner{git: e.repo, defaultBranch: e.opts.DefaultBranch, overlays: e.overlays, now: e.opts.Now}
	if e.opts.Health != nil {
		pn.healthySince = func(env *gitgate.Environment, commit gitstore.Hash, committed time.Time) (time.Time, bool, string) {
			return e.opts.Health.HealthySince(e, env, commit, committed)
		}
	}
	return pn
}

// plan works out promotion p against snapshot s.
func (pn planner) plan(s *Snapshot, p *gitgate.Promotion) (*plan, error) {
	return pn.planOnto(s, p, true)
}

// planOnto works out promotion p against snapshot s; with propose, onto a
// review branch when the target has review or approvals, else onto the
// environment branch (an approved promotion landing).
func (pn planner) planOnto(s *Snapshot, p *gitgate.Promotion, propose bool) (*plan, error) {
	target, err := usableEnvironment(s, p.Spec.Environment, specPath.Child("environment"))
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
	source, err := usableEnvironment(s, fromName, specPath.Child("from"))
	if err != nil {
		return nil, err
	}
	pl := &plan{target: target, source: source, branch: target.Spec.Branch, baseHead: s.heads[target.Spec.Branch]}
	if pl.sourceRev, err = pn.resolveRevision(s, source, p.Spec.Revision); err != nil {
		return nil, invalid("Promotion", p.Name, field.Invalid(specPath.Child("revision"), p.Spec.Revision, err.Error()))
	}
	pl.parent = pl.baseHead
	if propose && (target.Spec.Review || target.Spec.Approvals != nil) {
		pl.branch = ReviewBranchPrefix + p.Name
		if _, exists := s.heads[pl.branch]; exists {
			return nil, fmt.Errorf("review branch %s exists already: %w", pl.branch, ErrAlreadyExists)
		}
	}
	switch target.Spec.Strategy {
	case gitgate.StrategyMerge:
		err = pn.planMerge(pl)
	default:
		err = pn.planImages(pl, p)
	}
	if err != nil {
		return nil, err
	}
	if len(pl.changes) == 0 {
		return nil, invalid("Promotion", p.Name, field.Invalid(specPath.Child("environment"), target.Name,
			fmt.Sprintf("nothing to promote: %s already has what %s has at %s", target.Name, source.Name, pl.sourceRev.Short())))
	}
	if err := pn.checkSoak(p, pl); err != nil {
		return nil, err
	}
	return pl, nil
}

// usableEnvironment returns a defined, valid environment or a 422 naming fld.
func usableEnvironment(s *Snapshot, name string, fld *field.Path) (*gitgate.Environment, error) {
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

// resolveRevision turns a (possibly short) SHA into a commit on the
// source environment's branch; empty means the branch head.
func (pn planner) resolveRevision(s *Snapshot, source *gitgate.Environment, rev string) (gitstore.Hash, error) {
	head := s.heads[source.Spec.Branch]
	if rev == "" {
		return head, nil
	}
	var found gitstore.Hash
	err := pn.git.Walk([]gitstore.Hash{head}, nil, func(c *gitstore.Commit) error {
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

// planImages copies the source overlay's image versions into the target overlay.
func (pn planner) planImages(pl *plan, p *gitgate.Promotion) error {
	sourceImages, ierr := imagesAt(pn.git, pn.overlays, pl.sourceRev, pl.source.Spec.Path)
	if ierr != nil {
		return invalid("Promotion", p.Name, field.Invalid(specPath.Child("revision"), pl.sourceRev.String(),
			"the source overlay cannot be read there: "+ierr.Errors.ToAggregate().Error()))
	}
	targetImages, ierr := imagesAt(pn.git, pn.overlays, pl.baseHead, pl.target.Spec.Path)
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
	if err := checkImageRules(pl.target, p.Name, pl.changes, targetImages, sourceImages); err != nil {
		return err
	}
	if len(pl.changes) == 0 {
		return nil
	}
	var updates []kustomization.Image
	for _, ch := range pl.changes {
		updates = append(updates, findImage(sourceImages, ch.Name))
	}
	file := path.Join(pl.target.Spec.Path, kustomization.FileName)
	raw, err := pn.git.ReadFile(pl.baseHead, file)
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

// planMerge moves the target branch to the source revision's tree,
// refusing when the target has commits the source lacks.
func (pn planner) planMerge(pl *plan) error {
	head := pl.baseHead
	headTree, err := pn.git.TreeHash(head, "")
	if err != nil {
		return err
	}
	sourceTree, err := pn.git.TreeHash(pl.sourceRev, "")
	if err != nil {
		return err
	}
	if headTree == sourceTree {
		return nil // nothing to promote
	}
	inSource := map[gitstore.Hash]bool{}
	if err := pn.git.Walk([]gitstore.Hash{pl.sourceRev}, nil, func(c *gitstore.Commit) error {
		inSource[c.Hash] = true
		return nil
	}); err != nil {
		return err
	}
	var missing []string
	err = pn.git.Walk([]gitstore.Hash{head}, func(h gitstore.Hash) bool { return inSource[h] }, func(c *gitstore.Commit) error {
		if isPromotionMerge(pn.git, c) {
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
	// The merged tree is the source's: it must not carry definitions.
	if pl.target.Spec.Branch == pn.defaultBranch {
		if err := pn.checkDefinitionsUnchanged(pl, head); err != nil {
			return err
		}
	}
	// The merged tree is the source's: check the target's overlay there.
	if err := guardOverlay(pn.git, pl.target, head, pl.sourceRev, "Promotion", specPath.Child("environment"), true); err != nil {
		return err
	}
	pl.mergeTree = sourceTree
	pl.changes = []gitgate.Change{{Name: pl.target.Spec.Branch, From: head.Short(), To: pl.sourceRev.Short()}}
	return nil
}

// checkDefinitionsUnchanged refuses a Merge promotion into the
// default branch whose source has other environment definitions
// (.gitgate/) than the branch: merging would rewrite environments (their
// protections, paths and owners) without an Environment update and the
// verbs it needs. The 422 names the files; change them on the default
// branch first (kubectl edit environment), or bring the source in line.
func (pn planner) checkDefinitionsUnchanged(pl *plan, head gitstore.Hash) error {
	const dir = ".gitgate"
	have, _ := pn.git.TreeHash(head, dir) // zero when absent
	want, _ := pn.git.TreeHash(pl.sourceRev, dir)
	if have == want {
		return nil
	}
	changed := map[string]bool{}
	for _, d := range []string{dir, EnvironmentsDir} {
		for _, pair := range [][2]gitstore.Hash{{head, pl.sourceRev}, {pl.sourceRev, head}} {
			names, _ := pn.git.ListFiles(pair[0], d) // a missing directory lists nothing
			for _, n := range names {
				name := path.Join(d, n)
				mine, _ := pn.git.ReadFile(pair[0], name)
				if theirs, err := pn.git.ReadFile(pair[1], name); err != nil || !bytes.Equal(mine, theirs) {
					changed[name] = true
				}
			}
		}
	}
	if len(changed) == 0 {
		changed[dir+"/"] = true // a change deeper down
	}
	files := make([]string, 0, len(changed))
	for f := range changed {
		files = append(files, f)
	}
	sort.Strings(files)
	return invalid("Promotion", "", field.Invalid(specPath.Child("from"), pl.source.Name, fmt.Sprintf(
		"%s at %s has other environment definitions than %s (%s): a Merge promotion into the default branch must not change environments; "+
			"update them through the API on %s, or make %s's .gitgate/ match, then promote again",
		pl.source.Name, pl.sourceRev.Short(), pl.target.Spec.Branch, strings.Join(files, ", "), pl.target.Spec.Branch, pl.source.Spec.Branch)))
}

// isPromotionMerge reports whether c is a gitgate Merge promotion: a merge
// commit whose tree is its promoted parent's, so it adds nothing of its own.
func isPromotionMerge(repo gitReader, c *gitstore.Commit) bool {
	if len(c.Parents) != 2 || trailerValue(parseTrailers(c.Message), TrailerPromotion) == "" {
		return false
	}
	src, err := repo.Commit(c.Parents[1])
	return err == nil && src.Tree == c.Tree
}
