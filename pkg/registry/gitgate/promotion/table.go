package promotion

import (
	"context"
	"fmt"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/registry"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the promotion."},
	{Name: "Environment", Type: "string", Description: "Environment promoted into."},
	{Name: "From", Type: "string", Description: "Environment promoted from."},
	{Name: "Phase", Type: "string", Description: "Succeeded, Proposed, Superseded or Rejected."},
	{Name: "Approvals", Type: "string", Description: "Approvals that count of those required (e.g. 1/2), when the environment requires approvals."},
	{Name: "Applied", Type: "string", Description: "Whether Flux applied the commit: the Applied condition's status, or its reason when that is Failed or NoKustomization."},
	{Name: "Changes", Type: "string", Description: "What the promotion changed."},
	{Name: "Commit", Type: "string", Description: "Commit that carries the promotion."},
	{Name: "By", Type: "string", Description: "Kubernetes user who promoted."},
	{Name: "Age", Type: "string", Description: "Time since the commit."},
	{Name: "Healthy", Type: "string", Priority: 1, Description: "The Healthy condition's status, or its reason when that is Failed or NoKustomization."},
	{Name: "Branch", Type: "string", Priority: 1, Description: "Branch that holds the commit."},
	{Name: "Source", Type: "string", Priority: 1, Description: "Source revision."},
	{Name: "Message", Type: "string", Priority: 1, Description: "Promotion message."},
}

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	switch o := obj.(type) {
	case *gitgate.Promotion:
		table.ResourceVersion = o.ResourceVersion
		table.Rows = []metav1.TableRow{row(o)}
	case *gitgate.PromotionList:
		table.ResourceVersion = o.ResourceVersion
		for i := range o.Items {
			table.Rows = append(table.Rows, row(&o.Items[i]))
		}
	default:
		return nil, fmt.Errorf("cannot show %T as a table of promotions", obj)
	}
	return table, nil
}

func row(p *gitgate.Promotion) metav1.TableRow {
	var changes []string
	for _, c := range p.Status.Changes {
		changes = append(changes, c.Name+":"+c.To)
	}
	changeText := strings.Join(changes, ",")
	if len(changeText) > 60 {
		changeText = changeText[:57] + "..."
	}
	return metav1.TableRow{
		Object: runtime.RawExtension{Object: p},
		Cells: []any{
			p.Name, p.Spec.Environment, p.Spec.From, string(p.Status.Phase), approvalsCell(p), conditionCell(p, v1alpha1.ConditionApplied), changeText,
			registry.ShortSHA(p.Status.Commit), p.Status.PromotedBy, registry.Age(p.Status.Time),
			conditionCell(p, v1alpha1.ConditionHealthy), p.Status.Branch, registry.ShortSHA(p.Status.SourceRevision), firstLine(p.Spec.Message),
		},
	}
}

// conditionCell shows a derived condition: its status, or its reason when
// that says more (Failed, NoKustomization); empty when it has none.
func conditionCell(p *gitgate.Promotion, conditionType string) string {
	c := apimeta.FindStatusCondition(p.Status.Conditions, conditionType)
	switch {
	case c == nil:
		return ""
	case c.Reason == v1alpha1.ReasonFailed, c.Reason == v1alpha1.ReasonNoKustomization:
		return c.Reason
	}
	return string(c.Status)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// approvalsCell shows approvals against the quorum, e.g. 1/2; empty when
// the promotion needs none.
func approvalsCell(p *gitgate.Promotion) string {
	if p.Status.ApprovalsRequired == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", len(p.Status.Approvals), p.Status.ApprovalsRequired)
}
