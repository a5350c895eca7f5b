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
	out, err := Render(fs, "/overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.example.com/app:version-1.2.2", "registry.example.com/proxy:1.0"}
	if !reflect.DeepEqual(out.Images, want) {
		t.Fatalf("Render().Images = %v, want %v", out.Images, want)
	}
	if len(out.PlainSecrets) != 0 {
		t.Fatalf("Render().PlainSecrets = %v, want none", out.PlainSecrets)
	}
	if _, err := Render(fs, "/overlays/missing"); err == nil {
		t.Fatal("rendering a missing overlay succeeded")
	}
}

func TestRenderFindsPlainSecrets(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	files := map[string]string{
		"/env/kustomization.yaml": "namespace: shop-prod\nresources: [secret.yaml, sealed.yaml]\nsecretGenerator:\n- name: generated\n  literals: [password=hunter2]\n  options: {disableNameSuffixHash: true}\n",
		"/env/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata: {name: committed}\nstringData: {password: hunter2}\n",
		"/env/sealed.yaml":        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: sealed}\nspec: {encryptedData: {password: QUJD}}\n",
	}
	for name, content := range files {
		if err := fs.WriteFile(name, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := Render(fs, "/env")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"shop-prod/committed", "shop-prod/generated"}
	if !reflect.DeepEqual(out.PlainSecrets, want) {
		t.Fatalf("PlainSecrets = %v, want %v", out.PlainSecrets, want)
	}
	if got := out.PlainSecretSources; !reflect.DeepEqual(got["committed"], []string{"env/secret.yaml"}) || !reflect.DeepEqual(got["generated"], []string{"env/kustomization.yaml"}) {
		t.Fatalf("PlainSecretSources = %v", got)
	}
	if len(out.SealedSecrets) != 1 || out.SealedSecrets["shop-prod/sealed"] == "" {
		t.Fatalf("SealedSecrets = %v, want shop-prod/sealed with a digest", out.SealedSecrets)
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
