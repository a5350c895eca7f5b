package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/engine"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// oneRepository binds the namespace shop to one engine.
type oneRepository struct{ e *engine.Engine }

func (r oneRepository) Engine(ns string) (*engine.Engine, string, bool) {
	return r.e, "fleet", ns == "shop"
}
func (r oneRepository) Namespaces() []string { return []string{"shop"} }

// TestVerbSubresourcePerform runs the shared wiring of the custom-verb
// subresources with an engine that is never read: each case records the
// steps that ran, so a refusal is seen to stop everything after it.
func TestVerbSubresourcePerform(t *testing.T) {
	e, err := engine.New(engine.Options{Repository: gitstore.Options{URL: "https://git.invalid/fleet.git"}})
	if err != nil {
		t.Fatal(err)
	}
	// bob holds the verb freeze on prod, alice on nothing.
	var asked []authorizer.Attributes
	authz := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		asked = append(asked, a)
		if a.GetUser().GetName() == "bob" && a.GetVerb() == "freeze" && a.GetName() == "prod" {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionDeny, "no RBAC rule", nil
	})
	s := &VerbSubresource{
		Backend: &Backend{Repositories: oneRepository{e}}, Authorizer: authz,
		Resource: gitgate.Resource("environments"), Kind: "EnvironmentFreeze", Verb: "freeze",
		NewFunc: func() runtime.Object { return &gitgate.EnvironmentFreeze{} },
	}
	if _, ok := s.New().(*gitgate.EnvironmentFreeze); !ok {
		t.Fatalf("New() = %T, want *gitgate.EnvironmentFreeze", s.New())
	}

	cases := []struct {
		name      string
		namespace string
		user      string
		target    string // what op.Environment returns; "" leaves it nil
		targetErr error
		checkErr  error
		admitErr  error
		applyErr  error
		dryRun    bool
		wantSteps string
		wantCode  int32  // 0: allowed
		wantText  string // in the refusal
	}{
		{name: "allowed: bob freezes prod", namespace: "shop", user: "bob", wantSteps: "check admit apply"},
		{name: "allowed: a dry run reaches apply as one", namespace: "shop", user: "bob", dryRun: true, wantSteps: "check admit apply"},
		{name: "allowed: the verb is checked on the environment op names", namespace: "shop", user: "bob", target: "prod", wantSteps: "target check admit apply"},
		{name: "denied: alice lacks the verb, nothing after it runs", namespace: "shop", user: "alice", wantCode: http.StatusForbidden,
			wantText: `user "alice" cannot freeze environment "prod" in namespace "shop": it needs the verb "freeze" on environments.gitgate.dev named "prod" (no RBAC rule)`},
		{name: "denied: bob's verb on prod does not reach staging", namespace: "shop", user: "bob", target: "staging", wantSteps: "target", wantCode: http.StatusForbidden,
			wantText: `named "staging"`},
		{name: "refused: a namespace without a repository is 404", namespace: "other", user: "bob", wantCode: http.StatusNotFound,
			wantText: "namespace other is not bound to a Git repository"},
		{name: "refused: no namespace is 400", namespace: "", user: "bob", wantCode: http.StatusBadRequest},
		{name: "refused: the target's engine error is a status error", namespace: "shop", user: "bob", target: "prod",
			targetErr: fmt.Errorf("promotion p: %w", engine.ErrNotFound), wantSteps: "target", wantCode: http.StatusNotFound},
		{name: "denied: check refuses before admission", namespace: "shop", user: "bob", checkErr: apierrors.NewForbidden(gitgate.Resource("environments"), "prod", errors.New("own promotion")),
			wantSteps: "check", wantCode: http.StatusForbidden, wantText: "own promotion"},
		{name: "denied: admission refuses before apply", namespace: "shop", user: "bob", admitErr: apierrors.NewBadRequest("webhook says no"),
			wantSteps: "check admit", wantCode: http.StatusBadRequest, wantText: "webhook says no"},
		{name: "refused: apply's engine error is a 422 naming the subresource's kind", namespace: "shop", user: "bob",
			applyErr:  &engine.InvalidError{Errors: field.ErrorList{field.Required(field.NewPath("spec", "reason"), "say why")}},
			wantSteps: "check admit apply", wantCode: http.StatusUnprocessableEntity, wantText: "EnvironmentFreeze.gitgate.dev"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			asked = nil
			var steps []string
			ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: tc.user})
			ctx = genericapirequest.WithNamespace(ctx, tc.namespace)
			op := VerbCreate{
				Action: "freeze",
				Check: func(c VerbCall) error {
					steps = append(steps, "check")
					return tc.checkErr
				},
				Apply: func(c VerbCall) (runtime.Object, error) {
					steps = append(steps, "apply")
					if c.Engine != e || c.Namespace != "shop" || c.User != tc.user || c.DryRun != tc.dryRun {
						t.Errorf("apply got %+v, want the shop engine, namespace shop, user %s, dry run %v", c, tc.user, tc.dryRun)
					}
					if tc.applyErr != nil {
						return nil, tc.applyErr
					}
					return &gitgate.EnvironmentFreeze{Spec: gitgate.EnvironmentFreezeSpec{Frozen: true}}, nil
				},
			}
			if tc.target != "" {
				op.Environment = func(got *engine.Engine) (string, error) {
					steps = append(steps, "target")
					if got != e {
						t.Errorf("Environment got another engine than the namespace's")
					}
					return tc.target, tc.targetErr
				}
			}
			admit := func(context.Context, runtime.Object) error {
				steps = append(steps, "admit")
				return tc.admitErr
			}
			var opts metav1.CreateOptions
			if tc.dryRun {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			out, err := s.Perform(ctx, "prod", &gitgate.EnvironmentFreeze{}, admit, &opts, op)

			if got := strings.Join(steps, " "); got != tc.wantSteps {
				t.Errorf("steps run = %q, want %q", got, tc.wantSteps)
			}
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("Perform: %v, want it allowed", err)
				}
				f := out.(*gitgate.EnvironmentFreeze)
				if f.Name != "prod" || f.Namespace != "shop" || !f.Spec.Frozen {
					t.Errorf("answer = %s/%s frozen=%v, want apply's object named shop/prod", f.Namespace, f.Name, f.Spec.Frozen)
				}
				if want := map[bool]string{true: tc.target, false: "prod"}[tc.target != ""]; len(asked) != 1 || asked[0].GetName() != want ||
					asked[0].GetNamespace() != "shop" || asked[0].GetResource() != "environments" || asked[0].GetVerb() != "freeze" {
					t.Errorf("authorizer asked %+v, want once: freeze on environments %q in shop", asked, want)
				}
				return
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Code != tc.wantCode {
				t.Fatalf("Perform = %v, want a status error with code %d", err, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("refusal %q does not say %q", err, tc.wantText)
			}
		})
	}
}
