package promotion

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

func TestTable(t *testing.T) {
	p := gitgate.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "prod-42"},
		Spec:       gitgate.PromotionSpec{Environment: "prod", From: "test", Message: "release 1.2.3\nmore"},
		Status: gitgate.PromotionStatus{
			Phase: gitgate.PromotionSucceeded, Commit: "7b0d1234567890", Branch: "main", PromotedBy: "alice",
			Changes: []gitgate.Change{{Name: "app", From: "v1", To: "v2"}, {Name: "db", To: "v9"}},
			Time:    &metav1.Time{Time: time.Now().Add(-2 * time.Hour)},
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionApplied, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonApplied},
				{Type: v1alpha1.ConditionHealthy, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonFailed},
			},
		},
	}
	table, err := tableConvertor{}.ConvertToTable(context.Background(), &gitgate.PromotionList{Items: []gitgate.Promotion{p}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	if got, want := names, []string{"Name", "Environment", "From", "Phase", "Approvals", "Applied", "Changes", "Commit", "By", "Age"}; len(got) != len(want) {
		t.Fatalf("columns %v, want %v", got, want)
	}
	cells := table.Rows[0].Cells
	want := []any{"prod-42", "prod", "test", "Succeeded", "", "True", "app:v2,db:v9", "7b0d123", "alice", "120m", "Failed", "main", "", "release 1.2.3"}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("cell %s = %v, want %v", table.ColumnDefinitions[i].Name, cells[i], want[i])
		}
	}
	p.Status.ApprovalsRequired = 2
	p.Status.Approvals = []gitgate.ApprovalRecord{{By: "bob"}}
	if got := row(&p).Cells[4]; got != "1/2" {
		t.Errorf("approvals cell = %v, want 1/2", got)
	}
	if _, err := (tableConvertor{}).ConvertToTable(context.Background(), &gitgate.Environment{}, nil); err == nil {
		t.Error("an Environment converted as a promotion table")
	}
}
