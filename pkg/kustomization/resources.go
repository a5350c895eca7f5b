package kustomization

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Namespace returns the kustomization's namespace: field, the namespace
// every object it renders goes to; empty when it sets none.
func Namespace(kustomization []byte) (string, error) {
	root, err := parse(kustomization)
	if err != nil {
		return "", err
	}
	return scalar(root, "namespace"), nil
}

// AddResource lists ref under resources: unless it is there already,
// appending to the list (or adding the list at the end of the file).
// Everything else in the file keeps its bytes.
func AddResource(kustomization []byte, ref string) ([]byte, error) {
	root, err := parse(kustomization)
	if err != nil {
		return nil, err
	}
	field := root.Field("resources")
	if field == nil {
		out := bytes.TrimRight(kustomization, "\n")
		return append(append(out, '\n'), "resources:\n- "+quote(ref)+"\n"...), nil
	}
	seq := field.Value.YNode()
	if seq.Kind == yaml.ScalarNode && seq.Tag == yaml.NodeTagNull { // "resources:" with nothing after it
		seq.Kind, seq.Tag, seq.Value = yaml.SequenceNode, yaml.NodeTagSeq, ""
	}
	if seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: resources must be a list", FileName)
	}
	if slices.ContainsFunc(seq.Content, func(n *yaml.Node) bool { return n.Value == ref }) {
		return kustomization, nil
	}
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		seq.Content = append(seq.Content, yaml.NewStringRNode(ref).YNode())
		s, err := root.String()
		return []byte(s), err
	}
	first := seq.Content[0]
	indent := strings.Repeat(" ", first.Column-3) // "- " precedes the item
	lines := strings.SplitAfter(string(kustomization), "\n")
	end := lastLine(seq)
	for end < len(lines) && strings.HasPrefix(lines[end], indent+"  ") {
		end++ // continuation lines of the last item
	}
	if end > 0 && !strings.HasSuffix(lines[end-1], "\n") {
		lines[end-1] += "\n"
	}
	out := strings.Join(lines[:end], "") + indent + "- " + quote(ref) + "\n" + strings.Join(lines[end:], "")
	return []byte(out), nil
}

// Kinds returns apiVersion/kind of each YAML document in content; nil when
// content is not YAML objects.
func Kinds(content []byte) []string {
	nodes, err := kio.FromBytes(content)
	if err != nil {
		return nil
	}
	kinds := make([]string, 0, len(nodes))
	for _, n := range nodes {
		kinds = append(kinds, n.GetApiVersion()+"/"+n.GetKind())
	}
	return kinds
}
