// Package environment is the REST storage of environments.gitgate.dev:
// every write is a commit of .gitgate/environments/<name>.yaml.
package environment

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
)

// strategy applies the create and update rules of Environments.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func newStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{typer, names.SimpleNameGenerator}
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops status: it is computed from Git.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*gitgate.Environment).Status = gitgate.EnvironmentStatus{}
}

// PrepareForUpdate keeps the computed status.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*gitgate.Environment).Status = old.(*gitgate.Environment).Status
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateEnvironment(obj.(*gitgate.Environment))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateEnvironmentUpdate(obj.(*gitgate.Environment), old.(*gitgate.Environment))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
func (strategy) Canonicalize(runtime.Object)                   {}
func (strategy) AllowCreateOnUpdate(context.Context) bool      { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }
