package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// StableUID derives a UID from where an object lives, so that every replica
// gives the same one.
func StableUID(kind, namespace, name string) types.UID {
	sum := sha256.Sum256([]byte(kind + "/" + namespace + "/" + name))
	s := hex.EncodeToString(sum[:16])
	return types.UID(s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32])
}

// UserName is the authenticated user of a request, or "" without one.
func UserName(ctx context.Context) string {
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		return u.GetName()
	}
	return ""
}

// IsDryRun reports whether the request asked for a dry run.
func IsDryRun(dryRun []string) bool {
	for _, d := range dryRun {
		if d == metav1.DryRunAll {
			return true
		}
	}
	return false
}

// BeforeCreate readies a new object the way the generic store does: system
// fields (UID and time come from Git when the object is read back), a name
// from generateName, then the strategy's PrepareForCreate and Validate.
func BeforeCreate(ctx context.Context, strategy rest.RESTCreateStrategy, obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	rest.FillObjectMetaSystemFields(m)
	if m.GetGenerateName() != "" && m.GetName() == "" {
		m.SetName(strategy.GenerateName(m.GetGenerateName()))
	}
	return rest.BeforeCreate(strategy, ctx, obj)
}
