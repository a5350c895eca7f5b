package gitstore

import (
	"errors"
	"strings"
	"testing"
)

func TestRemoteErrorsCarryNoCredential(t *testing.T) {
	r, err := Open(Options{URL: "https://fleet:url-secret%2F1@git.example.com/fleet.git", Credentials: Credentials{Username: "fleet", Password: "creds-secret", BearerToken: "token-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, cause string }{
		{"removed: the URL with its user information", `Get "https://fleet:url-secret%2F1@git.example.com/fleet.git/info/refs": EOF`},
		{"removed: another URL's user information", `redirected to https://someone:else@evil.example.com/`},
		{"removed: the password quoted by a server", "500: bad credentials fleet:creds-secret"},
		{"removed: the unescaped URL password", "url-secret/1 rejected"},
		{"removed: a bearer token", "Authorization: Bearer token-secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.fail(ErrUnavailable, "fetching "+r.URL(), errors.New(tc.cause))
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%v does not wrap ErrUnavailable", err)
			}
			for _, secret := range []string{"url-secret", "creds-secret", "token-secret", "someone:else"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds %q", err, secret)
				}
			}
		})
	}
	if long := r.fail(ErrUnavailable, "x", errors.New(strings.Repeat("a", 10_000))); len(long.Error()) > maxErrorLength+10 {
		t.Errorf("a 10,000-character answer makes a %d-character error", len(long.Error()))
	}
}
