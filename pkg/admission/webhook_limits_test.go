package admission

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// endless is a body that never ends and counts what was read from it.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += len(p)
	return len(p), nil
}

func TestWebhookBodyLimit(t *testing.T) {
	h := &Handler{Policy: DefaultPolicy(), Owners: lookup, Authorizer: onlyBob}
	valid := review("UPDATE", "alice", false, nil, nil)
	padded := func(size int) io.Reader { // valid JSON, padded with spaces to size bytes
		return io.MultiReader(bytes.NewReader(valid), bytes.NewReader(bytes.Repeat([]byte(" "), size-len(valid))))
	}
	tests := []struct {
		name string
		body io.Reader
		want int
	}{
		{"allowed: a review of exactly the limit", padded(maxReviewBytes), http.StatusOK},
		{"refused with 413: one byte over the limit", padded(maxReviewBytes + 1), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", tt.body))
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %.200s", rec.Code, tt.want, rec.Body.String())
			}
		})
	}
	t.Run("refused with 413: an endless body is read only up to the limit", func(t *testing.T) {
		body := &endless{}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", body))
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %.200s", rec.Code, rec.Body.String())
		}
		if body.read > maxReviewBytes+64<<10 {
			t.Fatalf("read %d bytes of an endless body, want at most the limit (%d) and a buffer", body.read, maxReviewBytes)
		}
	})
}
