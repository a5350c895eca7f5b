package engine

import (
	"context"
	"errors"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// TrailerFreezeReason is the reason a freeze switch commit gives.
const TrailerFreezeReason = "Gitgate-Freeze-Reason"

// FreezeSwitch asks to switch an environment's freeze on or off. The
// caller has checked the verb freeze on the environment.
type FreezeSwitch struct {
	// Environment names the environment.
	Environment string
	// Frozen is the switch's new position.
	Frozen bool
	// Reason says why; required to freeze.
	Reason string
	// User is the authenticated Kubernetes user, written as a trailer.
	User string
	// DryRun checks everything without writing.
	DryRun bool
}

// SetFreeze commits the environment's definition with its freeze switch
// in the asked position, on the definition Git holds when the write is
// planned (a concurrent edit of other fields is kept, never overwritten).
// Its windows are left alone. When the switch is already in that position
// with that reason, nothing is committed and the commit is empty.
// Errors: ErrNotFound, *InvalidError, *ConflictError, *UnavailableError.
func (e *Engine) SetFreeze(ctx context.Context, w FreezeSwitch) (*gitgate.Environment, string, error) {
	fld := field.NewPath("spec")
	if w.Frozen && w.Reason == "" {
		return nil, "", invalid("EnvironmentFreeze", w.Environment, field.Required(fld.Child("reason"), "must say why the environment is frozen"))
	}
	if errs := validation.ValidateFreezeReason(w.Reason, fld.Child("reason")); len(errs) > 0 {
		return nil, "", &InvalidError{Kind: "EnvironmentFreeze", Name: w.Environment, Errors: errs}
	}
	plan := func(s *Snapshot) (*gitgate.Environment, []byte, error) {
		cur, ok := s.envs[w.Environment]
		if !ok {
			return nil, nil, notFound("environment", w.Environment)
		}
		if cur.err != nil {
			return nil, nil, invalid("EnvironmentFreeze", w.Environment, field.Invalid(field.NewPath("metadata", "name"), w.Environment,
				"environment is not usable: "+cur.err.Errors.ToAggregate().Error()+"; fix its definition first"))
		}
		env := cur.env.DeepCopy()
		env.ResourceVersion = ""
		if env.Spec.Freeze == nil {
			env.Spec.Freeze = &gitgate.FreezeSpec{}
		}
		env.Spec.Freeze.Frozen, env.Spec.Freeze.Reason = w.Frozen, w.Reason
		if !w.Frozen {
			env.Spec.Freeze.Reason = ""
		}
		if len(env.Spec.Freeze.Windows) == 0 && !env.Spec.Freeze.Frozen {
			env.Spec.Freeze = nil
		}
		content, err := e.checkEnvironmentWriteLocked(s, env, opUpdate, nil)
		return env, content, err
	}
	var commit gitstore.Hash
	var planned *gitgate.Environment
	err := e.write(ctx, w.DryRun, func(s *Snapshot) (gitstore.PushRequest, error) {
		env, content, err := plan(s)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		planned = env
		if definitionUnchanged(s.envs[env.Name], content, e.opts.DefaultBranch) {
			return gitstore.PushRequest{}, errUnchanged
		}
		subject, trailers := "Unfreeze environment "+env.Name, []trailer{{TrailerEnvironment, env.Name}}
		if w.Frozen {
			subject = "Freeze environment " + env.Name
			trailers = append(trailers, trailer{TrailerFreezeReason, w.Reason})
		}
		msg := formatMessage(subject, w.Reason, append(trailers, trailer{TrailerChangedBy, w.User}))
		head := s.heads[e.opts.DefaultBranch]
		sig := e.signature()
		commit, err = e.repo.CreateCommit([]gitstore.Hash{head}, gitstore.ZeroHash,
			[]gitstore.FileEdit{{Path: path.Join(EnvironmentsDir, env.Name+".yaml"), Content: content}}, msg, sig, sig)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		return gitstore.PushRequest{Branch: e.opts.DefaultBranch, Old: head, New: commit}, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		commit = gitstore.ZeroHash
	case err != nil:
		return nil, "", err
	case w.DryRun:
		return planned, "", nil
	}
	env, err := e.snap.Load().Environment(w.Environment)
	if err != nil {
		return nil, "", fmt.Errorf("reading environment %s back: %w", w.Environment, err)
	}
	if commit.IsZero() {
		return env, "", nil
	}
	return env, commit.String(), nil
}
