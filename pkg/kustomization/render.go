package kustomization

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// References lists the paths a kustomization refers to (resources, bases,
// components, patches, generator files), relative to its directory, so a
// caller can load exactly what a render needs.
func References(kustomization []byte) ([]string, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	var refs []string
	add := func(n *yaml.RNode) {
		if n != nil && n.YNode().Kind == yaml.ScalarNode && n.YNode().Value != "" {
			refs = append(refs, n.YNode().Value)
		}
	}
	for _, key := range []string{"resources", "bases", "components", "crds", "patchesStrategicMerge"} {
		if f := root.Field(key); f != nil {
			for _, item := range f.Value.Content() {
				add(yaml.NewRNode(item))
			}
		}
	}
	for _, key := range []string{"patches", "patchesJson6902"} {
		if f := root.Field(key); f != nil {
			for _, item := range f.Value.Content() {
				add(yaml.NewRNode(item).Field("path").Value)
			}
		}
	}
	for _, key := range []string{"configMapGenerator", "secretGenerator"} {
		if f := root.Field(key); f != nil {
			for _, gen := range f.Value.Content() {
				for _, list := range []string{"files", "envs"} {
					if l := yaml.NewRNode(gen).Field(list); l != nil {
						for _, item := range l.Value.Content() {
							v := item.Value
							if _, file, ok := strings.Cut(v, "="); ok {
								v = file
							}
							refs = append(refs, v)
						}
					}
				}
			}
		}
	}
	return refs, nil
}

// Rendered is what gitgate reads from a kustomize build.
type Rendered struct {
	// Images are the container images of the result, sorted and unique.
	Images []string
	// PlainSecrets are the v1 Secrets of the result, as namespace/name,
	// sorted: whatever renders them (a file or a secretGenerator) holds
	// their values in Git unencrypted.
	PlainSecrets []string
	// PlainSecretSources names, for each plain Secret (by name), the files
	// that hold it in Git: a Secret manifest, or the kustomization with the
	// secretGenerator that makes it.
	PlainSecretSources map[string][]string
	// SealedSecrets maps each SealedSecret of the result (namespace/name)
	// to a digest of its spec, so that two renders can be compared.
	SealedSecrets map[string]string
}

// Render builds the kustomization in dir of fs (as `kustomize build` does).
func Render(fs filesys.FileSystem, dir string) (*Rendered, error) {
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig.HelmConfig.Enabled = false
	resources, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dir, err)
	}
	seen := map[string]bool{}
	out := &Rendered{SealedSecrets: map[string]string{}}
	for _, r := range resources.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %s: %w", dir, r.CurId(), err)
		}
		if r.GetApiVersion() == "v1" && r.GetKind() == "Secret" {
			out.PlainSecrets = append(out.PlainSecrets, path.Join(r.GetNamespace(), r.GetName()))
		}
		if r.GetApiVersion() == "bitnami.com/v1alpha1" && r.GetKind() == "SealedSecret" {
			spec, err := json.Marshal(m["spec"])
			if err != nil {
				return nil, fmt.Errorf("rendering %s: %s: %w", dir, r.CurId(), err)
			}
			sum := sha256.Sum256(spec)
			out.SealedSecrets[path.Join(r.GetNamespace(), r.GetName())] = hex.EncodeToString(sum[:8])
		}
		collectImages(m, seen)
	}
	for img := range seen {
		out.Images = append(out.Images, img)
	}
	sort.Strings(out.Images)
	sort.Strings(out.PlainSecrets)
	if len(out.PlainSecrets) > 0 {
		out.PlainSecretSources = plainSecretSources(fs)
	}
	return out, nil
}

// plainSecretSources finds, in every file the render could read, the
// Secret manifests and secretGenerators, by the Secret's name.
func plainSecretSources(fs filesys.FileSystem) map[string][]string {
	sources := map[string][]string{}
	_ = fs.Walk("/", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		content, err := fs.ReadFile(p)
		if err != nil {
			return nil
		}
		file := strings.TrimPrefix(p, "/")
		if path.Base(p) == FileName {
			if root, err := parse(content); err == nil {
				if gens := root.Field("secretGenerator"); gens != nil {
					for _, g := range gens.Value.Content() {
						if name := scalar(yaml.NewRNode(g), "name"); name != "" {
							sources[name] = append(sources[name], file)
						}
					}
				}
			}
			return nil
		}
		nodes, err := kio.FromBytes(content)
		if err != nil {
			return nil
		}
		for _, n := range nodes {
			if n.GetApiVersion() == "v1" && n.GetKind() == "Secret" {
				sources[n.GetName()] = append(sources[n.GetName()], file)
			}
		}
		return nil
	})
	return sources
}

// collectImages finds image fields inside every containers-like list.
func collectImages(v any, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for key, val := range t {
			if list, ok := val.([]any); ok && (key == "containers" || key == "initContainers" || key == "ephemeralContainers") {
				for _, c := range list {
					if m, ok := c.(map[string]any); ok {
						if img, ok := m["image"].(string); ok && img != "" {
							out[img] = true
						}
					}
				}
			}
			collectImages(val, out)
		}
	case []any:
		for _, item := range t {
			collectImages(item, out)
		}
	}
}

// Repository returns an image reference without its tag and digest.
func Repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// CleanJoin joins a kustomization directory and a reference in it.
func CleanJoin(dir, ref string) string { return path.Clean(path.Join(dir, ref)) }
