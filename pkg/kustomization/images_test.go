package kustomization

import (
	"reflect"
	"testing"
)

const overlay = `# The prod environment.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
# app is promoted by gitgate
- name: app
  newName: registry.example.com/app
  newTag: version-1.2.2 # {"$imagepolicy": "flux-system:app-prod:tag"}
- name: proxy
  newTag: "1.0"
namespace: shop-prod
`

func TestImages(t *testing.T) {
	got, err := Images([]byte(overlay))
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{
		{Name: "app", NewName: "registry.example.com/app", NewTag: "version-1.2.2"},
		{Name: "proxy", NewTag: "1.0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Images() = %+v, want %+v", got, want)
	}
	if ref := got[0].Reference(); ref != "registry.example.com/app:version-1.2.2" {
		t.Errorf("Reference() = %q", ref)
	}
}

func TestSetImages(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		images []Image
		want   string
	}{
		{
			name:   "tag changes, setter marker and comments stay byte for byte",
			in:     overlay,
			images: []Image{{Name: "app", NewName: "registry.example.com/app", NewTag: "version-1.2.3"}},
			want: `# The prod environment.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
images:
# app is promoted by gitgate
- name: app
  newName: registry.example.com/app
  newTag: version-1.2.3 # {"$imagepolicy": "flux-system:app-prod:tag"}
- name: proxy
  newTag: "1.0"
namespace: shop-prod
`,
		},
		{
			name:   "quoted values stay quoted, numeric-looking plain values get quotes",
			in:     "images:\n- name: proxy\n  newTag: \"1.0\"\n- name: db\n  newTag: v1\n",
			images: []Image{{Name: "proxy", NewTag: "1.1"}, {Name: "db", NewTag: "2.0"}},
			want:   "images:\n- name: proxy\n  newTag: \"1.1\"\n- name: db\n  newTag: \"2.0\"\n",
		},
		{
			name:   "digest added after the entry, tag removed",
			in:     "images:\n- name: app\n  newTag: v1 # keep\nnamespace: x\n",
			images: []Image{{Name: "app", Digest: "sha256:abc"}},
			want:   "images:\n- name: app\n  digest: sha256:abc\nnamespace: x\n",
		},
		{
			name:   "unknown image appended to the list",
			in:     "images:\n  - name: app\n    newTag: v1\nnamespace: x\n",
			images: []Image{{Name: "worker", NewTag: "v2"}},
			want:   "images:\n  - name: app\n    newTag: v1\n  - name: worker\n    newTag: v2\nnamespace: x\n",
		},
		{
			name:   "file without images gets the list at the end",
			in:     "resources:\n- a.yaml\n",
			images: []Image{{Name: "app", NewTag: "v2"}},
			want:   "resources:\n- a.yaml\nimages:\n- name: app\n  newTag: v2\n",
		},
		{
			name:   "flow mapping is edited structurally",
			in:     "images:\n- {name: app, newTag: v1}\n",
			images: []Image{{Name: "app", NewTag: "v2"}},
			want:   "images:\n- name: app\n  newTag: v2\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetImages([]byte(tc.in), tc.images)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("SetImages() wrote\n%s\nwant\n%s", got, tc.want)
			}
			back, err := Images(got)
			if err != nil {
				t.Fatalf("result does not parse: %v", err)
			}
			for _, img := range tc.images {
				if e := findImage(back, img.Name); e == nil || *e != img {
					t.Errorf("image %s reads back as %+v, want %+v", img.Name, e, img)
				}
			}
		})
	}
}

func findImage(images []Image, name string) *Image {
	for i := range images {
		if images[i].Name == name {
			return &images[i]
		}
	}
	return nil
}

func TestImagesErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":           "images: [",
		"images not a list":  "images: app\n",
		"entry without name": "images:\n- newTag: v1\n",
		"document not a map": "- a\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Images([]byte(in)); err == nil {
				t.Fatalf("Images(%q) returned no error", in)
			}
		})
	}
}
