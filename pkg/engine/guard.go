package engine

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// guardOverlay refuses a commit after which env's overlay no longer
// builds, or renders a plain Secret that it did not render before. With
// keepSealed (promotions) it also refuses to add or change a SealedSecret:
// those are sealed for one environment and never copied to another.
func guardOverlay(git gitReader, env *gitgate.Environment, before, after gitstore.Hash, kind string, fld *field.Path, keepSealed bool) error {
	now := renderAt(git, after, env.Spec.Path)
	if now.err != nil {
		return invalid(kind, env.Name, field.Invalid(fld, env.Name, fmt.Sprintf(
			"after this change kustomize could not build %s: %v", env.Spec.Path, now.err)))
	}
	var was []string
	wasSealed := map[string]string{}
	if r := renderAt(git, before, env.Spec.Path); r.err == nil {
		was, wasSealed = r.out.PlainSecrets, r.out.SealedSecrets
	}
	if keepSealed {
		var copied []string
		for name, digest := range now.out.SealedSecrets {
			if wasSealed[name] != digest {
				copied = append(copied, name)
			}
		}
		if len(copied) > 0 {
			slices.Sort(copied)
			return invalid(kind, env.Name, field.Forbidden(fld, fmt.Sprintf(
				"this promotion would copy SealedSecret(s) %v into environment %s (%s): sealed secrets are sealed for one environment and never promoted; seal each for %s with kubectl gitgate seal --environment %s, in a path the promotion does not merge",
				copied, env.Name, env.Spec.Path, env.Name, env.Name)))
		}
	}
	var added []string
	for _, s := range now.out.PlainSecrets {
		if !slices.Contains(was, s) {
			added = append(added, s)
		}
	}
	if len(added) > 0 {
		return invalid(kind, env.Name, field.Forbidden(fld, fmt.Sprintf(
			"this change would put plain Secret(s) %v into environment %s (%s): Secrets reach Git only sealed; seal them with kubectl gitgate seal --environment %s",
			added, env.Name, env.Spec.Path, env.Name)))
	}
	return nil
}
