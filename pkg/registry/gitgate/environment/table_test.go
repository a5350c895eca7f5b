package environment

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name   string
		sync   *gitgate.SyncStatus
		synced string
	}{
		{"no Flux Kustomization", nil, ""},
		{"Flux runs the head", &gitgate.SyncStatus{Ready: true, UpToDate: true}, "True"},
		{"Flux runs an older commit", &gitgate.SyncStatus{Ready: true}, "False"},
		{"Flux failing", &gitgate.SyncStatus{UpToDate: true}, "False"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkTable(t, tt.sync, tt.synced) })
	}
}

func checkTable(t *testing.T, sync *gitgate.SyncStatus, synced string) {
	env := &gitgate.Environment{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec:       gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/prod", PromotesFrom: "test", Strategy: gitgate.StrategyImages},
		Status: gitgate.EnvironmentStatus{
			Revision:   "3f2a0000000000",
			Images:     []gitgate.Image{{Name: "app", Tag: "version-1.2.3"}, {Name: "db", Digest: "sha256:abcdef0123456789"}},
			Upstream:   &gitgate.UpstreamStatus{Environment: "test", Pending: []gitgate.Change{{Name: "app", To: "x"}}},
			Conditions: []metav1.Condition{{Type: gitgate.ConditionReady, Status: metav1.ConditionTrue}},
			Sync:       sync,
		},
	}
	table, err := tableConvertor{}.ConvertToTable(context.Background(), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"prod", "main", "overlays/prod", "test", "Images", "app:version-1.2.3,db:abcdef0", int64(1), "3f2a000", "<unknown>", "True", false, "", synced}
	if len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
		t.Fatalf("%d cells for %d columns", len(table.Rows[0].Cells), len(table.ColumnDefinitions))
	}
	for i, cell := range table.Rows[0].Cells {
		if cell != want[i] {
			t.Errorf("cell %s = %v, want %v", table.ColumnDefinitions[i].Name, cell, want[i])
		}
	}
}
