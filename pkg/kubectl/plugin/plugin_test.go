package plugin

import (
	"reflect"
	"testing"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct{ args, want []string }{
		{[]string{"--to", "prod"}, []string{"create", "promotion", "--to", "prod"}},
		{nil, []string{"create", "promotion"}},
		{[]string{"__complete", "--to", ""}, []string{"__complete", "create", "promotion", "--to", ""}},
		{[]string{"__completeNoDesc", ""}, []string{"__completeNoDesc", "create", "promotion", ""}},
	} {
		if got := Args([]string{"create", "promotion"}, tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Args(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
