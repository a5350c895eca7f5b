package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fleetClone is a git CLI clone of the fleet: how a person (or CI) sees the
// repository, and how commits are pushed "by others".
type fleetClone struct {
	t   testing.TB
	dir string
	// ns is the namespace gitgate serves the fleet's environments in.
	ns string
}

var tagCounter atomic.Int64

// cloneFleet clones the stack's example fleet, served in namespace shop
// and applied by Flux: what every test shares.
func cloneFleet(t testing.TB) *fleetClone {
	t.Helper()
	return cloneOf(t, stack.GitURL, "shop")
}

// newFleet gives the test a fleet of its own: a copy of the example fleet
// in a new repository, served in a new namespace with the example team
// RBAC, unbound and deleted when the test ends. No Flux applies it, and no
// other test sees its commits, promotions or environments, so tests on
// their own fleets may run in parallel.
func newFleet(t testing.TB) *fleetClone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fleet, err := stack.NewFleet(ctx, uniqueName("fleet"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.RemoveFleet(context.Background(), fleet); err != nil {
			t.Errorf("removing fleet %s: %v", fleet.Name, err)
		}
	})
	return cloneOf(t, fleet.GitURL, fleet.Name)
}

func cloneOf(t testing.TB, url, namespace string) *fleetClone {
	t.Helper()
	c := &fleetClone{t: t, dir: filepath.Join(t.TempDir(), "fleet"), ns: namespace}
	c.git("", "clone", "-q", url, c.dir)
	c.git(c.dir, "config", "user.name", "someone")
	c.git(c.dir, "config", "user.email", "someone@example.com")
	return c
}

func (c *fleetClone) git(dir string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_SSL_CAINFO="+stack.CAFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// head fetches and returns the remote main's commit.
func (c *fleetClone) head() string {
	c.git(c.dir, "fetch", "-q", "origin")
	return c.git(c.dir, "rev-parse", "origin/main")
}

// setTag commits a new app tag into an environment's overlay, as someone
// pushing straight to Git, and waits until gitgate reports it.
func (c *fleetClone) setTag(env, prefix string) string {
	c.t.Helper()
	tag := c.pushTag(env, prefix)
	eventually(c.t, env+" shows tag "+tag, 30*time.Second, func() string {
		out, _ := stack.Kubectl(context.Background(), "admin", "get", "environment", env, "-n", c.ns,
			"-o", `jsonpath={.status.images[?(@.name=="app")].tag}`)
		if strings.TrimSpace(out) != tag {
			return "tag is " + out
		}
		return ""
	})
	return tag
}

// commitFiles writes files (an empty content removes the file) into the
// fleet's main branch as one commit, and pushes it.
func (c *fleetClone) commitFiles(message string, files map[string]string) string {
	c.t.Helper()
	c.git(c.dir, "fetch", "-q", "origin")
	c.git(c.dir, "checkout", "-q", "-B", "main", "origin/main")
	for name, content := range files {
		p := filepath.Join(c.dir, name)
		if content == "" {
			c.git(c.dir, "rm", "-q", name)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			c.t.Fatal(err)
		}
		c.git(c.dir, "add", name)
	}
	c.git(c.dir, "commit", "-q", "-m", message)
	c.git(c.dir, "push", "-q", "origin", "main")
	return c.git(c.dir, "rev-parse", "HEAD")
}
