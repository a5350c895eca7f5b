package engine

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// An environment owns part of its repository exclusively: its path on its
// branch and every directory below it, or, with the Merge strategy, its
// whole branch (a Merge promotion moves every file of the branch). No two
// environments of a repository may own overlapping parts, and one Flux
// Kustomization is claimed by one environment at most. Otherwise whoever
// may promote into one environment writes into another's directory, past
// its rules (the redirect of issue 13).

// ownedPath is the directory an environment owns on its branch: "" (the
// whole branch) for the Merge strategy, its cleaned path otherwise.
func ownedPath(spec *gitgate.EnvironmentSpec) string {
	if spec.Strategy == gitgate.StrategyMerge {
		return ""
	}
	return validation.CleanPath(spec.Path)
}

// describeOwned says in words what ownedPath covers.
func describeOwned(env *gitgate.Environment) string {
	if owned := ownedPath(&env.Spec); owned != "" {
		return fmt.Sprintf("environment %s (branch %s, path %s)", env.Name, env.Spec.Branch, owned)
	}
	return fmt.Sprintf("environment %s (strategy Merge: the whole branch %s)", env.Name, env.Spec.Branch)
}

// ownedOverlap reports whether two owned directories of one branch share
// files: equal, one inside the other, or either the whole branch.
func ownedOverlap(a, b string) bool {
	return a == "" || b == "" || a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// kustomizationKey is a fluxKustomization reference with its namespace
// defaulted, so that {name: apps-prod} and {namespace: flux-system, name:
// apps-prod} are one claim.
func kustomizationKey(ref *gitgate.ObjectReference) string {
	if ref == nil {
		return ""
	}
	ns := ref.Namespace
	if ns == "" {
		ns = v1alpha1.DefaultFluxNamespace
	}
	return ns + "/" + ref.Name
}

// ownershipConflicts checks env against the other environments of its
// repository: its branch and path overlap none of theirs, and its
// fluxKustomization is none of theirs. others may contain env itself (by
// name), which is skipped. Every error names the environment in the way.
func ownershipConflicts(env *gitgate.Environment, others []*gitgate.Environment) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	mine := ownedPath(&env.Spec)
	for _, o := range others {
		if o.Name == env.Name || o.Spec.Path == "" {
			continue
		}
		if o.Spec.Branch == env.Spec.Branch && ownedOverlap(mine, ownedPath(&o.Spec)) {
			fld, value := spec.Child("path"), env.Spec.Path
			if mine == "" {
				fld, value = spec.Child("strategy"), string(env.Spec.Strategy)
			}
			errs = append(errs, field.Invalid(fld, value, fmt.Sprintf(
				"%s overlaps %s: an environment owns its branch and path exclusively, so no two environments share or nest them",
				describeOwned(env), describeOwned(o))))
		}
		if k := kustomizationKey(env.Spec.FluxKustomization); k != "" && k == kustomizationKey(o.Spec.FluxKustomization) {
			errs = append(errs, field.Invalid(spec.Child("fluxKustomization"), k, fmt.Sprintf(
				"Flux Kustomization %s is claimed by environment %s already: one Kustomization belongs to one environment only", k, o.Name)))
		}
	}
	return errs
}

// markOwnershipConflicts makes every environment whose definition, as
// committed to Git, overlaps another's branch and path or claims another's
// Kustomization unusable (Ready=False), both sides alike: gitgate cannot
// tell which definition is the rightful one, so promotions and seals into
// either are refused until the definitions are fixed in Git. The write path
// (checkEnvironmentWriteLocked) never lets such a pair in; this catches
// definitions pushed straight to Git.
func markOwnershipConflicts(s *Snapshot) {
	all := make([]*gitgate.Environment, 0, len(s.envNames))
	for _, name := range s.envNames {
		all = append(all, s.envs[name].env)
	}
	for _, name := range s.envNames {
		st := s.envs[name]
		if st.env.Spec.Path == "" { // unreadable definition: it claims nothing
			continue
		}
		errs := ownershipConflicts(st.env, all)
		if len(errs) == 0 {
			continue
		}
		if st.err == nil {
			st.err = &InvalidError{Kind: "Environment", Name: name}
		}
		st.err.Errors = append(st.err.Errors, errs...)
	}
}

// buildsFromConflictsLocked checks that env's path is no directory another
// environment of its branch builds from (a base or component its overlay
// reads), and that env's overlay builds from no other environment's path:
// a promotion or seal into an environment owning base/ would change every
// overlay built on it. head is the branch's head.
func (e *Engine) buildsFromConflictsLocked(s *Snapshot, env *gitgate.Environment, head gitstore.Hash) field.ErrorList {
	mine := ownedPath(&env.Spec)
	if mine == "" {
		return nil // a whole-branch owner overlaps every other environment of its branch already
	}
	myDirs := e.dirsReadLocked(head, mine)
	var errs field.ErrorList
	for _, name := range s.envNames {
		o := s.envs[name].env
		theirs := ownedPath(&o.Spec)
		if o.Name == env.Name || o.Spec.Branch != env.Spec.Branch || theirs == "" || o.Spec.Path == "" {
			continue
		}
		if _, reads := e.dirsReadLocked(head, theirs)[mine]; reads {
			errs = append(errs, field.Invalid(field.NewPath("spec", "path"), env.Spec.Path, fmt.Sprintf(
				"environment %s builds its overlay %s from %s: a promotion or seal into %s would change %s, so it cannot be an environment's path",
				o.Name, theirs, mine, mine, o.Name)))
		}
		if _, reads := myDirs[theirs]; reads {
			errs = append(errs, field.Invalid(field.NewPath("spec", "path"), env.Spec.Path, fmt.Sprintf(
				"the overlay %s builds from %s, which environment %s owns: promotions into %s would change this environment",
				mine, theirs, o.Name, o.Name)))
		}
	}
	return errs
}

// dirsReadLocked lists the directories a build of the overlay in dir reads
// at commit (dir itself included), without building it.
func (e *Engine) dirsReadLocked(commit gitstore.Hash, dir string) map[string]gitstore.Hash {
	dirs := map[string]gitstore.Hash{}
	_ = loadDir(e.repo, commit, dir, filesys.MakeFsInMemory(), dirs, map[string]bool{}) // what was read before an error still counts
	return dirs
}
