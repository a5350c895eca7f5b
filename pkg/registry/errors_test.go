package registry

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
)

func TestStatusError(t *testing.T) {
	resource := gitgate.Resource("promotions")
	cases := []struct {
		name string
		err  error
		code int32
	}{
		{"404: not found", fmt.Errorf("promotion %q: %w", "x", engine.ErrNotFound), http.StatusNotFound},
		{"409: already exists", fmt.Errorf("x: %w", engine.ErrAlreadyExists), http.StatusConflict},
		{"409: conflict", &engine.ConflictError{Message: "merge back first"}, http.StatusConflict},
		{"410: expired", fmt.Errorf("old: %w", engine.ErrExpired), http.StatusGone},
		{"422: invalid with field paths", &engine.InvalidError{Kind: "Promotion", Name: "x", Errors: field.ErrorList{field.NotFound(field.NewPath("spec", "environment"), "qa")}}, http.StatusUnprocessableEntity},
		{"503: unavailable", &engine.UnavailableError{RetryAfter: 1500 * time.Millisecond, Err: errors.New("connection refused")}, http.StatusServiceUnavailable},
		{"500: anything else", errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := StatusError(tc.err, resource, "Promotion", "x")
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Code != tc.code {
				t.Fatalf("StatusError(%v) = %v, want code %d", tc.err, err, tc.code)
			}
		})
	}
	err := StatusError(&engine.InvalidError{Errors: field.ErrorList{field.NotFound(field.NewPath("spec", "images").Index(0), "nope")}}, resource, "Promotion", "x")
	if causes := err.(apierrors.APIStatus).Status().Details.Causes; len(causes) != 1 || causes[0].Field != "spec.images[0]" {
		t.Errorf("422 causes = %+v, want one on spec.images[0]", causes)
	}
	err = StatusError(&engine.UnavailableError{RetryAfter: 1500 * time.Millisecond, Err: errors.New("down")}, resource, "Promotion", "x")
	if seconds, ok := apierrors.SuggestsClientDelay(err); !ok || seconds != 2 {
		t.Errorf("503 Retry-After = %d, %v; want 2 (rounded up)", seconds, ok)
	}
}
