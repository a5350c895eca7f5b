package promotion

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the promotion."},
	{Name: "Environment", Type: "string", Description: "Environment promoted into."},
	{Name: "From", Type: "string", Description: "Environment promoted from."},
	{Name: "Phase", Type: "string", Description: "Succeeded, Proposed or Superseded."},
	{Name: "Changes", Type: "string", Description: "What the promotion changed."},
	{Name: "Commit", Type: "string", Description: "Commit that carries the promotion."},
	{Name: "By", Type: "string", Description: "Kubernetes user who promoted."},
	{Name: "Age", Type: "string", Description: "Time since the commit."},
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
	since := "<unknown>"
	if !p.Status.Time.IsZero() {
		since = duration.HumanDuration(time.Since(p.Status.Time.Time))
	}
	return metav1.TableRow{
		Object: runtime.RawExtension{Object: p},
		Cells: []any{
			p.Name, p.Spec.Environment, p.Spec.From, string(p.Status.Phase), changeText,
			short(p.Status.Commit), p.Status.PromotedBy, since,
			p.Status.Branch, short(p.Status.SourceRevision), firstLine(p.Spec.Message),
		},
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
