package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
	"github.com/gitgate-dev/gitgate/pkg/kustomization"
)

// SealedSecretSuffix ends the name of every file gitgate writes a
// SealedSecret to: <environment path>/<name>.sealedsecret.yaml.
const SealedSecretSuffix = ".sealedsecret.yaml"

// sealedSecretField roots the field errors of a sealed-secret write.
var sealedSecretField = field.NewPath("spec", "sealedSecret")

// SealedSecretWrite asks to commit one SealedSecret into an environment's
// path and list it in the path's kustomization.
type SealedSecretWrite struct {
	// Environment names the environment.
	Environment string
	// Name and Namespace are the SealedSecret's.
	Name, Namespace string
	// Content is the file to commit: a SealedSecret and nothing else.
	Content []byte
	// Overwrite allows replacing a SealedSecret of the same name.
	Overwrite bool
	// Message is added to the commit message.
	Message string
	// User is the authenticated Kubernetes user, written as a trailer.
	User string
	// DryRun checks everything without writing.
	DryRun bool
}

// SealedSecretResult says where a SealedSecret was committed.
type SealedSecretResult struct {
	Branch, Path string
	// Commit is empty for a dry run.
	Commit   string
	Replaced bool
}

// sealPlan is a sealed-secret write worked out against one snapshot.
type sealPlan struct {
	env      *gitgate.Environment
	head     gitstore.Hash
	file     string
	replaced bool
	edits    []gitstore.FileEdit
}

// CommitSealedSecret commits w's SealedSecret to the environment's branch.
// Errors: ErrNotFound (environment), *InvalidError (namespace, Merge
// environments, an overlay that would not build), ErrAlreadyExists (the
// name is taken and Overwrite is false), *ConflictError, *UnavailableError.
func (e *Engine) CommitSealedSecret(ctx context.Context, w SealedSecretWrite) (*SealedSecretResult, error) {
	var result SealedSecretResult
	err := e.write(ctx, w.DryRun, func(s *Snapshot) (gitstore.PushRequest, error) {
		pl, err := e.planSealLocked(s, w)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		// A dry run makes the commit too (in the mirror, never pushed), so
		// that it checks the overlay exactly as a write does.
		commit, err := e.sealCommitLocked(pl, w)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		result = SealedSecretResult{Branch: pl.env.Spec.Branch, Path: pl.file, Commit: commit.String(), Replaced: pl.replaced}
		return gitstore.PushRequest{Branch: pl.env.Spec.Branch, Old: pl.head, New: commit}, nil
	})
	if err != nil {
		return nil, err
	}
	if w.DryRun {
		result.Commit = ""
	}
	return &result, nil
}

func (e *Engine) planSealLocked(s *Snapshot, w SealedSecretWrite) (*sealPlan, error) {
	st, ok := s.envs[w.Environment]
	if !ok {
		return nil, notFound("environment", w.Environment)
	}
	kind := "SealedSecretRequest"
	if st.err != nil {
		return nil, invalid(kind, w.Environment, field.Invalid(field.NewPath("metadata", "name"), w.Environment,
			"environment is not usable: "+st.err.Errors.ToAggregate().Error()))
	}
	env := st.env
	if env.Spec.Strategy == gitgate.StrategyMerge {
		return nil, invalid(kind, w.Environment, field.Forbidden(sealedSecretField, fmt.Sprintf(
			"environment %s uses the Merge strategy: its path %s is merged from %s on every promotion, so a secret sealed there would be copied between environments; keep sealed secrets in a directory of the environment's own and reference it from the environment's Flux Kustomization",
			env.Name, env.Spec.Path, env.Spec.PromotesFrom)))
	}
	head := s.heads[env.Spec.Branch]
	kfile := path.Join(env.Spec.Path, kustomization.FileName)
	kraw, err := e.repo.ReadFile(head, kfile)
	if err != nil {
		return nil, err
	}
	overlay, ierr := e.overlayAtLocked(head, env.Spec.Path)
	if ierr != nil {
		return nil, invalid(kind, w.Environment, field.Invalid(field.NewPath("metadata", "name"), w.Environment, ierr.Errors.ToAggregate().Error()))
	}
	ns := overlay.namespace
	if ns == "" {
		return nil, invalid(kind, w.Environment, field.Invalid(sealedSecretField.Child("metadata", "namespace"), w.Namespace, fmt.Sprintf(
			"environment %s's overlay sets no namespace, so a sealed secret cannot be bound to one: add namespace: to %s", env.Name, kfile)))
	}
	if w.Namespace != ns {
		return nil, invalid(kind, w.Environment, field.Invalid(sealedSecretField.Child("metadata", "namespace"), w.Namespace,
			"must be the environment's namespace "+ns))
	}
	pl := &sealPlan{env: env, head: head, file: path.Join(env.Spec.Path, w.Name+SealedSecretSuffix)}
	existing, err := e.repo.ReadFile(head, pl.file)
	switch {
	case err == nil:
		if !isSealedSecret(existing) {
			return nil, &ConflictError{Message: fmt.Sprintf("%s exists on %s and is not a SealedSecret: rename the secret or remove that file", pl.file, env.Spec.Branch)}
		}
		if !w.Overwrite {
			return nil, fmt.Errorf("sealed secret %s/%s in environment %s (%s): %w; pass --overwrite to replace it",
				w.Namespace, w.Name, env.Name, pl.file, ErrAlreadyExists)
		}
		pl.replaced = true
	case !errors.Is(err, gitstore.ErrFileNotFound):
		return nil, err
	}
	edited, err := kustomization.AddResource(kraw, path.Base(pl.file))
	if err != nil {
		return nil, invalid(kind, w.Environment, field.Invalid(field.NewPath("metadata", "name"), w.Environment, err.Error()))
	}
	pl.edits = []gitstore.FileEdit{{Path: pl.file, Content: w.Content}}
	if !bytes.Equal(edited, kraw) {
		pl.edits = append(pl.edits, gitstore.FileEdit{Path: kfile, Content: edited})
	}
	return pl, nil
}

// sealCommitLocked writes the plan's commit into the mirror and checks that
// the overlay still builds and renders no new plain Secret.
func (e *Engine) sealCommitLocked(pl *sealPlan, w SealedSecretWrite) (gitstore.Hash, error) {
	verb := "Seal"
	if pl.replaced {
		verb = "Replace sealed"
	}
	ref := w.Namespace + "/" + w.Name
	msg := formatMessage(fmt.Sprintf("%s secret %s into %s", verb, ref, pl.env.Name), w.Message, []trailer{
		{TrailerEnvironment, pl.env.Name},
		{TrailerSealedSecret, ref},
		{TrailerChangedBy, w.User},
	})
	sig := e.signature()
	commit, err := e.repo.CreateCommit([]gitstore.Hash{pl.head}, gitstore.ZeroHash, pl.edits, msg, sig, sig)
	if err != nil {
		return gitstore.ZeroHash, err
	}
	if err := guardOverlay(e.repo, pl.env, pl.head, commit, "SealedSecretRequest", field.NewPath("metadata", "name"), false); err != nil {
		return gitstore.ZeroHash, err
	}
	return commit, nil
}

// isSealedSecret reports whether a file holds exactly one SealedSecret.
func isSealedSecret(content []byte) bool {
	docs := kustomization.Kinds(content)
	return len(docs) == 1 && docs[0] == "bitnami.com/v1alpha1/SealedSecret"
}
