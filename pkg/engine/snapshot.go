package engine

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// EnvironmentsDir holds one <name>.yaml per Environment on the default branch.
const EnvironmentsDir = ".gitgate/environments"

// Snapshot is an immutable view of the repository. Objects it returns are
// shared: callers must DeepCopy before changing them.
type Snapshot struct {
	ready         bool
	rv            uint64
	defaultBranch string
	heads         map[string]gitstore.Hash
	reach         reachability

	envs     map[string]*envState
	envNames []string

	historyVersion int
	promotions     promotionIndex
	// promotionList holds every promotion and promotionsByEnv each
	// environment's, oldest first: prefixes of history's timelines, shared
	// and never changed (timeline.go).
	promotionList   promotionSeq
	promotionsByEnv map[string]promotionSeq
	// promotionChanges are the promotions added or changed since the
	// snapshot before, oldest first, when promotionDelta is true.
	promotionChanges []*gitgate.Promotion
	promotionDelta   bool
}

// promotionIndex finds promotions by name: a map shared by the snapshots
// built since it was made, and the few promotions changed since, so that a
// write copies what it changed, not all history.
type promotionIndex struct {
	base  map[string]*gitgate.Promotion // shared; never changed
	delta map[string]*gitgate.Promotion // this snapshot's own
}

func (ix promotionIndex) get(name string) (*gitgate.Promotion, bool) {
	if p, ok := ix.delta[name]; ok {
		return p, true
	}
	p, ok := ix.base[name]
	return p, ok
}

// maxDelta is the size up to which a promotionIndex's delta grows before
// it is folded into a new base: a write copies at most maxDelta entries,
// and one write in about maxDelta copies all history.
const maxDelta = 1024

// next is the index after changes, or a new one from all of list.
func (ix promotionIndex) next(changes []*gitgate.Promotion, delta bool, list promotionSeq) promotionIndex {
	if delta && ix.base != nil && len(ix.delta)+len(changes) <= maxDelta {
		d := make(map[string]*gitgate.Promotion, len(ix.delta)+len(changes))
		for k, v := range ix.delta {
			d[k] = v
		}
		for _, p := range changes {
			d[p.Name] = p
		}
		return promotionIndex{base: ix.base, delta: d}
	}
	base := make(map[string]*gitgate.Promotion, list.Len())
	for p := range list.All() {
		base[p.Name] = p
	}
	return promotionIndex{base: base}
}

type envState struct {
	env   *gitgate.Environment
	raw   []byte        // the definition file
	modRV uint64        // state at which this replica first saw raw
	err   *InvalidError // a definition or overlay that cannot be used
	// revisionTime is the commit time of env.Status.Revision.
	revisionTime time.Time
	// created is when the definition file first appeared on the default
	// branch: the Environment's creationTimestamp.
	created time.Time
	// current holds the commits at which the environment's path is what
	// env.Status.Revision holds.
	current *currentChain
}

// rvScale spaces the resourceVersions of two repository states so that the
// events between them get resourceVersions of their own.
const rvScale = 1000

// ResourceVersion is the repository state: the number of distinct commits
// reachable from its branches, times 1000. It only goes up while history is
// only added to, and every replica computes the same number for the same state.
func (s *Snapshot) ResourceVersion() uint64 { return s.rv }

// ResourceVersionString is ResourceVersion in decimal.
func (s *Snapshot) ResourceVersionString() string { return strconv.FormatUint(s.rv, 10) }

// GitReachable reports whether the last fetch worked, and why not.
func (s *Snapshot) GitReachable() (bool, string) { return s.reach.ok, s.reach.message }

// Ready reports whether the repository has been read once.
func (s *Snapshot) Ready() bool { return s.ready }

// Head returns a branch's head commit.
func (s *Snapshot) Head(branch string) (gitstore.Hash, bool) {
	h, ok := s.heads[branch]
	return h, ok
}

// Environments returns every environment, by name.
func (s *Snapshot) Environments() []*gitgate.Environment {
	out := make([]*gitgate.Environment, 0, len(s.envNames))
	for _, n := range s.envNames {
		out = append(out, s.envs[n].env)
	}
	return out
}

// Environment returns one environment, or an error wrapping ErrNotFound.
// An environment whose definition is broken is returned with Ready=False.
func (s *Snapshot) Environment(name string) (*gitgate.Environment, error) {
	st, ok := s.envs[name]
	if !ok {
		return nil, notFound("environment", name)
	}
	return st.env, nil
}

// RevisionTime is when the commit that last changed an environment was
// made (zero when unknown): break-glass drift older than it is caught up.
func (s *Snapshot) RevisionTime(name string) time.Time {
	if st, ok := s.envs[name]; ok {
		return st.revisionTime
	}
	return time.Time{}
}

// PathCurrentAt reports whether an environment's path at commit (a full
// SHA) is what its branch head holds, so that a deployment of commit is a
// deployment of the environment's current state. Commits not read yet, or
// from before the last change to the path, are not.
func (s *Snapshot) PathCurrentAt(name, commit string) bool {
	st, ok := s.envs[name]
	if !ok {
		return false
	}
	h, err := gitstore.ParseHash(commit)
	return err == nil && st.current != nil && st.current.has(h)
}

// EnvironmentError returns why an environment cannot be used, or nil.
func (s *Snapshot) EnvironmentError(name string) error {
	if st, ok := s.envs[name]; ok && st.err != nil {
		return st.err
	}
	return nil
}

// Promotions yields the promotions newest first, with their position in
// that order, those into environment only when it is not empty. Stopping
// early costs nothing for the promotions not reached, so a page of a list
// costs the page, not history.
func (s *Snapshot) Promotions(environment string) iter.Seq2[int, *gitgate.Promotion] {
	return s.promotionsOf(environment).NewestFirst()
}

// PromotionCount is how many promotions Promotions yields.
func (s *Snapshot) PromotionCount(environment string) int { return s.promotionsOf(environment).Len() }

func (s *Snapshot) promotionsOf(environment string) promotionSeq {
	if environment == "" {
		return s.promotionList
	}
	return s.promotionsByEnv[environment]
}

// Promotion returns one promotion, or an error wrapping ErrNotFound.
func (s *Snapshot) Promotion(name string) (*gitgate.Promotion, error) {
	if p, ok := s.promotions.get(name); ok {
		return p, nil
	}
	return nil, notFound("promotion", name)
}

func (e *Engine) buildSnapshotLocked(heads map[string]gitstore.Hash, st step) (_ *Snapshot, err error) {
	old := e.snap.Load()
	s := &Snapshot{
		ready:         e.hadFetch,
		rv:            uint64(len(e.known)) * rvScale,
		defaultBranch: e.opts.DefaultBranch,
		heads:         heads,
		reach:         e.reach,
		envs:          map[string]*envState{},
	}
	if e.history.version == old.historyVersion && old.promotionsByEnv != nil {
		s.historyVersion, s.promotions = old.historyVersion, old.promotions
		s.promotionList, s.promotionsByEnv = old.promotionList, old.promotionsByEnv
		s.promotionDelta = true // and no changes
	} else {
		s.historyVersion = e.history.version
		s.promotionList, s.promotionsByEnv = e.history.views()
		s.promotionChanges, s.promotionDelta = e.history.takeChanges()
		s.promotions = old.promotions.next(s.promotionChanges, s.promotionDelta, s.promotionList)
		defer func() {
			if err != nil { // the changes were taken for a snapshot never published
				e.history.full = true
			}
		}()
	}
	if head, ok := heads[e.opts.DefaultBranch]; ok {
		if err := e.readDefinitionsLocked(s, old, head, st); err != nil {
			return nil, err
		}
	}
	e.walkAllTouchesLocked(s)
	for _, name := range s.envNames {
		e.computeStatusLocked(s, s.envs[name])
	}
	return s, nil
}

// readDefinitionsLocked parses every environment file on the default branch.
func (e *Engine) readDefinitionsLocked(s, old *Snapshot, head gitstore.Hash, fresh step) error {
	files, err := e.repo.ListFiles(head, EnvironmentsDir)
	if errors.Is(err, gitstore.ErrFileNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var newFiles []string // definitions this engine has not read before
	for _, f := range files {
		if name, ok := strings.CutSuffix(f, ".yaml"); ok && old.envs[name] == nil {
			newFiles = append(newFiles, path.Join(EnvironmentsDir, f))
		}
	}
	created := e.addedAtLocked(head, newFiles) // one walk for all of them
	for _, f := range files {
		name, ok := strings.CutSuffix(f, ".yaml")
		if !ok {
			continue
		}
		file := path.Join(EnvironmentsDir, f)
		raw, err := e.repo.ReadFile(head, file)
		if err != nil {
			return err
		}
		st := &envState{raw: raw}
		prev, known := old.envs[name]
		if known && bytes.Equal(prev.raw, raw) {
			st.modRV = prev.modRV
		} else {
			st.modRV = e.changedAtLocked(head, file, fresh, s.rv)
		}
		if known {
			st.created = prev.created
		} else {
			st.created = created[file]
		}
		env, ierr := parseEnvironment(name, raw, e.opts.DefaultBranch)
		env.CreationTimestamp = metav1.NewTime(st.created)
		st.env, st.err = env, ierr
		s.envs[name] = st
		s.envNames = append(s.envNames, name)
	}
	sort.Strings(s.envNames)
	markOwnershipConflicts(s)
	// Checks across environments: references and cycles.
	for _, name := range s.envNames {
		st := s.envs[name]
		if st.err != nil {
			continue
		}
		if errs := checkUpstream(st.env, func(n string) *gitgate.Environment {
			if o, ok := s.envs[n]; ok && o.err == nil {
				return o.env
			}
			return nil
		}); len(errs) > 0 {
			st.err = &InvalidError{Kind: "Environment", Name: name, Errors: errs}
		}
	}
	return nil
}

// changedAtLocked is the lowest resourceVersion that reflects the commit
// which last changed file: that commit is found among the step's commits on
// head's first-parent chain, so that every replica gives the same number
// however its refreshes grouped the commits. When the change is older than
// the step (the first read), it is the snapshot's own, rv.
func (e *Engine) changedAtLocked(head gitstore.Hash, file string, fresh step, rv uint64) uint64 {
	if fresh.base == 0 {
		return rv // the first read: every commit is new, and walking them all would be linear in history
	}
	for cur := head; ; {
		i, ok := fresh.index[cur]
		if !ok {
			return rv
		}
		c, err := e.repo.Commit(cur)
		if err != nil || len(c.Parents) == 0 {
			return rv
		}
		now, errNow := e.repo.ReadFile(cur, file)
		before, errBefore := e.repo.ReadFile(c.Parents[0], file)
		if errNow != nil || errBefore != nil || !bytes.Equal(now, before) {
			// The first resourceVersion of that commit's place: its events
			// and every later state are at or above it.
			return (fresh.base+i-1)*rvScale + 1
		}
		cur = c.Parents[0]
	}
}

// parseEnvironment decodes a definition file. A broken file still yields an
// Environment (with its name and whatever spec could be read) and the error.
func parseEnvironment(name string, raw []byte, defaultBranch string) (*gitgate.Environment, *InvalidError) {
	env := &gitgate.Environment{ObjectMeta: metav1.ObjectMeta{Name: name}}
	var versioned v1alpha1.Environment
	if err := yaml.UnmarshalStrict(raw, &versioned); err != nil {
		return env, &InvalidError{Kind: "Environment", Name: name, Errors: field.ErrorList{
			field.Invalid(field.NewPath("spec"), path.Join(EnvironmentsDir, name+".yaml"), "the definition file is not a valid Environment: "+err.Error()),
		}}
	}
	v1alpha1.SetObjectDefaults_Environment(&versioned)
	if err := v1alpha1.Convert_v1alpha1_EnvironmentSpec_To_gitgate_EnvironmentSpec(&versioned.Spec, &env.Spec, nil); err != nil {
		return env, &InvalidError{Kind: "Environment", Name: name, Errors: field.ErrorList{field.InternalError(field.NewPath("spec"), err)}}
	}
	env.Labels, env.Annotations, env.ManagedFields = versioned.Labels, versioned.Annotations, versioned.ManagedFields
	if env.Spec.Branch == "" {
		env.Spec.Branch = defaultBranch
	}
	errs := validation.ValidateEnvironmentDefinition(env)
	if versioned.Name != "" && versioned.Name != name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), versioned.Name,
			fmt.Sprintf("must match the file name %s.yaml", name)))
	}
	if len(errs) > 0 {
		return env, &InvalidError{Kind: "Environment", Name: name, Errors: errs}
	}
	return env, nil
}

// checkUpstream verifies promotesFrom names a usable environment and that
// following promotesFrom never comes back to env.
func checkUpstream(env *gitgate.Environment, lookup func(string) *gitgate.Environment) field.ErrorList {
	fld := field.NewPath("spec", "promotesFrom")
	from := env.Spec.PromotesFrom
	if from == "" {
		return nil
	}
	if lookup(from) == nil {
		return field.ErrorList{field.NotFound(fld, from)}
	}
	seen := map[string]bool{env.Name: true}
	for cur := from; cur != ""; {
		if seen[cur] {
			return field.ErrorList{field.Invalid(fld, from, fmt.Sprintf("environments must not form a cycle: following promotesFrom from %s comes back to %s", env.Name, cur))}
		}
		seen[cur] = true
		up := lookup(cur)
		if up == nil {
			break
		}
		cur = up.Spec.PromotesFrom
	}
	return nil
}
