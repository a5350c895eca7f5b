package engine

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// Commit trailers that gitgate writes and reads back.
const (
	TrailerPromotion   = "Gitgate-Promotion"
	TrailerEnvironment = "Gitgate-Environment"
	TrailerBranch      = "Gitgate-Branch"
	TrailerFrom        = "Gitgate-From"
	TrailerChange      = "Gitgate-Change"
	TrailerPromotedBy  = "Promoted-By"
	TrailerImages      = "Gitgate-Images"
	TrailerChangedBy   = "Gitgate-Changed-By"
	// TrailerSealedSecret names the SealedSecret (namespace/name) a commit
	// adds or replaces; never any value.
	TrailerSealedSecret = "Gitgate-Sealed-Secret"
)

// noValue stands for an empty From or To in a change trailer.
const noValue = "(none)"

// formatChange renders a change as "NAME FROM -> TO".
func formatChange(c gitgate.Change) string {
	from, to := c.From, c.To
	if from == "" {
		from = noValue
	}
	if to == "" {
		to = noValue
	}
	return c.Name + " " + from + " -> " + to
}

func parseChange(v string) (gitgate.Change, bool) {
	f := strings.Fields(v)
	if len(f) != 4 || f[2] != "->" {
		return gitgate.Change{}, false
	}
	c := gitgate.Change{Name: f[0], From: f[1], To: f[3]}
	if c.From == noValue {
		c.From = ""
	}
	if c.To == noValue {
		c.To = ""
	}
	return c, true
}

// uidFor derives a stable UID from a commit, so every replica agrees.
func uidFor(h gitstore.Hash) types.UID {
	s := h.String()
	return types.UID(s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32])
}

// trailer is one "Key: value" line of a commit message's last paragraph.
type trailer struct{ key, value string }

// formatMessage joins subject, body and trailers into a commit message.
func formatMessage(subject, body string, trailers []trailer) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(subject))
	b.WriteString("\n\n")
	if body = strings.TrimSpace(body); body != "" {
		b.WriteString(body)
		b.WriteString("\n\n")
	}
	for _, t := range trailers {
		fmt.Fprintf(&b, "%s: %s\n", t.key, oneLine(t.value))
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// parseTrailers returns the trailers of a message's last paragraph, or nil
// when that paragraph is not all trailers.
func parseTrailers(message string) []trailer {
	msg := strings.TrimRight(message, "\n ")
	idx := strings.LastIndex(msg, "\n\n")
	if idx < 0 {
		return nil
	}
	var out []trailer
	for _, line := range strings.Split(msg[idx+2:], "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil
		}
		out = append(out, trailer{k, strings.TrimSpace(v)})
	}
	return out
}

// trailerValues returns the values of key, in order.
func trailerValues(ts []trailer, key string) []string {
	var vs []string
	for _, t := range ts {
		if t.key == key {
			vs = append(vs, t.value)
		}
	}
	return vs
}

func trailerValue(ts []trailer, key string) string {
	if vs := trailerValues(ts, key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// subjectAndBody splits a commit message at its first blank line and drops
// the trailers paragraph from the body.
func subjectAndBody(message string) (string, string) {
	subject, body, _ := strings.Cut(strings.TrimSpace(message), "\n\n")
	if parseTrailers(message) != nil {
		if idx := strings.LastIndex(body, "\n\n"); idx >= 0 {
			body = body[:idx]
		} else {
			body = ""
		}
	}
	return subject, strings.TrimSpace(body)
}
