package gitstore

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

var errReadOnly = errors.New("gitstore: read-only object storage")

// redacted is what a credential is replaced with in error messages.
const redacted = "***"

// userInfo matches the user information of any URL in a text.
var userInfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@"']+@`)

// minSecretLength is the length from which a credential is searched for and
// removed anywhere in an error's text; shorter values would mangle messages
// and protect nothing.
const minSecretLength = 3

// secrets lists what must never appear in an error: the password and
// token of the credentials and of the URL's user information.
func secrets(rawURL string, c Credentials) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLength {
			out = append(out, s)
		}
	}
	add(c.Password)
	add(c.BearerToken)
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		p, _ := u.User.Password()
		add(p)
		add(url.QueryEscape(p))
		add(url.PathEscape(p))
	}
	return out
}

// remoteError is an error about the remote whose text holds no credential.
// It never wraps the transport's error, whose text may hold them; errors.Is
// finds its kind (ErrUnavailable, ErrRemoteMoved, ErrRejected).
type remoteError struct {
	kind error
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fail is the gitstore boundary for errors from the network: the text
// "<what>: <kind>: <cause>" with the URL's user information and every known
// credential removed.
func (r *Repository) fail(kind error, what string, cause error) error {
	msg := what + ": " + kind.Error()
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &remoteError{kind: kind, msg: truncate(r.scrub(msg))}
}

// maxErrorLength caps an error's text: a server's answer can be long, and
// it ends up in conditions and events.
const maxErrorLength = 1024

func truncate(s string) string {
	if len(s) <= maxErrorLength {
		return s
	}
	return s[:maxErrorLength] + "…"
}

// scrub removes credentials from a text.
func (r *Repository) scrub(s string) string {
	s = userInfo.ReplaceAllString(s, "$1")
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// redactURL drops any user info from a URL so it can be logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return userInfo.ReplaceAllString(raw, "$1")
	}
	u.User = nil
	return u.String()
}
