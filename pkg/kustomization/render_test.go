package kustomization

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func TestRenderFindsTheImagesTheOverlayRuns(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	root := filepath.Join("..", "..", "artifacts", "fleet", "trunk")
	for _, name := range []string{"base/deployment.yaml", "base/service.yaml", "base/kustomization.yaml", "overlays/prod/kustomization.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile("/"+name, b); err != nil {
			t.Fatal(err)
		}
	}
	images, err := Render(fs, "/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.example.com/app:version-1.2.2", "registry.example.com/proxy:1.0"}
	if !reflect.DeepEqual(images, want) {
		t.Fatalf("Render() = %v, want %v", images, want)
	}
	if _, err := Render(fs, "/overlays/missing"); err == nil {
		t.Fatal("rendering a missing overlay succeeded")
	}
}

func TestReferences(t *testing.T) {
	refs, err := References([]byte(`resources: [../../base, extra.yaml]
components: [../../components/monitoring]
patches: [{path: patch.yaml}]
configMapGenerator: [{name: c, files: [key=conf/app.properties], envs: [env.txt]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"../../base", "extra.yaml", "../../components/monitoring", "patch.yaml", "conf/app.properties", "env.txt"}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("References() = %v, want %v", refs, want)
	}
}

func TestRepository(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com:5000/app:v1":       "registry.example.com:5000/app",
		"app@sha256:abc":                         "app",
		"registry.example.com/app:v1@sha256:abc": "registry.example.com/app",
		"app":                                    "app",
	} {
		if got := Repository(in); got != want {
			t.Errorf("Repository(%q) = %q, want %q", in, got, want)
		}
	}
}
