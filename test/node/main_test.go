//go:build node

// Package node is the suite on a real node (make test-node): the local
// stack with containerd, the kubelet, kube-proxy and kube-scheduler, gitgate
// installed with `helm install` of charts/gitgate and running in pods, the
// example fleet's workloads running in pods, and gitgate losing pods while
// writers and a reader use it. It needs root; the machine is left as it was
// found, which TestMain checks.
package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/localstack"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

var stack *localstack.Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// One directory for every run, outside any checkout: a run killed
	// before its teardown (go test's -timeout, a CI job cancelled) is
	// cleaned up by the next, whichever clone it runs from, before the
	// machine's state is recorded. It is under /var/lib, where only root
	// makes entries, because its records are acted on as root: a directory
	// under /tmp could be prepared, or swapped for a symlink, by any user.
	dir := "/var/lib/gitgate-node-suite"
	if err := localstack.CleanUpStale(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "cleaning up after an earlier run:", err)
		return 1
	}
	before, err := localstack.SnapshotMachine(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "recording the machine's state:", err)
		return 1
	}
	started := time.Now()
	stack, err = localstack.Start(ctx, localstack.Options{RepoRoot: root, Dir: dir, Node: true,
		PollInterval: time.Second, FluxInterval: 2 * time.Second, StartTimeout: 8 * time.Minute})
	code := 0
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local stack with a node:", err)
		code = 1
	} else {
		fmt.Printf("stack with a node and the chart installed in %s\n", time.Since(started).Round(time.Second))
		// Interrupted (Ctrl-C, a cancelled CI job): tear the node down
		// before going, rather than leave it to the next run.
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-signals
			fmt.Fprintf(os.Stderr, "%v: tearing the node down\n", sig)
			if err := stack.StopNode(); err != nil {
				fmt.Fprintln(os.Stderr, "the node's teardown:", err)
			}
			os.Exit(1)
		}()
		code = m.Run()
		signal.Stop(signals)
	}
	if code != 0 {
		for _, name := range []string{"kubelet", "containerd", "kube-apiserver"} {
			out, _ := exec.Command("tail", "-n", "30", filepath.Join(dir, "logs", name+".log")).Output()
			fmt.Fprintf(os.Stderr, "--- last lines of %s ---\n%s\n", name, out)
		}
	}
	stopped := time.Now()
	if stack != nil {
		if err := stack.StopNode(); err != nil {
			fmt.Fprintln(os.Stderr, "the node's teardown:", err)
			code = 1
		}
		if left := stack.Running(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "processes still running after Stop: %v\n", left)
			code = 1
		}
	}
	// The machine is as the suite found it: sysctls, iptables chains,
	// nftables tables, interfaces, mounts, host paths and cgroups.
	after, err := localstack.SnapshotMachine(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "recording the machine's state:", err)
		return 1
	}
	if diff := after.Diff(before); len(diff) > 0 {
		fmt.Fprintf(os.Stderr, "the node left the machine changed:\n  %s\n", strings.Join(diff, "\n  "))
		code = 1
	} else {
		fmt.Printf("teardown in %s; the machine is as it was (sysctls, iptables, nftables, links, mounts, paths, cgroups)\n", time.Since(stopped).Round(time.Second))
	}
	if mods := after.ModulesAdded(before); len(mods) > 0 {
		fmt.Printf("kernel modules the node loaded, left loaded: %s\n", strings.Join(mods, " "))
	}
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "the stack's files are kept in", dir)
	}
	return code
}

// kubectl runs kubectl as a user and fails the test on error.
func kubectl(t testing.TB, user string, args ...string) string {
	t.Helper()
	out, err := stack.Kubectl(context.Background(), user, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// eventually polls check until it returns "" or timeout passes; check
// returns what is still wrong.
func eventually(t testing.TB, what string, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := check()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// clientset is the generated clientset acting as a kubeconfig context's
// user through kube-apiserver (and so through the aggregator).
func clientset(t testing.TB, user string) *versioned.Clientset {
	t.Helper()
	cfg, err := stack.RESTConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// fleet is a clone of the example fleet's repository.
type fleet struct {
	t   testing.TB
	dir string
}

func cloneFleet(t testing.TB) *fleet {
	t.Helper()
	f := &fleet{t: t, dir: t.TempDir()}
	f.git("clone", "-q", stack.GitURL, f.dir)
	f.git("config", "user.name", "Node Test")
	f.git("config", "user.email", "node-test@example.com")
	return f
}

func (f *fleet) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "GIT_SSL_CAINFO="+stack.CAFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// overlay is an environment's kustomization with this app tag (the proxy
// image as the example fleet has it).
func overlay(env, tag string) string {
	return fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop-%s
resources:
- ../../base
images:
- name: app
  newName: %s
  newTag: %s
- name: proxy
  newName: registry.example.com/proxy
  newTag: "1.0"
`, env, localstack.AppImage, tag)
}

// commitTags commits one app tag per commit into env's overlay, pushes
// them at once, and returns the commits, oldest first.
func (f *fleet) commitTags(env string, tags ...string) []string {
	f.t.Helper()
	f.git("fetch", "-q", "origin")
	f.git("checkout", "-q", "-B", "main", "origin/main")
	var revs []string
	for _, tag := range tags {
		if err := os.WriteFile(filepath.Join(f.dir, "overlays", env, "kustomization.yaml"), []byte(overlay(env, tag)), 0o644); err != nil {
			f.t.Fatal(err)
		}
		f.git("commit", "-q", "-am", "Build "+tag+" for "+env)
		revs = append(revs, f.git("rev-parse", "HEAD"))
	}
	f.git("push", "-q", "origin", "main")
	return revs
}

// trailers counts the Gitgate-Promotion trailers on main per promotion name.
func (f *fleet) trailers() map[string]int {
	f.t.Helper()
	f.git("fetch", "-q", "origin")
	out := f.git("log", "--format=%(trailers:key=Gitgate-Promotion,valueonly,separator=%x2C)", "origin/main")
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if name := strings.TrimSpace(line); name != "" {
			counts[name]++
		}
	}
	return counts
}
