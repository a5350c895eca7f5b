package kustomization

import "testing"

func TestAddResource(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"append to block list",
			"# prod\nnamespace: shop-prod\nresources:\n- ../../base # the app\nimages:\n- name: app\n",
			"# prod\nnamespace: shop-prod\nresources:\n- ../../base # the app\n- db.sealedsecret.yaml\nimages:\n- name: app\n"},
		{"indented list",
			"resources:\n  - ../../base\n",
			"resources:\n  - ../../base\n  - db.sealedsecret.yaml\n"},
		{"already listed", "resources:\n- db.sealedsecret.yaml\n", "resources:\n- db.sealedsecret.yaml\n"},
		{"no resources", "namespace: shop-prod", "namespace: shop-prod\nresources:\n- db.sealedsecret.yaml\n"},
		{"flow list", "resources: [../../base]\n", "resources: [../../base, db.sealedsecret.yaml]\n"},
		{"empty field", "resources:\nnamespace: x\n", "resources:\n- db.sealedsecret.yaml\nnamespace: x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddResource([]byte(tt.in), "db.sealedsecret.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			refs, err := References(got)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range refs {
				found = found || r == "db.sealedsecret.yaml"
			}
			if !found {
				t.Fatalf("References(%q) = %v, lacks the new resource", got, refs)
			}
		})
	}
	if _, err := AddResource([]byte("resources: base\n"), "x.yaml"); err == nil {
		t.Fatal("a scalar resources: field was accepted")
	}
}

func TestNamespace(t *testing.T) {
	for in, want := range map[string]string{"namespace: shop-prod\n": "shop-prod", "resources: []\n": ""} {
		got, err := Namespace([]byte(in))
		if err != nil || got != want {
			t.Fatalf("Namespace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestKinds(t *testing.T) {
	got := Kinds([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: b}\n"))
	if len(got) != 2 || got[0] != "v1/Secret" || got[1] != "bitnami.com/v1alpha1/SealedSecret" {
		t.Fatalf("Kinds = %v", got)
	}
	if got := Kinds([]byte(": not yaml")); got != nil {
		t.Fatalf("Kinds(garbage) = %v, want nil", got)
	}
}
