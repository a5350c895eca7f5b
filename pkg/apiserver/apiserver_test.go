package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
	"github.com/gitgate-dev/gitgate/pkg/generated/informers/externalversions"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// testAuthorizer stands in for RBAC (the end-to-end tests use the real
// one): everyone may do everything, except that only bob may promote into prod.
var testAuthorizer = authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetVerb() == "promote" && a.GetName() == "prod" && a.GetUser().GetName() != "bob" {
		return authorizer.DecisionDeny, "only release managers promote into prod", nil
	}
	return authorizer.DecisionAllow, "", nil
})

// inProcess runs gitgate's API server in the test process against a real
// Git server, and returns clients for alice and bob plus a git CLI clone.
type inProcess struct {
	alice, bob *versioned.Clientset
	clone      string
}

func startInProcess(t *testing.T) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	root := t.TempDir()
	git, err := gitserver.Start(gitserver.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = git.Stop() })
	if _, err := git.InitRepository(ctx, "fleet", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(t.TempDir(), "config.yaml")
	config := fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [shop], pollInterval: 1s}\n", git.URL("fleet"))
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	manager := repositories.New(repositories.Options{ConfigPath: configFile})
	if err := manager.Start(ctx); err != nil {
		t.Fatal(err)
	}

	scheme, codecs := NewScheme()
	generic := NewRecommendedConfig(scheme, codecs)
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serving.BindAddress, serving.BindPort, serving.Listener = net.ParseIP("127.0.0.1"), listener.Addr().(*net.TCPAddr).Port, listener
	serving.ServerCert.CertDirectory = t.TempDir()
	if err := serving.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if err := serving.ApplyTo(&generic.SecureServing, &generic.LoopbackClientConfig); err != nil {
		t.Fatal(err)
	}
	generic.Authentication.Authenticator = authenticatorfactory.NewFromTokens(map[string]*user.DefaultInfo{
		"alice-token": {Name: "alice", Groups: []string{"shop-developers", user.AllAuthenticated}},
		"bob-token":   {Name: "bob", Groups: []string{"shop-release-managers", user.AllAuthenticated}},
	}, nil)
	generic.Authorization.Authorizer = testAuthorizer
	server, err := (&Config{GenericConfig: generic, ExtraConfig: ExtraConfig{Repositories: manager, Scheme: scheme, Codecs: codecs}}).Complete().New()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = server.GenericAPIServer.PrepareRun().RunWithContext(ctx) }()

	client := func(token string) *versioned.Clientset {
		cfg := rest.CopyConfig(generic.LoopbackClientConfig)
		cfg.BearerToken = token
		cs, err := versioned.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	p := &inProcess{alice: client("alice-token"), bob: client("bob-token"), clone: filepath.Join(t.TempDir(), "clone")}
	waitFor(t, "the server to serve environments", func() error {
		_, err := p.alice.GitgateV1alpha1().Environments("shop").Get(ctx, "prod", metav1.GetOptions{})
		return err
	})
	if out, err := exec.Command("git", "clone", "-q", git.URL("fleet"), p.clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	return p
}

func (p *inProcess) git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", p.clone}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (p *inProcess) head(t *testing.T) string {
	p.git(t, "fetch", "-q", "origin")
	return p.git(t, "rev-parse", "origin/main")
}

func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func promotionTo(name, env string) *v1alpha1.Promotion {
	return &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.PromotionSpec{Environment: env}}
}

func TestServerInProcess(t *testing.T) {
	p := startInProcess(t)
	ctx := context.Background()
	promotions := p.alice.GitgateV1alpha1().Promotions("shop")

	t.Run("environments are commits of their definition files", func(t *testing.T) {
		envs := p.alice.GitgateV1alpha1().Environments("shop")
		// Every environment owns its own overlay: staging gets one first.
		p.git(t, "checkout", "-q", "-B", "main", "origin/main")
		if err := os.MkdirAll(filepath.Join(p.clone, "overlays", "staging"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.clone, "overlays", "staging", "kustomization.yaml"), []byte("resources:\n- ../../base\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p.git(t, "add", "overlays/staging")
		p.git(t, "-c", "user.name=someone", "-c", "user.email=someone@example.com", "commit", "-q", "-m", "Add the staging overlay")
		p.git(t, "push", "-q", "origin", "main")
		staging := &v1alpha1.Environment{ObjectMeta: metav1.ObjectMeta{Name: "staging", Labels: map[string]string{"tier": "pre"}},
			Spec: v1alpha1.EnvironmentSpec{Path: "overlays/staging", PromotesFrom: "test"}}
		waitFor(t, "the server to read the staging overlay", func() error {
			_, err := envs.Create(ctx, staging, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		})
		if _, err := envs.Create(ctx, staging, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p.head(t)
		if file := p.git(t, "show", "origin/main:.gitgate/environments/staging.yaml"); !strings.Contains(file, "tier: pre") {
			t.Fatalf("definition in Git:\n%s", file)
		}
		list, err := envs.List(ctx, metav1.ListOptions{LabelSelector: "tier=pre"})
		if err != nil || len(list.Items) != 1 || list.Items[0].Name != "staging" {
			t.Fatalf("label selector tier=pre: %v %v", list, err)
		}
		got, _ := envs.Get(ctx, "staging", metav1.GetOptions{})
		got.Spec.ImageTagPattern = "^version-"
		if _, err := envs.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update: %v", err)
		}
		if _, err := envs.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("update with the old resourceVersion: %v, want 409", err)
		}
		if err := envs.Delete(ctx, "staging", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := envs.Get(ctx, "staging", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("get after delete: %v, want 404", err)
		}
	})

	t.Run("a promotion is a commit by the requesting user", func(t *testing.T) {
		before := p.head(t)
		created, err := promotions.Create(ctx, &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}, Spec: v1alpha1.PromotionSpec{Environment: "test"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(created.Name, "test-") || created.Status.PromotedBy != "alice" || created.Status.Phase != v1alpha1.PromotionSucceeded {
			t.Fatalf("created %s by %s in phase %s", created.Name, created.Status.PromotedBy, created.Status.Phase)
		}
		head := p.head(t)
		if head != created.Status.Commit || p.git(t, "rev-parse", head+"^") != before {
			t.Fatalf("promotion commit %s is not one commit on %s (head %s)", created.Status.Commit, before, head)
		}
		if msg := p.git(t, "log", "-1", "--format=%B", head); !strings.Contains(msg, "Promoted-By: alice") {
			t.Fatalf("commit message:\n%s", msg)
		}
		list, err := promotions.List(ctx, metav1.ListOptions{FieldSelector: "spec.environment=test"})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("field selector spec.environment=test: %v %v", list, err)
		}
		if list, _ := promotions.List(ctx, metav1.ListOptions{FieldSelector: "spec.environment=prod"}); len(list.Items) != 0 {
			t.Fatalf("spec.environment=prod lists %d promotions", len(list.Items))
		}
	})

	t.Run("promote verb and dry run", func(t *testing.T) {
		before := p.head(t)
		if _, err := promotions.Create(ctx, promotionTo("alice-prod", "prod"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `verb "promote"`) {
			t.Fatalf("alice into prod: %v, want 403 naming the promote verb", err)
		}
		// test runs dev's tag now; promoting prod's back into it is a known plan.
		dryRun := &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "dry"}, Spec: v1alpha1.PromotionSpec{Environment: "test", From: "prod"}}
		dry, err := p.bob.GitgateV1alpha1().Promotions("shop").Create(ctx, dryRun, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		want := []v1alpha1.Change{{Name: "app", From: "development-1.2.4", To: "version-1.2.2"}}
		if err != nil || !reflect.DeepEqual(dry.Status.Changes, want) {
			t.Fatalf("dry run: %v, changes %+v, want %+v", err, dry, want)
		}
		if p.head(t) != before {
			t.Fatal("forbidden or dry-run promotions changed Git")
		}
		if _, err := promotions.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("the dry-run promotion exists: %v", err)
		}
	})

	t.Run("a body of another kind is a 400 and Git does not move", func(t *testing.T) {
		// The create handlers check a body's apiVersion; another kind of
		// the group is refused when it is decoded into the endpoint's own
		// type (no conversion exists), before any storage sees it.
		other := []byte(`{"apiVersion":"gitgate.dev/v1alpha1","kind":"Environment","metadata":{"name":"x"},"spec":{"path":"overlays/x"}}`)
		promotion := []byte(`{"apiVersion":"gitgate.dev/v1alpha1","kind":"Promotion","metadata":{"name":"x"},"spec":{"environment":"test"}}`)
		before := p.head(t)
		for _, tc := range []struct {
			path string
			body []byte
		}{
			{"/apis/gitgate.dev/v1alpha1/namespaces/shop/environments", promotion},
			{"/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/test/freeze", promotion},
			{"/apis/gitgate.dev/v1alpha1/namespaces/shop/environments/test/sealedsecrets", promotion},
			{"/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions", other},
			{"/apis/gitgate.dev/v1alpha1/namespaces/shop/promotions/anything/approval", other},
		} {
			var code int
			err := p.bob.GitgateV1alpha1().RESTClient().Post().AbsPath(tc.path).SetHeader("Content-Type", "application/json").
				Body(tc.body).Do(ctx).StatusCode(&code).Error()
			if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(err), "cannot be handled as") {
				t.Errorf("POST %s: %d %v, want 400 naming the kinds", tc.path, code, err)
			}
		}
		if after := p.head(t); after != before {
			t.Errorf("main moved from %s to %s", before, after)
		}
	})

	t.Run("watch resumes, expires, and an informer follows", func(t *testing.T) {
		// Its own promotion first, so this subtest depends on no other.
		before := p.head(t)
		first, err := promotions.Create(ctx, &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "before-rollback"},
			Spec: v1alpha1.PromotionSpec{Environment: "test", From: "prod"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		list, err := promotions.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		factory := externalversions.NewSharedInformerFactoryWithOptions(p.alice, 0, externalversions.WithNamespace("shop"))
		informer := factory.Gitgate().V1alpha1().Promotions()
		informer.Informer()
		stop := make(chan struct{})
		defer close(stop)
		factory.Start(stop)
		syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
		defer cancelSync()
		if !cache.WaitForCacheSync(syncCtx.Done(), informer.Informer().HasSynced) {
			t.Fatal("the promotions informer did not sync in 30s")
		}
		if _, err := informer.Lister().Promotions("shop").Get(first.Name); err != nil {
			t.Fatalf("the synced informer lacks %s: %v", first.Name, err)
		}

		// A rollback of test to the revision it ran before that promotion.
		rollback := &v1alpha1.Promotion{ObjectMeta: metav1.ObjectMeta{Name: "rollback"},
			Spec: v1alpha1.PromotionSpec{Environment: "test", From: "test", Revision: before}}
		if _, err := promotions.Create(ctx, rollback, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := promotions.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		select {
		case ev := <-w.ResultChan():
			if pr, ok := ev.Object.(*v1alpha1.Promotion); ev.Type != watch.Added || !ok || pr.Name != "rollback" {
				t.Fatalf("resumed watch got %s %#v", ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("resumed watch got nothing")
		}
		if _, err := promotions.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"}); !apierrors.IsResourceExpired(err) {
			t.Fatalf("watch from resourceVersion 1: %v, want 410", err)
		}
		waitFor(t, "the informer to see the rollback", func() error {
			_, err := informer.Lister().Promotions("shop").Get("rollback")
			return err
		})
	})
}
