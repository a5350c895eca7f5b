package kustomization

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FileName is the kustomization file gitgate reads and writes.
const FileName = "kustomization.yaml"

// Image is one entry of a kustomization's images: field.
type Image struct {
	// Name matches the image name in the resources.
	Name string
	// NewName replaces the image's repository.
	NewName string
	// NewTag replaces the tag.
	NewTag string
	// Digest replaces the tag with a digest.
	Digest string
}

// Reference is the image reference the entry makes containers run.
func (i Image) Reference() string {
	ref := i.Name
	if i.NewName != "" {
		ref = i.NewName
	}
	if i.NewTag != "" {
		ref += ":" + i.NewTag
	}
	if i.Digest != "" {
		ref += "@" + i.Digest
	}
	return ref
}

// Version is what a promotion moves: the digest when set, else the tag.
func (i Image) Version() string {
	switch {
	case i.Digest != "" && i.NewTag != "":
		return i.NewTag + "@" + i.Digest
	case i.Digest != "":
		return i.Digest
	}
	return i.NewTag
}

// Images returns the images: entries of a kustomization, sorted by name.
func Images(kustomization []byte) ([]Image, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	entries, err := imageEntries(root)
	if err != nil {
		return nil, err
	}
	images := make([]Image, 0, len(entries))
	for _, e := range entries {
		images = append(images, e.image)
	}
	sort.Slice(images, func(i, j int) bool { return images[i].Name < images[j].Name })
	return images, nil
}

type entry struct {
	node  *yaml.RNode
	image Image
}

func parse(kustomization []byte) (*yaml.RNode, error) {
	root, err := yaml.Parse(string(kustomization))
	if err != nil {
		return nil, fmt.Errorf("%s is not valid YAML: %w", FileName, err)
	}
	if root.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s must be a YAML mapping", FileName)
	}
	return root, nil
}

func imageEntries(root *yaml.RNode) ([]entry, error) {
	seq := root.Field("images")
	if seq == nil || seq.Value.IsNilOrEmpty() {
		return nil, nil
	}
	if seq.Value.YNode().Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: images must be a list", FileName)
	}
	var out []entry
	for i, n := range seq.Value.Content() {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: images[%d] must be a mapping", FileName, i)
		}
		rn := yaml.NewRNode(n)
		img := Image{
			Name:    scalar(rn, "name"),
			NewName: scalar(rn, "newName"),
			NewTag:  scalar(rn, "newTag"),
			Digest:  scalar(rn, "digest"),
		}
		if img.Name == "" {
			return nil, fmt.Errorf("%s: images[%d].name is required", FileName, i)
		}
		out = append(out, entry{node: rn, image: img})
	}
	return out, nil
}

func scalar(n *yaml.RNode, field string) string {
	f := n.Field(field)
	if f == nil || f.Value == nil {
		return ""
	}
	return f.Value.YNode().Value
}

// SetImages sets newName, newTag and digest of each named image to the
// values given (an empty value removes the field), adding entries that do
// not exist yet. Everything else in the file keeps its bytes.
func SetImages(kustomization []byte, images []Image) ([]byte, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	entries, err := imageEntries(root)
	if err != nil {
		return nil, err
	}
	ed := newEditor(kustomization)
	var missing []Image
	for _, img := range images {
		e := findEntry(entries, img.Name)
		if e == nil {
			missing = append(missing, img)
			continue
		}
		if e.node.YNode().Style&yaml.FlowStyle != 0 {
			return setImagesStructurally(kustomization, images)
		}
		for _, f := range []struct{ key, old, new string }{
			{"newName", e.image.NewName, img.NewName},
			{"newTag", e.image.NewTag, img.NewTag},
			{"digest", e.image.Digest, img.Digest},
		} {
			if f.old == f.new {
				continue
			}
			if err := ed.setField(e.node, f.key, f.new); err != nil {
				return setImagesStructurally(kustomization, images)
			}
		}
	}
	out := ed.apply()
	if len(missing) > 0 {
		return appendEntries(out, missing)
	}
	return out, nil
}

func findEntry(entries []entry, name string) *entry {
	for i := range entries {
		if entries[i].image.Name == name {
			return &entries[i]
		}
	}
	return nil
}

// setImagesStructurally edits through kyaml's tree, for layouts (flow
// mappings) that byte splices cannot handle; comments survive, spacing may not.
func setImagesStructurally(kustomization []byte, images []Image) ([]byte, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	for _, img := range images {
		seq, err := root.Pipe(yaml.LookupCreate(yaml.SequenceNode, "images"))
		if err != nil {
			return nil, err
		}
		n, err := seq.Pipe(yaml.MatchElement("name", img.Name))
		if err != nil {
			return nil, err
		}
		if n == nil {
			n = yaml.NewMapRNode(&map[string]string{"name": img.Name})
			if err := seq.PipeE(yaml.Append(n.YNode())); err != nil {
				return nil, err
			}
		}
		n.YNode().Style = 0
		for key, value := range map[string]string{"newName": img.NewName, "newTag": img.NewTag, "digest": img.Digest} {
			if value == "" {
				if _, err := n.Pipe(yaml.Clear(key)); err != nil {
					return nil, err
				}
				continue
			}
			if err := n.PipeE(yaml.SetField(key, yaml.NewStringRNode(value))); err != nil {
				return nil, err
			}
		}
	}
	s, err := root.String()
	return []byte(s), err
}

// appendEntries adds image entries at the end of the images: list, or adds
// the list at the end of the file.
func appendEntries(kustomization []byte, images []Image) ([]byte, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	field := root.Field("images")
	if field == nil {
		b.WriteString("images:\n")
		for _, img := range images {
			writeEntry(&b, "", img)
		}
		out := bytes.TrimRight(kustomization, "\n")
		return append(append(out, '\n'), b.String()...), nil
	}
	seq := field.Value.YNode()
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return setImagesStructurally(kustomization, images)
	}
	first := seq.Content[0]
	indent := strings.Repeat(" ", first.Column-3) // "- " precedes the first key
	for _, img := range images {
		writeEntry(&b, indent, img)
	}
	lines := strings.SplitAfter(string(kustomization), "\n")
	end := lastLine(seq)
	for end < len(lines) && strings.HasPrefix(lines[end], indent+" ") {
		end++ // continuation lines of the last entry
	}
	out := strings.Join(lines[:end], "") + b.String() + strings.Join(lines[end:], "")
	return []byte(out), nil
}

func writeEntry(b *strings.Builder, indent string, img Image) {
	fmt.Fprintf(b, "%s- name: %s\n", indent, quote(img.Name))
	for _, f := range [][2]string{{"newName", img.NewName}, {"newTag", img.NewTag}, {"digest", img.Digest}} {
		if f[1] != "" {
			fmt.Fprintf(b, "%s  %s: %s\n", indent, f[0], quote(f[1]))
		}
	}
}

// lastLine is the 1-based number of the last line a node's text starts on.
func lastLine(n *yamlv3.Node) int {
	line := n.Line
	for _, c := range n.Content {
		if l := lastLine(c); l > line {
			line = l
		}
	}
	return line
}

// quote renders s as a YAML scalar that reads back as the string s.
func quote(s string) string {
	out, err := yamlv3.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}
