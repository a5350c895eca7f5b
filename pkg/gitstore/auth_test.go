package gitstore

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func hashed(host string) string {
	salt := []byte("0123456789abcdefghij")
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return "|1|" + base64.StdEncoding.EncodeToString(salt) + "|" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestHostKeyCallbackVerifiesEveryHost(t *testing.T) {
	known, other, hashedKey := newHostKey(t), newHostKey(t), newHostKey(t)
	file := "[git.example.com]:2222 " + string(ssh.MarshalAuthorizedKey(known)) +
		"github.example.com " + string(ssh.MarshalAuthorizedKey(known)) +
		hashed("secret.example.com") + " " + string(ssh.MarshalAuthorizedKey(hashedKey))
	cb, err := hostKeyCallback([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 2222}
	cases := []struct {
		name, host string
		key        ssh.PublicKey
		want       string
	}{
		{"accepted: known host on a port", "git.example.com:2222", known, ""},
		{"accepted: known host on port 22", "github.example.com:22", known, ""},
		{"accepted: hashed entry", "secret.example.com:22", hashedKey, ""},
		{"refused: host key changed", "git.example.com:2222", other, "does not match"},
		{"refused: unknown host", "evil.example.com:22", known, "is not in 'known_hosts'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := cb(tc.host, addr, tc.key)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("callback(%s) = %v, want %q", tc.host, err, tc.want)
			}
		})
	}
}

func TestAuthMethod(t *testing.T) {
	if a, err := authMethod("https://git.example.com/x.git", Credentials{BearerToken: "t"}); err != nil || a.(*http.TokenAuth).Token != "t" {
		t.Errorf("bearer token: %v %v", a, err)
	}
	if a, err := authMethod("https://git.example.com/x.git", Credentials{Username: "u", Password: "p"}); err != nil || a.(*http.BasicAuth).Username != "u" {
		t.Errorf("basic auth: %v %v", a, err)
	}
	for _, tc := range []struct{ url, want string }{
		{"ssh://git@git.example.com/x.git", "'known_hosts' is required"},
		{"ftp://git.example.com/x.git", "not supported"},
	} {
		if _, err := authMethod(tc.url, Credentials{Identity: []byte("key")}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("authMethod(%s) = %v, want %q", tc.url, err, tc.want)
		}
	}
	if s := (Credentials{Password: "hunter2"}).String(); strings.Contains(s, "hunter2") {
		t.Errorf("Credentials print their password: %s", s)
	}
}
