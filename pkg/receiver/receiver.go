// Package receiver serves the push-webhook endpoint: a Git host notifies
// gitgate of a push, and gitgate fetches that repository now instead of at
// its next poll. Requests are authenticated with the repository's
// webhookToken: a GitHub-style HMAC signature (X-Hub-Signature-256, also sent
// by Gitea and Forgejo), GitLab's X-Gitlab-Token, or a bearer token.
package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// PathPrefix is where the endpoint is served: PathPrefix + <repository name>.
const PathPrefix = "/hooks/"

// maxBody bounds a notification; Git hosts send a few kilobytes.
const maxBody = 1 << 20

// Target is what a repository name resolves to.
type Target struct {
	// Token authenticates notifications; empty disables the receiver for
	// the repository.
	Token []byte
	// Refresh fetches the repository.
	Refresh func(ctx context.Context) error
}

// Handler serves POST PathPrefix<repository>.
type Handler struct {
	// Lookup resolves a repository name.
	Lookup func(repository string) (Target, bool)
	// Timeout bounds one refresh; default one minute.
	Timeout time.Duration

	mu    sync.Mutex
	state map[string]*refreshState
}

// refreshState coalesces notifications: at most one refresh runs per
// repository, and at most one more is queued behind it.
type refreshState struct {
	running, again bool
	// refresh is the newest one given: a repository's engine may have been
	// replaced since the first notification.
	refresh func(ctx context.Context) error
}

// ServeHTTP checks the notification and schedules a refresh (202).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "a push notification is a POST", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, PathPrefix)
	if name == "" || strings.Contains(name, "/") || !strings.HasPrefix(r.URL.Path, PathPrefix) {
		http.Error(w, "the path is "+PathPrefix+"<repository name>", http.StatusNotFound)
		return
	}
	// A declared length over the limit is refused before reading; anything
	// else is read up to one byte past it.
	if r.ContentLength > maxBody {
		http.Error(w, "the notification is larger than 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		http.Error(w, "the notification is larger than 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "reading the notification: "+err.Error(), http.StatusBadRequest)
		return
	}
	target, ok := h.Lookup(name)
	if !ok || len(target.Token) == 0 {
		// The same answer whether the repository is unknown or has no
		// token, so that the endpoint tells strangers nothing.
		klog.V(2).InfoS("Push notification for a repository without a receiver", "repository", name, "known", ok)
		http.Error(w, "no receiver for this repository", http.StatusNotFound)
		return
	}
	if err := Verify(r.Header, body, target.Token); err != nil {
		klog.V(2).InfoS("Push notification refused", "repository", name, "reason", err.Error())
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	h.schedule(name, target.Refresh)
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprintf(w, "refresh of %s scheduled\n", name)
}

// errNoCredential says which headers carry the token.
var errNoCredential = errors.New("no X-Hub-Signature-256, X-Gitlab-Token or Authorization: Bearer header")

// Verify checks a notification against token, in constant time.
func Verify(header http.Header, body, token []byte) error {
	if sig := header.Get("X-Hub-Signature-256"); sig != "" {
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		if err != nil || !strings.HasPrefix(sig, "sha256=") {
			return errors.New("X-Hub-Signature-256 must be sha256=<hex>")
		}
		mac := hmac.New(sha256.New, token)
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return errors.New("the X-Hub-Signature-256 signature does not match")
		}
		return nil
	}
	if t := header.Get("X-Gitlab-Token"); t != "" {
		return equalToken(t, token)
	}
	if auth := header.Get("Authorization"); auth != "" {
		t, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return errNoCredential
		}
		return equalToken(t, token)
	}
	return errNoCredential
}

func equalToken(got string, want []byte) error {
	if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
		return errors.New("the token does not match")
	}
	return nil
}

// schedule runs refresh in the background, coalescing notifications that
// arrive while one runs into a single further refresh.
func (h *Handler) schedule(name string, refresh func(context.Context) error) {
	h.mu.Lock()
	if h.state == nil {
		h.state = map[string]*refreshState{}
	}
	st, ok := h.state[name]
	if !ok {
		st = &refreshState{}
		h.state[name] = st
	}
	st.refresh = refresh
	if st.running {
		st.again = true
		h.mu.Unlock()
		return
	}
	st.running = true
	h.mu.Unlock()
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	go func() {
		for {
			h.mu.Lock()
			refresh := st.refresh
			h.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			if err := refresh(ctx); err != nil {
				klog.ErrorS(err, "Refresh after a push notification", "repository", name)
			}
			cancel()
			h.mu.Lock()
			if !st.again {
				st.running = false
				h.mu.Unlock()
				return
			}
			st.again = false
			h.mu.Unlock()
		}
	}()
}
