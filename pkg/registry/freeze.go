package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// VerbBreakglass is the custom verb on environments/<name> that passing
// its freeze needs (as breaking glass on its objects does).
const VerbBreakglass = "breakglass"

// FreezeOverride reads a request's override-freeze annotation. Without it
// there is no override (nil). With it, the reason must be one non-empty
// line (422) and the user must hold the verb breakglass on the
// environment (403), whether or not the environment is frozen now: asking
// to pass a freeze is itself what needs the permission.
func FreezeOverride(ctx context.Context, authz authorizer.Authorizer, resource schema.GroupResource, kind, name string,
	annotations map[string]string, namespace, environment string) (*engine.FreezeOverride, error) {
	reason, ok := annotations[gitgate.AnnotationOverrideFreeze]
	if !ok {
		return nil, nil
	}
	fld := field.NewPath("metadata", "annotations").Key(gitgate.AnnotationOverrideFreeze)
	if reason == "" {
		return nil, apierrors.NewInvalid(gitgate.Kind(kind), name, field.ErrorList{field.Required(fld, "must say why the freeze is overridden")})
	}
	if errs := validation.ValidateFreezeReason(reason, fld); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gitgate.Kind(kind), name, errs)
	}
	if err := AuthorizeEnvironmentVerb(ctx, authz, resource, VerbBreakglass, "override the freeze of", namespace, environment); err != nil {
		return nil, err
	}
	return &engine.FreezeOverride{Reason: reason, User: UserName(ctx)}, nil
}
