// Package promotion is the REST storage of promotions.gitgate.dev: creating
// one makes a commit; listing reads Git history. Promotions are immutable.
package promotion

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/validation"
)

// strategy applies the create rules of Promotions.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate drops status: it is read back from the commit.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*gitgate.Promotion).Status = gitgate.PromotionStatus{}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidatePromotion(obj.(*gitgate.Promotion))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) Canonicalize(runtime.Object)                               {}
