package gitgate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestSealValidatesItsArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		opts    sealOptions
		wantErr string
	}{
		{"stdin", nil, sealOptions{environment: "prod", scope: "strict", dryRun: "none"}, ""},
		{"literals", []string{"db"}, sealOptions{environment: "prod", scope: "namespace-wide", dryRun: "server", literals: []string{"a=b"}, output: "yaml"}, ""},
		{"no environment", nil, sealOptions{scope: "strict", dryRun: "none"}, "--environment is required"},
		{"name without data", []string{"db"}, sealOptions{environment: "prod", scope: "strict", dryRun: "none"}, "NAME needs --from-literal"},
		{"data without name", nil, sealOptions{environment: "prod", scope: "strict", dryRun: "none", literals: []string{"a=b"}}, "need the Secret's NAME"},
		{"file and literals", []string{"db"}, sealOptions{environment: "prod", scope: "strict", dryRun: "none", literals: []string{"a=b"}, file: "s.yaml"}, "exclusive"},
		{"bad scope", nil, sealOptions{environment: "prod", scope: "galaxy", dryRun: "none"}, "--scope"},
		{"bad dry run", nil, sealOptions{environment: "prod", scope: "strict", dryRun: "maybe"}, "--dry-run"},
		{"bad output", nil, sealOptions{environment: "prod", scope: "strict", dryRun: "none", output: "wide"}, "--output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate(&cobra.Command{Use: "seal"}, tt.args)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSealReadsTheSecret(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, []byte("key bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &sealOptions{common: &common{}, secretType: "Opaque",
		literals: []string{"password=a=b"}, files: []string{keyFile, "renamed=" + keyFile}}
	s, err := o.readSecret([]string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["password"]) != "a=b" || string(s.Data["id_ed25519"]) != "key bytes" || string(s.Data["renamed"]) != "key bytes" || s.Name != "db" {
		t.Fatalf("secret = %s %q", s.Name, s.Data)
	}

	in := "apiVersion: v1\nkind: Secret\nmetadata: {name: api}\nstringData: {token: t}\n"
	o = &sealOptions{common: &common{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(in)}}}
	if s, err = o.readSecret(nil); err != nil || s.Name != "api" || s.StringData["token"] != "t" {
		t.Fatalf("from stdin: %+v, %v", s, err)
	}
	o = &sealOptions{common: &common{IOStreams: genericiooptions.IOStreams{In: strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")}}}
	if _, err := o.readSecret(nil); err == nil || !strings.Contains(err.Error(), "not a v1 Secret") {
		t.Fatalf("a ConfigMap was read as a Secret: %v", err)
	}
	o = &sealOptions{common: &common{}, literals: []string{"novalue"}}
	if _, err := o.readSecret([]string{"db"}); err == nil {
		t.Fatal("--from-literal without = accepted")
	}
}
