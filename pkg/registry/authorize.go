package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// VerbPromote is the custom verb on environments/<name> that promoting into
// an environment needs, and also weakening its protections or deleting it.
const VerbPromote = "promote"

// AuthorizeEnvironmentVerb asks the delegated authorizer whether the
// requesting user has a custom verb (promote, seal) on one environment, and
// when not, says exactly which permission is missing. action describes the
// request in the refusal: "promote into", "seal secrets into", "delete".
func AuthorizeEnvironmentVerb(ctx context.Context, authz authorizer.Authorizer, resource schema.GroupResource,
	verb, action, namespace, environment string) error {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewUnauthorized("no user in the request")
	}
	attrs := authorizer.AttributesRecord{
		User: u, Verb: verb, Namespace: namespace,
		APIGroup: gitgate.GroupName, APIVersion: v1alpha1.SchemeGroupVersion.Version,
		Resource: "environments", Name: environment, ResourceRequest: true,
	}
	decision, reason, err := authz.Authorize(ctx, attrs)
	if decision == authorizer.DecisionAllow {
		return nil
	}
	msg := fmt.Sprintf("user %q cannot %s environment %q in namespace %q: it needs the verb %q on environments.gitgate.dev named %q",
		u.GetName(), action, environment, namespace, verb, environment)
	if reason != "" {
		msg += " (" + reason + ")"
	}
	if err != nil {
		msg += ": " + err.Error()
	}
	return apierrors.NewForbidden(resource, "", fmt.Errorf("%s", msg))
}
