package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const token = "s3cr3t-token"

func sign(body string) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestHandler(t *testing.T) {
	body := `{"ref":"refs/heads/main"}`
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		want               int
		refreshed          bool
	}{
		{"GitHub signature", "POST", "/hooks/fleet", map[string]string{"X-Hub-Signature-256": sign(body)}, body, 202, true},
		{"GitLab token", "POST", "/hooks/fleet", map[string]string{"X-Gitlab-Token": token}, body, 202, true},
		{"bearer token", "POST", "/hooks/fleet", map[string]string{"Authorization": "Bearer " + token}, body, 202, true},
		{"signature of another body", "POST", "/hooks/fleet", map[string]string{"X-Hub-Signature-256": sign("{}")}, body, 401, false},
		{"malformed signature", "POST", "/hooks/fleet", map[string]string{"X-Hub-Signature-256": "md5=abc"}, body, 401, false},
		{"wrong token", "POST", "/hooks/fleet", map[string]string{"X-Gitlab-Token": "guess"}, body, 401, false},
		{"basic auth", "POST", "/hooks/fleet", map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}, body, 401, false},
		{"no credential", "POST", "/hooks/fleet", nil, body, 401, false},
		{"unknown repository", "POST", "/hooks/other", map[string]string{"X-Gitlab-Token": token}, body, 404, false},
		{"repository without token", "POST", "/hooks/tokenless", map[string]string{"X-Gitlab-Token": ""}, body, 404, false},
		{"nested path", "POST", "/hooks/fleet/x", map[string]string{"X-Gitlab-Token": token}, body, 404, false},
		{"GET", "GET", "/hooks/fleet", map[string]string{"X-Gitlab-Token": token}, "", 405, false},
		{"too large", "POST", "/hooks/fleet", map[string]string{"X-Gitlab-Token": token}, strings.Repeat("x", maxBody+1), 413, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refreshed := make(chan struct{}, 1)
			h := &Handler{Lookup: func(name string) (Target, bool) {
				switch name {
				case "fleet":
					return Target{Token: []byte(token), Refresh: func(context.Context) error { refreshed <- struct{}{}; return nil }}, true
				case "tokenless":
					return Target{Refresh: func(context.Context) error { return nil }}, true
				}
				return Target{}, false
			}}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.refreshed {
				select {
				case <-refreshed:
				case <-time.After(5 * time.Second):
					t.Fatal("no refresh after an accepted notification")
				}
			} else if len(refreshed) > 0 {
				t.Fatal("a refused notification refreshed")
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Fatal("the answer holds the token")
			}
		})
	}
}

func TestNotificationsCoalesce(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	h := &Handler{Lookup: func(string) (Target, bool) {
		return Target{Token: []byte(token), Refresh: func(context.Context) error {
			runs.Add(1)
			<-release
			return nil
		}}, true
	}}
	notify := func() {
		req := httptest.NewRequest(http.MethodPost, "/hooks/fleet", nil)
		req.Header.Set("X-Gitlab-Token", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d", rec.Code)
		}
	}
	notify() // starts a refresh, which blocks
	for runs.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		notify() // all queue as one more refresh
	}
	release <- struct{}{} // the first ends; the queued one starts
	release <- struct{}{} // and ends
	h.mu.Lock()
	for h.state["fleet"].running {
		h.mu.Unlock()
		time.Sleep(time.Millisecond)
		h.mu.Lock()
	}
	h.mu.Unlock()
	if got := runs.Load(); got != 2 {
		t.Fatalf("%d refreshes for 11 notifications during one refresh, want 2", got)
	}
}

// endless is a body of unknown length that never ends and counts what was read.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	e.read += len(p)
	return len(p), nil
}

func TestHandlerReadsAnUnannouncedBodyOnlyUpToTheLimit(t *testing.T) {
	h := &Handler{Lookup: func(string) (Target, bool) {
		t.Error("a body over the limit was looked up")
		return Target{}, false
	}}
	body := &endless{}
	req := httptest.NewRequest(http.MethodPost, "/hooks/fleet", body)
	req.ContentLength = -1 // chunked: the length is not known in advance
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
	}
	if body.read > maxBody+64<<10 {
		t.Fatalf("read %d bytes of an endless body, want at most the limit (%d) and a buffer", body.read, maxBody)
	}
}
