package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPushNotificationsAreAuthenticated posts push notifications the way
// GitHub and GitLab send them to the receiver, over TLS.
func TestPushNotificationsAreAuthenticated(t *testing.T) {
	client := stackClient(t)
	body := `{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}`
	mac := hmac.New(sha256.New, []byte(stack.WebhookToken))
	mac.Write([]byte(body))
	tests := []struct {
		name, url string
		header    map[string]string
		want      int
	}{
		{"GitHub", stack.ReceiverURL, map[string]string{"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)), "X-GitHub-Event": "push"}, http.StatusAccepted},
		{"GitLab", stack.ReceiverURL, map[string]string{"X-Gitlab-Token": stack.WebhookToken, "X-Gitlab-Event": "Push Hook"}, http.StatusAccepted},
		{"wrong token", stack.ReceiverURL, map[string]string{"X-Gitlab-Token": "not-it"}, http.StatusUnauthorized},
		{"unsigned", stack.ReceiverURL, nil, http.StatusUnauthorized},
		{"unknown repository", strings.Replace(stack.ReceiverURL, "shop-fleet", "other", 1), map[string]string{"X-Gitlab-Token": stack.WebhookToken}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, msg)
			}
		})
	}
}
