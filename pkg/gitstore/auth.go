package gitstore

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Credentials authenticate to a remote. The fields follow Flux's Secret
// keys: username/password, bearerToken, identity + known_hosts, ca.crt.
type Credentials struct {
	// Username and Password are HTTP basic auth (Password may be a token).
	Username string
	Password string
	// BearerToken is sent as an HTTP Authorization: Bearer header.
	BearerToken string
	// CAFile is a PEM bundle trusted for https, added to the system pool.
	CAFile []byte
	// Identity is a PEM private key for ssh.
	Identity []byte
	// KnownHosts is an OpenSSH known_hosts file; ssh remotes require it.
	KnownHosts []byte
}

// String never shows secrets.
func (c Credentials) String() string { return "gitstore.Credentials{redacted}" }

// authMethod returns the go-git auth for rawURL.
func authMethod(rawURL string, c Credentials) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("repository URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		switch {
		case c.BearerToken != "":
			return &http.TokenAuth{Token: c.BearerToken}, nil
		case c.Username != "" || c.Password != "":
			return &http.BasicAuth{Username: c.Username, Password: c.Password}, nil
		}
		return nil, nil
	case "ssh":
		if len(c.KnownHosts) == 0 {
			return nil, errors.New("ssh repository: 'known_hosts' is required in the credentials Secret; host keys are always verified")
		}
		hostKeys, err := hostKeyCallback(c.KnownHosts)
		if err != nil {
			return nil, err
		}
		if len(c.Identity) == 0 {
			return nil, errors.New("ssh repository: 'identity' (a PEM private key) is required in the credentials Secret")
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, c.Identity, c.Password)
		if err != nil {
			return nil, fmt.Errorf("ssh repository: parsing 'identity': %w", err)
		}
		keys.HostKeyCallback = hostKeys
		return keys, nil
	case "file":
		return nil, nil
	default:
		return nil, fmt.Errorf("repository URL scheme %q is not supported: use https, ssh or file", ep.Protocol)
	}
}

// hostKeyCallback verifies a server's host key against an OpenSSH
// known_hosts file held in memory, plain or hashed entries alike.
func hostKeyCallback(knownHostsFile []byte) (ssh.HostKeyCallback, error) {
	type entry struct {
		hosts []string
		key   ssh.PublicKey
	}
	var entries []entry
	rest := knownHostsFile
	for len(rest) > 0 {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("parsing 'known_hosts': %w", err)
		}
		rest = next
		if marker != "" { // @cert-authority and @revoked are not supported
			continue
		}
		entries = append(entries, entry{hosts: hosts, key: key})
	}
	if len(entries) == 0 {
		return nil, errors.New("'known_hosts' holds no host key")
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		names := []string{knownhosts.Normalize(hostname)}
		if remote != nil {
			names = append(names, knownhosts.Normalize(remote.String()))
		}
		hostKnown := false
		for _, e := range entries {
			if !matchesAny(e.hosts, names) {
				continue
			}
			hostKnown = true
			if e.key.Type() == key.Type() && string(e.key.Marshal()) == string(key.Marshal()) {
				return nil
			}
		}
		if hostKnown {
			return fmt.Errorf("ssh host key of %s does not match 'known_hosts': refusing to connect", hostname)
		}
		return fmt.Errorf("ssh host %s is not in 'known_hosts': add its key to the credentials Secret", hostname)
	}, nil
}

func matchesAny(patterns, names []string) bool {
	for _, p := range patterns {
		for _, n := range names {
			if hostMatches(p, n) {
				return true
			}
		}
	}
	return false
}

// hostMatches compares one known_hosts host pattern with a normalized
// host name, including hashed |1|salt|hash patterns.
func hostMatches(pattern, name string) bool {
	if strings.HasPrefix(pattern, "|1|") {
		parts := strings.Split(pattern[3:], "|")
		if len(parts) != 2 {
			return false
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[0])
		want, err2 := base64.StdEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(name))
		return hmac.Equal(mac.Sum(nil), want)
	}
	return pattern == name
}
