package engine

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Sentinel errors; test them with errors.Is. The API layer maps them to
// 404, 409, 410 and 503.
var (
	// ErrNotFound means the named environment or promotion does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means an object of that name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means the request was made against a state that has
	// changed (stale resourceVersion), or Git history forbids it.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the Git remote could not be reached.
	ErrUnavailable = errors.New("git remote unavailable")
	// ErrExpired means a watch asked for a resourceVersion older than the
	// engine still remembers, or one that a history rewrite invalidated.
	ErrExpired = errors.New("resourceVersion expired")
)

// InvalidError says which fields of a request are wrong and why.
type InvalidError struct {
	Kind   string
	Name   string
	Errors field.ErrorList
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %q is invalid: %v", e.Kind, e.Name, e.Errors.ToAggregate())
}

func invalid(kind, name string, errs ...*field.Error) error {
	return &InvalidError{Kind: kind, Name: name, Errors: errs}
}

// UnavailableError carries how long to wait before trying again.
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap lets errors.Is find ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// ConflictError lists what stands in the way, e.g. the commits that must be
// merged back before a Merge promotion.
type ConflictError struct {
	Message string
	Commits []string
}

func (e *ConflictError) Error() string { return e.Message }

// Unwrap lets errors.Is find ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

func notFound(kind, name string) error {
	return fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
}
