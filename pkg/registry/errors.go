package registry

import (
	"errors"
	"math"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitgate-dev/gitgate/pkg/engine"
)

// StatusError maps an engine error to the Kubernetes status a client
// should see: 404, 409, 410, 422 with field paths, 503 with Retry-After.
// Anything else is an internal error.
func StatusError(err error, resource schema.GroupResource, kind, name string) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	var invalid *engine.InvalidError
	var conflict *engine.ConflictError
	var unavailable *engine.UnavailableError
	switch {
	case errors.As(err, &invalid):
		return apierrors.NewInvalid(schema.GroupKind{Group: resource.Group, Kind: kind}, name, invalid.Errors)
	case errors.As(err, &conflict):
		return apierrors.NewConflict(resource, name, conflict)
	case errors.As(err, &unavailable):
		seconds := int(math.Ceil(unavailable.RetryAfter.Seconds()))
		se := apierrors.NewServiceUnavailable("the Git repository cannot be reached; reads are served from the last state fetched: " + unavailable.Err.Error())
		se.ErrStatus.Details = &metav1.StatusDetails{Name: name, Group: resource.Group, Kind: resource.Resource, RetryAfterSeconds: int32(seconds)}
		return se
	case errors.Is(err, engine.ErrNotFound):
		return apierrors.NewNotFound(resource, name)
	case errors.Is(err, engine.ErrAlreadyExists):
		se := apierrors.NewAlreadyExists(resource, name)
		se.ErrStatus.Message = err.Error() // names what exists, and what to do
		return se
	case errors.Is(err, engine.ErrConflict):
		return apierrors.NewConflict(resource, name, err)
	case errors.Is(err, engine.ErrExpired):
		return apierrors.NewResourceExpired(err.Error())
	}
	return apierrors.NewInternalError(err)
}
