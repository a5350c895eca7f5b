// Package validation checks gitgate objects for what can be known without
// reading Git: names, enums, patterns and required fields. The engine adds
// the checks that need the repository (paths, references, cycles).
package validation

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// ValidateEnvironment checks an Environment's metadata and spec.
func ValidateEnvironment(env *gitgate.Environment) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&env.ObjectMeta, true, apimachineryvalidation.NameIsDNSLabel, field.NewPath("metadata"))
	return append(allErrs, ValidateEnvironmentSpec(&env.Spec, field.NewPath("spec"))...)
}

// ValidateEnvironmentDefinition checks what a definition file holds: the
// name (which is also the file name) and the spec, without a namespace.
func ValidateEnvironmentDefinition(env *gitgate.Environment) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNSLabel(env.Name, false) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), env.Name, msg))
	}
	return append(allErrs, ValidateEnvironmentSpec(&env.Spec, field.NewPath("spec"))...)
}

// ValidateEnvironmentSpec checks the spec fields that need no repository.
func ValidateEnvironmentSpec(spec *gitgate.EnvironmentSpec, fld *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Branch != "" {
		allErrs = append(allErrs, ValidateEnvironmentBranch(spec.Branch, fld.Child("branch"))...)
	}
	allErrs = append(allErrs, ValidateEnvironmentPath(spec.Path, fld.Child("path"))...)
	if spec.PromotesFrom != "" {
		for _, msg := range validation.IsDNS1123Label(spec.PromotesFrom) {
			allErrs = append(allErrs, field.Invalid(fld.Child("promotesFrom"), spec.PromotesFrom, msg))
		}
	}
	switch spec.Strategy {
	case gitgate.StrategyImages, gitgate.StrategyMerge:
	case "":
		allErrs = append(allErrs, field.Required(fld.Child("strategy"), "must be Images or Merge"))
	default:
		allErrs = append(allErrs, field.NotSupported(fld.Child("strategy"), spec.Strategy, []string{string(gitgate.StrategyImages), string(gitgate.StrategyMerge)}))
	}
	if spec.ImageTagPattern != "" {
		if _, err := regexp.Compile(spec.ImageTagPattern); err != nil {
			allErrs = append(allErrs, field.Invalid(fld.Child("imageTagPattern"), spec.ImageTagPattern, "must be a valid regular expression: "+err.Error()))
		}
	}
	if ref := spec.FluxKustomization; ref != nil && ref.Name == "" {
		allErrs = append(allErrs, field.Required(fld.Child("fluxKustomization", "name"), "must name the Flux Kustomization"))
	}
	allErrs = append(allErrs, ValidateApprovalPolicy(spec.Approvals, fld.Child("approvals"))...)
	if policy := spec.PromotionPolicy; policy != nil && policy.MinSoak != nil {
		fldSoak := fld.Child("promotionPolicy", "minSoak")
		switch d := policy.MinSoak.Duration; {
		case d < 0:
			allErrs = append(allErrs, field.Invalid(fldSoak, d.String(), "must not be negative"))
		case d > MaxMinSoak:
			allErrs = append(allErrs, field.Invalid(fldSoak, d.String(), "must be at most "+MaxMinSoak.String()))
		}
	}
	allErrs = append(allErrs, ValidateFreeze(spec.Freeze, fld.Child("freeze"))...)
	return allErrs
}

// MaxMinSoak bounds spec.promotionPolicy.minSoak: a longer soak is more
// likely a typo (10d for 10m) than a policy, and would block promotion
// with no way to tell.
const MaxMinSoak = 720 * time.Hour

// MinSoak is an environment's spec.promotionPolicy.minSoak, zero when unset.
func MinSoak(spec *gitgate.EnvironmentSpec) time.Duration {
	if spec.PromotionPolicy == nil || spec.PromotionPolicy.MinSoak == nil {
		return 0
	}
	return spec.PromotionPolicy.MinSoak.Duration
}

// ReservedBranchPrefix starts the branches gitgate writes for itself
// (review branches gitgate/promotions/<name>, and any it adds later): no
// environment may live on one, or a promotion's review branch could be
// made the environment it was meant to wait in front of.
const ReservedBranchPrefix = "gitgate/"

// ReservedDirs hold what is not an environment's to write: Git's own
// directory and gitgate's definitions. An environment whose path were in
// .gitgate/ could rewrite environment definitions by promotion or seal.
var ReservedDirs = []string{".git", ".gitgate"}

// ValidateEnvironmentBranch checks an environment's branch: a valid Git
// branch name, outside gitgate's reserved branches.
func ValidateEnvironmentBranch(branch string, fld *field.Path) field.ErrorList {
	if errs := ValidateBranchName(branch, fld); len(errs) > 0 {
		return errs
	}
	if strings.HasPrefix(branch, ReservedBranchPrefix) || branch == "HEAD" {
		return field.ErrorList{field.Invalid(fld, branch, "must not be HEAD or a branch under "+ReservedBranchPrefix+
			", which gitgate reserves for review branches: name the branch the environment's Flux source follows")}
	}
	return nil
}

// CleanPath is the form in which environment paths are compared:
// overlays/prod, ./overlays/prod and overlays/prod/ are one directory.
func CleanPath(p string) string { return path.Clean(p) }

// ValidateEnvironmentPath checks an environment's path: a directory strictly
// inside the repository (not its root), outside the reserved directories.
func ValidateEnvironmentPath(p string, fld *field.Path) field.ErrorList {
	clean := CleanPath(p)
	switch {
	case p == "":
		return field.ErrorList{field.Required(fld, "must name the environment's kustomize directory, e.g. overlays/prod")}
	case path.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../"):
		return field.ErrorList{field.Invalid(fld, p, "must be a directory inside the repository, relative to its root")}
	case clean == ".":
		return field.ErrorList{field.Invalid(fld, p, "must not be the repository root: an environment owns its directory and every directory below it, "+
			"so name its own kustomize directory, e.g. overlays/prod")}
	}
	for _, dir := range ReservedDirs {
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			return field.ErrorList{field.Invalid(fld, p, "must not be in "+dir+"/, which holds "+map[string]string{
				".git": "Git's own data", ".gitgate": "gitgate's environment definitions"}[dir])}
		}
	}
	return nil
}

// ValidateEnvironmentUpdate checks an update: the new object must be valid,
// and its branch and path are those it was created with. An environment
// owns its (branch, path); moving it would carry its name, its promote
// grants and its history to another directory, so moving is a delete and a
// create. Both specs have their branch defaulted.
func ValidateEnvironmentUpdate(newEnv, oldEnv *gitgate.Environment) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newEnv.ObjectMeta, &oldEnv.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateEnvironmentSpec(&newEnv.Spec, field.NewPath("spec"))...)
	return append(allErrs, ValidateEnvironmentSpecUpdate(&newEnv.Spec, &oldEnv.Spec, field.NewPath("spec"))...)
}

// ValidateEnvironmentSpecUpdate refuses a change of branch or path.
func ValidateEnvironmentSpecUpdate(newSpec, oldSpec *gitgate.EnvironmentSpec, fld *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if newSpec.Branch != oldSpec.Branch {
		allErrs = append(allErrs, field.Invalid(fld.Child("branch"), newSpec.Branch,
			fmt.Sprintf("is immutable (was %q): delete the environment and create it again to move it", oldSpec.Branch)))
	}
	if CleanPath(newSpec.Path) != CleanPath(oldSpec.Path) {
		allErrs = append(allErrs, field.Invalid(fld.Child("path"), newSpec.Path,
			fmt.Sprintf("is immutable (was %q): delete the environment and create it again to move it", oldSpec.Path)))
	}
	return allErrs
}

// WeakenedProtections lists the fields whose change from oldSpec to
// newSpec lowers what stands between a person and the environment, each as
// a field path: review switched off, imageTagPattern removed or changed (a
// changed expression may accept more), promotesFrom changed, strategy
// changed (Merge moves the whole branch where Images edits one file), and
// fluxKustomization released or pointed elsewhere (it decides which
// environment's breakglass verb covers the Kustomization's objects). Such
// an update needs the verb promote on the environment besides update.
// Tightening (review switched on, a pattern added where there was none), a
// first fluxKustomization (a claim, as on create, of one no other
// environment holds) and labels need only update.
// A promotion policy's minSoak lowered or removed weakens it too, and so
// do approvals lowered or removed (a higher count tightens); a freeze is
// weakened when a window is removed or changed, or its switch turned off
// (the freeze subresource turns it off with the verb freeze).
func WeakenedProtections(newSpec, oldSpec *gitgate.EnvironmentSpec) []string {
	fld := field.NewPath("spec")
	var out []string
	if oldSpec.Review && !newSpec.Review {
		out = append(out, fld.Child("review").String())
	}
	if oldSpec.ImageTagPattern != "" && newSpec.ImageTagPattern != oldSpec.ImageTagPattern {
		out = append(out, fld.Child("imageTagPattern").String())
	}
	if newSpec.PromotesFrom != oldSpec.PromotesFrom {
		out = append(out, fld.Child("promotesFrom").String())
	}
	if newSpec.Strategy != oldSpec.Strategy {
		out = append(out, fld.Child("strategy").String())
	}
	if oldSpec.FluxKustomization != nil && !sameReference(newSpec.FluxKustomization, oldSpec.FluxKustomization) {
		out = append(out, fld.Child("fluxKustomization").String())
	}
	if MinSoak(newSpec) < MinSoak(oldSpec) {
		out = append(out, fld.Child("promotionPolicy", "minSoak").String())
	}
	out = append(out, weakenedFreeze(newSpec.Freeze, oldSpec.Freeze, fld.Child("freeze"))...)
	if ApprovalsWeakened(newSpec.Approvals, oldSpec.Approvals) {
		out = append(out, fld.Child("approvals").String())
	}
	return out
}

func sameReference(a, b *gitgate.ObjectReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

var branchChars = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// ValidateBranchName checks a Git branch name as git check-ref-format does,
// for the characters gitgate accepts.
func ValidateBranchName(name string, fld *field.Path) field.ErrorList {
	bad := !branchChars.MatchString(name) || strings.Contains(name, "..") || strings.Contains(name, "//") ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") ||
		strings.HasPrefix(name, "-") || strings.HasSuffix(name, ".")
	if bad {
		return field.ErrorList{field.Invalid(fld, name, "must be a valid Git branch name (letters, digits, '.', '_', '-', '/'), without refs/heads/")}
	}
	return nil
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// ValidatePromotion checks a Promotion's metadata and spec.
func ValidatePromotion(p *gitgate.Promotion) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&p.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, ValidatePromotionSpec(p.Name, &p.Spec)...)
}

// ValidatePromotionSpec checks a Promotion's name (which becomes a branch
// name in review mode) and spec, without its namespace.
func ValidatePromotionSpec(name string, spec *gitgate.PromotionSpec) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(name, false) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), name, msg))
	}
	p := &gitgate.Promotion{Spec: *spec}
	fld := field.NewPath("spec")
	if p.Spec.Environment == "" {
		allErrs = append(allErrs, field.Required(fld.Child("environment"), "must name the environment to promote into"))
	} else {
		for _, msg := range validation.IsDNS1123Label(p.Spec.Environment) {
			allErrs = append(allErrs, field.Invalid(fld.Child("environment"), p.Spec.Environment, msg))
		}
	}
	if p.Spec.From != "" {
		for _, msg := range validation.IsDNS1123Label(p.Spec.From) {
			allErrs = append(allErrs, field.Invalid(fld.Child("from"), p.Spec.From, msg))
		}
	}
	if p.Spec.Revision != "" && !shaPattern.MatchString(p.Spec.Revision) {
		allErrs = append(allErrs, field.Invalid(fld.Child("revision"), p.Spec.Revision, "must be a commit SHA of 7 to 40 lowercase hexadecimal characters"))
	}
	seen := map[string]bool{}
	for i, name := range p.Spec.Images {
		switch {
		case name == "":
			allErrs = append(allErrs, field.Required(fld.Child("images").Index(i), "must name an image"))
		case seen[name]:
			allErrs = append(allErrs, field.Duplicate(fld.Child("images").Index(i), name))
		}
		seen[name] = true
	}
	if strings.ContainsAny(p.Spec.Message, "\x00") {
		allErrs = append(allErrs, field.Invalid(fld.Child("message"), p.Spec.Message, "must not contain NUL characters"))
	}
	return allErrs
}
