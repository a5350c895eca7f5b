package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// EnvironmentWrite asks to create, replace or delete an Environment.
type EnvironmentWrite struct {
	// Environment is the object to write; for a delete only its name and
	// resourceVersion count.
	Environment *gitgate.Environment
	// User is the authenticated Kubernetes user, written as a trailer.
	User string
	// DryRun checks everything without writing.
	DryRun bool
	// Expect, for an update or delete, is the stored spec the caller
	// decided on (for example which protections the write weakens, and so
	// which verbs it needed). When the definition in Git has another spec
	// by the time the write is planned, the write is a conflict: nothing
	// is written on a decision made against an older definition.
	Expect *gitgate.EnvironmentSpec
}

type envOp int

const (
	opCreate envOp = iota
	opUpdate
	opDelete
)

// CreateEnvironment commits a new environment definition.
func (e *Engine) CreateEnvironment(ctx context.Context, w EnvironmentWrite) (*gitgate.Environment, error) {
	return e.writeEnvironment(ctx, w, opCreate)
}

// UpdateEnvironment commits a changed definition. A non-empty
// resourceVersion older than the definition's last change is a conflict.
func (e *Engine) UpdateEnvironment(ctx context.Context, w EnvironmentWrite) (*gitgate.Environment, error) {
	return e.writeEnvironment(ctx, w, opUpdate)
}

// DeleteEnvironment commits the removal of a definition.
func (e *Engine) DeleteEnvironment(ctx context.Context, w EnvironmentWrite) (*gitgate.Environment, error) {
	return e.writeEnvironment(ctx, w, opDelete)
}

func (e *Engine) writeEnvironment(ctx context.Context, w EnvironmentWrite, op envOp) (*gitgate.Environment, error) {
	env := w.Environment.DeepCopy()
	if op != opDelete {
		if env.Spec.Branch == "" {
			env.Spec.Branch = e.opts.DefaultBranch
		}
		if err := applyDefaults(&env.Spec); err != nil {
			return nil, err
		}
		if errs := validation.ValidateEnvironmentDefinition(env); len(errs) > 0 {
			return nil, &InvalidError{Kind: "Environment", Name: env.Name, Errors: errs}
		}
	}
	err := e.write(ctx, w.DryRun, func(s *Snapshot) (gitstore.PushRequest, error) {
		content, err := e.checkEnvironmentWriteLocked(s, env, op, w.Expect)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		if op == opUpdate && definitionUnchanged(s.envs[env.Name], content, e.opts.DefaultBranch) {
			return gitstore.PushRequest{}, errUnchanged
		}
		head := s.heads[e.opts.DefaultBranch]
		verb := map[envOp]string{opCreate: "Add", opUpdate: "Update", opDelete: "Remove"}[op]
		msg := formatMessage(fmt.Sprintf("%s environment %s", verb, env.Name), "",
			[]trailer{{TrailerEnvironment, env.Name}, {TrailerChangedBy, w.User}})
		sig := e.signature()
		file := path.Join(EnvironmentsDir, env.Name+".yaml")
		commit, err := e.repo.CreateCommit([]gitstore.Hash{head}, gitstore.ZeroHash,
			[]gitstore.FileEdit{{Path: file, Content: content}}, msg, sig, sig)
		if err != nil {
			return gitstore.PushRequest{}, err
		}
		return gitstore.PushRequest{Branch: e.opts.DefaultBranch, Old: head, New: commit}, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return nil, err
	}
	if w.DryRun || op == opDelete {
		return env, nil
	}
	return e.snap.Load().Environment(env.Name)
}

// errUnchanged ends a write whose definition file would read as it does:
// no commit is made, as kube-apiserver writes nothing for a no-op update
// (a server-side apply of the same manifest, a replace with the object
// read).
var errUnchanged = errors.New("the definition is unchanged")

// definitionUnchanged reports whether content is what the stored
// definition encodes to (spec, labels, annotations, managed fields), so that
// formatting differences of a hand-written file do not count as a change.
func definitionUnchanged(cur *envState, content []byte, defaultBranch string) bool {
	if cur == nil || cur.err != nil {
		return false
	}
	stored, err := encodeEnvironment(cur.env, defaultBranch)
	return err == nil && bytes.Equal(stored, content)
}

// DefaultBranch is the repository's default branch: where definitions
// live, and the branch of an environment that names none.
func (s *Snapshot) DefaultBranch() string { return s.defaultBranch }

// applyDefaults applies the API's defaults (v1alpha1) to an internal spec,
// as decoding a request or a definition file does.
func applyDefaults(spec *gitgate.EnvironmentSpec) error {
	var versioned v1alpha1.EnvironmentSpec
	if err := v1alpha1.Convert_gitgate_EnvironmentSpec_To_v1alpha1_EnvironmentSpec(spec, &versioned, nil); err != nil {
		return err
	}
	v1alpha1.SetDefaults_EnvironmentSpec(&versioned)
	return v1alpha1.Convert_v1alpha1_EnvironmentSpec_To_gitgate_EnvironmentSpec(&versioned, spec, nil)
}

// checkEnvironmentWriteLocked checks a write against the repository and
// returns the file content to commit (nil for a delete): the definition
// is where the caller expects it, branch and path stay, the environment
// owns its branch and path and its Kustomization alone, its overlay reads,
// and promotesFrom makes no cycle.
func (e *Engine) checkEnvironmentWriteLocked(s *Snapshot, env *gitgate.Environment, op envOp, expect *gitgate.EnvironmentSpec) ([]byte, error) {
	cur, exists := s.envs[env.Name]
	switch {
	case op == opCreate && exists:
		return nil, fmt.Errorf("environment %q: %w", env.Name, ErrAlreadyExists)
	case op != opCreate && !exists:
		return nil, notFound("environment", env.Name)
	}
	if op != opCreate && env.ResourceVersion != "" {
		rv, err := strconv.ParseUint(env.ResourceVersion, 10, 64)
		if err != nil {
			return nil, invalid("Environment", env.Name, field.Invalid(field.NewPath("metadata", "resourceVersion"), env.ResourceVersion, "must be a decimal number"))
		}
		if rv < cur.modRV {
			return nil, &ConflictError{Message: fmt.Sprintf(
				"environment %q was changed in Git after resourceVersion %d: read it again and retry", env.Name, rv)}
		}
	}
	if op != opCreate && expect != nil && !apiequality.Semantic.DeepEqual(*expect, cur.env.Spec) {
		return nil, &ConflictError{Message: fmt.Sprintf(
			"environment %q was changed in Git while this request was being authorized: read it again and retry", env.Name)}
	}
	if op == opDelete {
		for _, name := range s.envNames {
			if other := s.envs[name].env; other.Spec.PromotesFrom == env.Name && name != env.Name {
				return nil, &ConflictError{Message: fmt.Sprintf(
					"environment %s promotes from %s: change its promotesFrom before deleting %s", name, env.Name, env.Name)}
			}
		}
		return nil, nil
	}
	if op == opUpdate {
		if errs := validation.ValidateEnvironmentSpecUpdate(&env.Spec, &cur.env.Spec, field.NewPath("spec")); len(errs) > 0 {
			return nil, &InvalidError{Kind: "Environment", Name: env.Name, Errors: errs}
		}
	}
	if errs := ownershipConflicts(env, s.Environments()); len(errs) > 0 {
		return nil, &InvalidError{Kind: "Environment", Name: env.Name, Errors: errs}
	}
	head, ok := s.heads[env.Spec.Branch]
	if !ok {
		return nil, invalid("Environment", env.Name, field.NotFound(field.NewPath("spec", "branch"), env.Spec.Branch))
	}
	if errs := e.buildsFromConflictsLocked(s, env, head); len(errs) > 0 {
		return nil, &InvalidError{Kind: "Environment", Name: env.Name, Errors: errs}
	}
	if _, err := e.imagesAtLocked(head, env.Spec.Path); err != nil {
		err.Name = env.Name
		return nil, err
	}
	lookup := func(n string) *gitgate.Environment {
		if n == env.Name {
			return env
		}
		if o, ok := s.envs[n]; ok && o.err == nil {
			return o.env
		}
		return nil
	}
	if errs := checkUpstream(env, lookup); len(errs) > 0 {
		return nil, &InvalidError{Kind: "Environment", Name: env.Name, Errors: errs}
	}
	return encodeEnvironment(env, e.opts.DefaultBranch)
}

// encodeEnvironment renders the definition file: v1alpha1, spec, labels,
// annotations and the managed fields of server-side apply (kept in Git so
// that every replica, and every restart, sees the same field owners).
func encodeEnvironment(env *gitgate.Environment, defaultBranch string) ([]byte, error) {
	out := v1alpha1.Environment{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Environment"},
		ObjectMeta: metav1.ObjectMeta{Name: env.Name, Labels: env.Labels, Annotations: env.Annotations},
	}
	if err := v1alpha1.Convert_gitgate_EnvironmentSpec_To_v1alpha1_EnvironmentSpec(&env.Spec, &out.Spec, nil); err != nil {
		return nil, err
	}
	if out.Spec.Branch == defaultBranch {
		out.Spec.Branch = ""
	}
	type file struct {
		APIVersion string                   `json:"apiVersion"`
		Kind       string                   `json:"kind"`
		Metadata   map[string]any           `json:"metadata"`
		Spec       v1alpha1.EnvironmentSpec `json:"spec"`
	}
	meta := map[string]any{"name": env.Name}
	if len(env.Labels) > 0 {
		meta["labels"] = env.Labels
	}
	if len(env.Annotations) > 0 {
		meta["annotations"] = env.Annotations
	}
	if len(env.ManagedFields) > 0 {
		meta["managedFields"] = env.ManagedFields
	}
	return yaml.Marshal(file{APIVersion: out.APIVersion, Kind: out.Kind, Metadata: meta, Spec: out.Spec})
}
