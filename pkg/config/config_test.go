package config

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`
repositories:
- name: shop-fleet
  url: https://git.example.com/shop/fleet.git
  namespaces: [shop]
  secretRef: {namespace: gitgate-system, name: shop-fleet-auth}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Repositories[0]
	if r.DefaultBranch != "main" || r.PollInterval.Duration != 30*time.Second || r.CommitAuthor.Name != "gitgate" {
		t.Errorf("defaults not applied: %+v", r)
	}
}

func TestParseRefusals(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"namespace bound twice": {`repositories:
- {name: a, url: file:///a, namespaces: [shop]}
- {name: b, url: file:///b, namespaces: [shop]}`, "repositories[1].namespaces[0]: Invalid value: \"shop\": is already served by repository a"},
		"missing url":       {`repositories: [{name: a, namespaces: [x]}]`, "repositories[0].url: Required value"},
		"bad name":          {`repositories: [{name: A_B, url: file:///a, namespaces: [x]}]`, "repositories[0].name: Invalid value"},
		"unknown field":     {`repositories: [{name: a, url: file:///a, namespaces: [x], branch: main}]`, "unknown field"},
		"poll too often":    {`repositories: [{name: a, url: file:///a, namespaces: [x], pollInterval: 10ms}]`, "pollInterval"},
		"half a secret ref": {`repositories: [{name: a, url: file:///a, namespaces: [x], secretRef: {name: s}}]`, "secretRef"},
		"unknown signing format": {`repositories: [{name: a, url: file:///a, namespaces: [x], signing: {format: x509, secretRef: {namespace: n, name: s}}}]`,
			"repositories[0].signing.format: Unsupported value: \"x509\""},
		"signing without a key": {`repositories: [{name: a, url: file:///a, namespaces: [x], signing: {format: ssh}}]`, "repositories[0].signing.secretRef: Required value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
