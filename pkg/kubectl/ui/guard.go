package ui

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// guard refuses, with 403 and before anything else runs, every request
// that does not prove it comes from this server's own page:
//   - its path must start with /<token>/ (compared in constant time), which
//     only the user who started the server has seen;
//   - its Host must be the address the server listens on, so a page of
//     another site whose name was rebound to 127.0.0.1 (DNS rebinding) is
//     refused even before the token is checked;
//   - an Origin, when the browser sends one, must be this server's, and
//     requests that change anything (not GET or HEAD) must carry one;
//   - Sec-Fetch-Site, when sent, must say same-origin (or none: the user
//     typed or pasted the URL).
//
// It strips the token from the path for the handlers behind it and adds
// headers that keep the page out of frames and other sites' referrers.
func (s *Server) guard(next http.Handler) http.Handler {
	prefix := "/" + s.token + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")

		if !s.hosts[r.Host] {
			forbidden(w, "the Host header does not name this server: open the URL that kubectl gitgate ui printed")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.origins[origin] {
			forbidden(w, "cross-origin requests are refused")
			return
		} else if origin == "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			forbidden(w, "a request that changes something must come from the page (no Origin header)")
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			forbidden(w, "cross-site requests are refused")
			return
		}
		path := r.URL.EscapedPath()
		if unclean(r.URL.Path) || unclean(path) {
			forbidden(w, "the path must not contain empty, . or .. segments")
			return
		}
		given := path
		if len(given) > len(prefix) {
			given = given[:len(prefix)]
		}
		if subtle.ConstantTimeCompare([]byte(given), []byte(prefix)) != 1 {
			if path == "/"+s.token { // the URL without its trailing slash
				http.Redirect(w, r, prefix, http.StatusFound)
				return
			}
			forbidden(w, "missing or wrong token: open the URL that kubectl gitgate ui printed")
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + strings.TrimPrefix(r.URL.Path, prefix)
		r2.URL.RawPath = ""
		next.ServeHTTP(w, r2)
	})
}

// forbidden answers 403 with a Kubernetes Status, as the page shows
// every refusal.
func forbidden(w http.ResponseWriter, message string) {
	writeStatus(w, http.StatusForbidden, "Forbidden", message)
}

// unclean reports a path with empty, . or .. segments, which the mux
// would clean (and redirect) behind the guard's back.
func unclean(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}
