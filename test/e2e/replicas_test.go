package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
)

// replicaClient is a clientset acting as user straight against one
// gitgate replica (client certificate, no kube-apiserver in between), so
// that a test decides which replica answers.
func replicaClient(t *testing.T, user, url string) *versioned.Clientset {
	t.Helper()
	cfg := restConfig(t, user)
	cfg.Host = url
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func newPromotion(name, env, from, revision string) *v1alpha1.Promotion {
	return &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PromotionSpec{Environment: env, From: from, Revision: revision}}
}

// watchedPromotion is what a watcher sees of an event.
func watchedPromotion(ev watch.Event) string {
	p, ok := ev.Object.(*v1alpha1.Promotion)
	if !ok {
		return fmt.Sprintf("%s %T", ev.Type, ev.Object)
	}
	return fmt.Sprintf("%s %s@%s", ev.Type, p.Name, p.ResourceVersion)
}

// collect reads n events from w, then anything else that arrives within a
// second (which a test then finds as an extra event).
//
// Only the events that come from Git count: a Promotion's Applied and
// Healthy are derived from Flux when read, and a replica announces their
// changes as MODIFIED at its current resourceVersion, which a resumed watch
// does not replay (docs/decisions.md, "Watches hear of status that changes
// outside Git"). These promotions change in Git only by being added.
func collect(t *testing.T, w watch.Interface, n int) []string {
	t.Helper()
	var got []string
	add := func(ev watch.Event) {
		if ev.Type != watch.Modified {
			got = append(got, watchedPromotion(ev))
		}
	}
	timeout := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch ended after %v", got)
			}
			add(ev)
		case <-timeout:
			t.Fatalf("the watch delivered %v, want %d events", got, n)
		}
	}
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return got
			}
			add(ev)
		case <-time.After(time.Second):
			return got
		}
	}
}

// TestTwoReplicasBehindOneAPIService runs a second gitgate-apiserver on the
// fleet and routes the APIService to both (localstack.Replicas). Replicas
// agree because every read without a resourceVersion and every write
// checks the remote first, and because resourceVersions come from Git.
func TestTwoReplicasBehindOneAPIService(t *testing.T) {
	ctx := context.Background()
	replicas, err := stack.StartReplicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := replicas.Stop(ctx); err != nil {
			t.Errorf("putting the stack back to one replica: %v", err)
		}
	})
	fleet := cloneFleet(t)
	run := time.Now().Unix() % 100000
	clients := []*versioned.Clientset{replicaClient(t, "alice", replicas.URLs[0]), replicaClient(t, "alice", replicas.URLs[1])}

	t.Run("a promotion created on one replica is there on the other at once", func(t *testing.T) {
		for i := range 10 {
			on, other := clients[i%2], clients[(i+1)%2]
			tag := fleet.pushTag("dev", "development-30.")
			name := fmt.Sprintf("replicas-%d-get-%d", run, i)
			if _, err := on.GitgateV1alpha1().Promotions("shop").Create(ctx, newPromotion(name, "test", "dev", ""), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s on replica %d: %v", name, i%2, err)
			}
			p, err := other.GitgateV1alpha1().Promotions("shop").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get %s on replica %d right after its create on replica %d: %v", name, (i+1)%2, i%2, err)
			}
			if len(p.Status.Changes) != 1 || p.Status.Changes[0].To != tag {
				t.Fatalf("%s on the other replica carries %+v, want app to %s", name, p.Status.Changes, tag)
			}
			env, err := other.GitgateV1alpha1().Environments("shop").Get(ctx, "test", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := imageTag(env, "app"); got != tag {
				t.Fatalf("test on the other replica runs app %s right after %s, want %s", got, name, tag)
			}
		}
	})

	t.Run("a watch resumed on the other replica misses and repeats nothing", func(t *testing.T) {
		// The second replica reads nothing while four promotions land
		// through the first, then catches up in one refresh of eight commits.
		list, err := clients[0].GitgateV1alpha1().Promotions("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := replicas.PauseSecond(); err != nil {
			t.Fatal(err)
		}
		paused := true
		defer func() {
			if paused {
				_ = replicas.ResumeSecond()
			}
		}()
		w, err := clients[0].GitgateV1alpha1().Promotions("shop").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var names []string
		for i := range 4 {
			fleet.pushTag("dev", "development-31.")
			name := fmt.Sprintf("replicas-%d-watch-%d", run, i)
			if _, err := clients[0].GitgateV1alpha1().Promotions("shop").Create(ctx, newPromotion(name, "test", "dev", ""), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		seen := collect(t, w, 4)
		for i, name := range names {
			if !strings.HasPrefix(seen[i], "ADDED "+name+"@") {
				t.Fatalf("the first replica's watch delivered %v, want ADDED for each of %v", seen, names)
			}
		}
		if len(seen) != 4 {
			t.Fatalf("the first replica's watch delivered %v, want 4 events", seen)
		}
		if err := replicas.ResumeSecond(); err != nil {
			t.Fatal(err)
		}
		paused = false
		// A client that saw the second promotion resumes on either replica.
		_, from, _ := strings.Cut(seen[1], "@")
		for n, c := range clients {
			resumed, err := c.GitgateV1alpha1().Promotions("shop").Watch(ctx, metav1.ListOptions{ResourceVersion: from})
			if err != nil {
				t.Fatalf("resuming on replica %d from %s: %v", n, from, err)
			}
			got := collect(t, resumed, 2)
			resumed.Stop()
			if fmt.Sprint(got) != fmt.Sprint(seen[2:]) {
				t.Fatalf("resumed on replica %d from %s: %v, want exactly %v", n, from, got, seen[2:])
			}
		}
	})

	t.Run("killing a replica during promotions from two writers loses and repeats nothing", func(t *testing.T) {
		// 40 revisions of dev, each with its own tag; each writer promotes
		// half of them into test through kube-apiserver, which the front
		// spreads over both replicas.
		revs := fleet.devRevisions(40, fmt.Sprintf("development-32.%d.", run))
		served := replicas.Served()
		writers := []*versioned.Clientset{clientset(t, "alice"), clientset(t, "bob")}
		var mu sync.Mutex
		acked := map[string]bool{}
		failed := map[string]string{}
		var wg sync.WaitGroup
		killed := make(chan struct{})
		var kill sync.Once
		for n, cs := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := n; i < len(revs); i += 2 {
					name := fmt.Sprintf("replicas-%d-kill-%d", run, i)
					_, err := cs.GitgateV1alpha1().Promotions("shop").Create(ctx, newPromotion(name, "test", "dev", revs[i]), metav1.CreateOptions{})
					mu.Lock()
					if err == nil {
						acked[name] = true
					} else {
						failed[name] = err.Error()
					}
					if len(acked) >= 10 {
						kill.Do(func() {
							go func() {
								if err := replicas.KillSecond(); err != nil {
									t.Error(err)
								}
								close(killed)
							}()
						})
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		<-killed
		after := replicas.Served()
		if after[0] == served[0] || after[1] == served[1] {
			t.Fatalf("requests served before %v, after %v: both replicas were to serve the writers", served, after)
		}
		fleet.git(fleet.dir, "fetch", "-q", "origin")
		log := fleet.git(fleet.dir, "log", "--format=%(trailers:key=Gitgate-Promotion,valueonly,separator=%x2C)", "origin/main")
		inGit := map[string]int{}
		for _, line := range strings.Split(log, "\n") {
			if name := strings.TrimSpace(line); strings.HasPrefix(name, fmt.Sprintf("replicas-%d-kill-", run)) {
				inGit[name]++
			}
		}
		for name := range acked {
			if inGit[name] != 1 {
				t.Errorf("acknowledged %s is in Git %d times, want once", name, inGit[name])
			}
		}
		for name, n := range inGit {
			if n != 1 {
				t.Errorf("%s is in Git %d times", name, n)
			}
			if !acked[name] {
				t.Logf("%s landed although its request failed (%s): the replica died after the push", name, failed[name])
			}
		}
		for name, why := range failed {
			if inGit[name] == 0 {
				t.Logf("%s failed and is not in Git: %s", name, why)
			}
		}
		if len(acked) < 30 {
			t.Errorf("%d of 40 promotions acknowledged, want most of them: %v", len(acked), failed)
		}
		t.Logf("%d of 40 acknowledged, %d in Git; requests served by each replica before %v, after %v", len(acked), len(inGit), served, after)
	})
}

// devRevisions commits n new app tags into dev's overlay, one commit each,
// and pushes them at once; it returns the commits, oldest first.
func (c *fleetClone) devRevisions(n int, prefix string) []string {
	c.t.Helper()
	c.git(c.dir, "fetch", "-q", "origin")
	c.git(c.dir, "checkout", "-q", "-B", "main", "origin/main")
	file := filepath.Join(c.dir, "overlays", "dev", "kustomization.yaml")
	var revs []string
	for i := range n {
		content := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-dev\nresources:\n- ../../base\nimages:\n- name: app\n  newName: registry.example.com/app\n  newTag: %s%d\n", prefix, i)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			c.t.Fatal(err)
		}
		c.git(c.dir, "commit", "-q", "-am", fmt.Sprintf("Build %s%d for dev", prefix, i))
		revs = append(revs, c.git(c.dir, "rev-parse", "HEAD"))
	}
	c.git(c.dir, "push", "-q", "origin", "main")
	return revs
}

// imageTag is the tag an Environment's status reports for an image.
func imageTag(env *v1alpha1.Environment, name string) string {
	for _, img := range env.Status.Images {
		if img.Name == name {
			return img.Tag
		}
	}
	return ""
}
