package environment

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the environment."},
	{Name: "Branch", Type: "string", Description: "Branch that holds the environment."},
	{Name: "Path", Type: "string", Description: "Kustomize directory of the environment."},
	{Name: "From", Type: "string", Description: "Environment promotions come from."},
	{Name: "Strategy", Type: "string", Description: "Images or Merge."},
	{Name: "Images", Type: "string", Description: "Images the overlay sets, name:tag."},
	{Name: "Pending", Type: "integer", Description: "Changes a promotion from upstream would make."},
	{Name: "Revision", Type: "string", Description: "Last commit that changed the environment."},
	{Name: "Age", Type: "string", Description: "Time since the definition file was added to Git."},
	{Name: "Ready", Type: "string", Priority: 1, Description: "Whether the definition and overlay can be used."},
	{Name: "Review", Type: "boolean", Priority: 1, Description: "Whether promotions wait on a review branch."},
	{Name: "Last Promotion", Type: "string", Priority: 1, Description: "Newest promotion into the environment."},
	{Name: "Synced", Type: "string", Priority: 1, Description: "Whether Flux runs the environment's head: True, False, or empty without a Flux Kustomization."},
}

// tableConvertor renders kubectl get environments.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	switch o := obj.(type) {
	case *gitgate.Environment:
		table.ResourceVersion = o.ResourceVersion
		table.Rows = []metav1.TableRow{row(o)}
	case *gitgate.EnvironmentList:
		table.ResourceVersion = o.ResourceVersion
		for i := range o.Items {
			table.Rows = append(table.Rows, row(&o.Items[i]))
		}
	default:
		return nil, fmt.Errorf("cannot show %T as a table of environments", obj)
	}
	return table, nil
}

func row(env *gitgate.Environment) metav1.TableRow {
	var images []string
	for _, img := range env.Status.Images {
		images = append(images, img.Name+":"+imageVersion(img))
	}
	pending := 0
	if env.Status.Upstream != nil {
		pending = len(env.Status.Upstream.Pending)
	}
	ready := "Unknown"
	for _, c := range env.Status.Conditions {
		if c.Type == gitgate.ConditionReady {
			ready = string(c.Status)
		}
	}
	last := ""
	if lp := env.Status.LastPromotion; lp != nil {
		last = lp.Name + " by " + lp.PromotedBy
	}
	synced := ""
	if s := env.Status.Sync; s != nil {
		synced = "False"
		if s.Ready && s.UpToDate {
			synced = "True"
		}
	}
	return metav1.TableRow{
		Object: runtime.RawExtension{Object: env},
		Cells: []any{
			env.Name, env.Spec.Branch, env.Spec.Path, env.Spec.PromotesFrom, string(env.Spec.Strategy),
			shorten(strings.Join(images, ","), 60), int64(pending), registry.ShortSHA(env.Status.Revision), registry.Age(&env.CreationTimestamp),
			ready, env.Spec.Review, last, synced,
		},
	}
}

func imageVersion(img gitgate.Image) string {
	if img.Tag != "" {
		return img.Tag
	}
	return registry.ShortSHA(strings.TrimPrefix(img.Digest, "sha256:"))
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
