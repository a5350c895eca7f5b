package kustomization

import (
	"errors"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// editor collects byte-range replacements of the original text.
type editor struct {
	src   string
	lines []int // byte offset of each line's start
	edits []splice
}

type splice struct {
	from, to int
	text     string
}

var errNotSpliceable = errors.New("value cannot be edited in place")

func newEditor(src []byte) *editor {
	e := &editor{src: string(src), lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			e.lines = append(e.lines, i+1)
		}
	}
	return e
}

func (e *editor) offset(line, column int) int { return e.lines[line-1] + column - 1 }

// setField replaces, removes or adds key in a block mapping.
func (e *editor) setField(m *yaml.RNode, key, value string) error {
	f := m.Field(key)
	switch {
	case f != nil && value != "":
		v := f.Value.YNode()
		start := e.offset(v.Line, v.Column)
		end, err := e.scalarEnd(start, v.Style)
		if err != nil {
			return err
		}
		text := value
		switch {
		case v.Style&yaml.DoubleQuotedStyle != 0:
			text = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
		case v.Style&yaml.SingleQuotedStyle != 0:
			text = `'` + strings.ReplaceAll(value, `'`, `''`) + `'`
		default:
			text = quote(value)
		}
		e.edits = append(e.edits, splice{start, end, text})
	case f != nil: // remove the key's whole line
		k := f.Key.YNode()
		if f.Value.YNode().Line != k.Line {
			return errNotSpliceable
		}
		start := e.lines[k.Line-1]
		end := len(e.src)
		if k.Line < len(e.lines) {
			end = e.lines[k.Line]
		}
		if strings.TrimSpace(e.src[start:e.offset(k.Line, k.Column)]) != "" {
			return errNotSpliceable // the key shares its line with "- "
		}
		e.edits = append(e.edits, splice{start, end, ""})
	case value != "": // add after the mapping's last line
		content := m.YNode().Content
		if len(content) == 0 {
			return errNotSpliceable
		}
		firstKey := content[0]
		last := lastLine(m.YNode())
		at := len(e.src)
		if last < len(e.lines) {
			at = e.lines[last]
		}
		line := strings.Repeat(" ", firstKey.Column-1) + key + ": " + quote(value) + "\n"
		if at == len(e.src) && !strings.HasSuffix(e.src, "\n") {
			line = "\n" + line
		}
		e.edits = append(e.edits, splice{at, at, line})
	}
	return nil
}

// scalarEnd finds where the scalar token starting at start ends.
func (e *editor) scalarEnd(start int, style yaml.Style) (int, error) {
	s := e.src
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			case '\n':
				return 0, errNotSpliceable
			}
		}
	case style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
			if s[i] == '\n' {
				return 0, errNotSpliceable
			}
		}
	case style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, errNotSpliceable
	default: // plain: up to " #", end of line, or trailing space
		end := start
		for end < len(s) && s[end] != '\n' {
			if s[end] == '#' && end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
				break
			}
			end++
		}
		return start + len(strings.TrimRight(s[start:end], " \t\r")), nil
	}
	return 0, errNotSpliceable
}

// apply returns the text with every splice made, last first.
func (e *editor) apply() []byte {
	sort.Slice(e.edits, func(i, j int) bool { return e.edits[i].from > e.edits[j].from })
	out := e.src
	for _, sp := range e.edits {
		out = out[:sp.from] + sp.text + out[sp.to:]
	}
	return []byte(out)
}
