package environment

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

// historyLimit is how many commits environments/<name>/history returns.
const historyLimit = 100

// HistoryREST serves environments/<name>/history: the commits that changed
// the environment, promotions and others, newest first.
type HistoryREST struct {
	backend *registry.Backend
}

var (
	_ rest.Storage = &HistoryREST{}
	_ rest.Getter  = &HistoryREST{}
)

// NewHistoryREST returns the history subresource's storage.
func NewHistoryREST(backend *registry.Backend) *HistoryREST { return &HistoryREST{backend: backend} }

func (r *HistoryREST) New() runtime.Object { return &gitgate.EnvironmentHistory{} }
func (r *HistoryREST) Destroy()            {}

// Get walks the environment branch's history for commits that changed its path.
func (r *HistoryREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	e, ns, err := r.backend.EngineFor(ctx, resource, name)
	if err != nil {
		return nil, err
	}
	h, err := e.History(name, historyLimit)
	if err != nil {
		return nil, registry.StatusError(err, resource, "Environment", name)
	}
	h.Namespace = ns
	return h, nil
}
