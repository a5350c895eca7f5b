// Package validation checks gitgate objects for what can be known without
// reading Git: names, enums, patterns and required fields. The engine adds
// the checks that need the repository (paths, references, cycles).
package validation

import (
	"path"
	"regexp"
	"strings"

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
		allErrs = append(allErrs, ValidateBranchName(spec.Branch, fld.Child("branch"))...)
	}
	switch p := spec.Path; {
	case p == "":
		allErrs = append(allErrs, field.Required(fld.Child("path"), "must name the environment's kustomize directory, e.g. overlays/prod"))
	case path.IsAbs(p) || strings.HasPrefix(path.Clean(p), ".."):
		allErrs = append(allErrs, field.Invalid(fld.Child("path"), p, "must be a directory inside the repository, relative to its root"))
	}
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
	return allErrs
}

// ValidateEnvironmentUpdate checks an update: the new object must be valid.
func ValidateEnvironmentUpdate(newEnv, oldEnv *gitgate.Environment) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newEnv.ObjectMeta, &oldEnv.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateEnvironmentSpec(&newEnv.Spec, field.NewPath("spec"))...)
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
