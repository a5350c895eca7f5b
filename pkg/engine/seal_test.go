package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

const sealedDB = `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: db
  namespace: shop-prod
spec:
  encryptedData:
    password: QWdCeVFWcz0=
`

func sealWrite(env, ns string) SealedSecretWrite {
	return SealedSecretWrite{Environment: env, Name: "db", Namespace: ns, Content: []byte(sealedDB), User: "bob"}
}

func TestSealedSecretsAreCommittedIntoTheEnvironmentPath(t *testing.T) {
	f := newFixture(t, "trunk", "main")
	e := f.engine("main")
	ctx := context.Background()

	before := f.remoteHead("main")
	dry := sealWrite("prod", "shop-prod")
	dry.DryRun = true
	if res, err := e.CommitSealedSecret(ctx, dry); err != nil || res.Path != "overlays/prod/db.sealedsecret.yaml" || res.Commit != "" {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if f.remoteHead("main") != before {
		t.Fatal("a dry run pushed")
	}

	res, err := e.CommitSealedSecret(ctx, sealWrite("prod", "shop-prod"))
	if err != nil {
		t.Fatal(err)
	}
	if head := f.remoteHead("main"); head != res.Commit || res.Replaced {
		t.Fatalf("result %+v; main is at %s", res, head)
	}
	if got := f.show("main", "overlays/prod/db.sealedsecret.yaml"); got != strings.TrimSpace(sealedDB) {
		t.Fatalf("committed file:\n%s", got)
	}
	if k := f.show("main", "overlays/prod/kustomization.yaml"); !strings.Contains(k, "- ../../base\n- db.sealedsecret.yaml\n") {
		t.Fatalf("kustomization does not list the SealedSecret:\n%s", k)
	}
	msg := f.git(f.work, "log", "-1", "--format=%B", res.Commit)
	for _, want := range []string{"Seal secret shop-prod/db into prod", "Gitgate-Sealed-Secret: shop-prod/db", "Gitgate-Changed-By: bob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}

	// The name is taken: a second seal needs Overwrite, then replaces.
	if _, err := e.CommitSealedSecret(ctx, sealWrite("prod", "shop-prod")); !errors.Is(err, ErrAlreadyExists) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("second seal without overwrite: %v", err)
	}
	again := sealWrite("prod", "shop-prod")
	again.Overwrite = true
	if res, err := e.CommitSealedSecret(ctx, again); err != nil || !res.Replaced {
		t.Fatalf("overwrite = %+v, %v", res, err)
	}
	if k := f.show("main", "overlays/prod/kustomization.yaml"); strings.Count(k, "db.sealedsecret.yaml") != 1 {
		t.Fatalf("kustomization lists the SealedSecret more than once:\n%s", k)
	}
}

func TestSealedSecretsAreRefusedWhereTheyDoNotBelong(t *testing.T) {
	tests := []struct {
		name, fleet, env, ns, wantField string
	}{
		{"other namespace", "trunk", "prod", "shop-test", "spec.sealedSecret.metadata.namespace"},
		{"merge environment", "gitflow", "test", "shop-prod", "spec.sealedSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.fleet, "main", "dev", "test")
			e := f.engine("main")
			// Every branch is checked: a Merge environment's path lives on its own branch.
			branches := []string{"main", "dev", "test"}
			before := map[string]string{}
			for _, b := range branches {
				before[b] = f.remoteHead(b)
			}
			_, err := e.CommitSealedSecret(context.Background(), sealWrite(tt.env, tt.ns))
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Errors[0].Field != tt.wantField {
				t.Fatalf("err = %v, want a 422 on %s", err, tt.wantField)
			}
			for _, b := range branches {
				if f.remoteHead(b) != before[b] {
					t.Fatalf("a refused seal pushed to %s", b)
				}
			}
		})
	}
	f := newFixture(t, "trunk", "main")
	if _, err := f.engine("main").CommitSealedSecret(context.Background(), sealWrite("staging", "shop-prod")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown environment: %v", err)
	}
}

func TestPlainSecretsShowOnStatusAndAreNeverPromoted(t *testing.T) {
	f := newFixture(t, "gitflow", "main", "dev", "test")
	// Someone commits a plain Secret into dev's path, and a SealedSecret.
	f.commitFile("dev", "deploy/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: api-token}\nstringData: {token: hunter2}\n")
	f.commitFile("dev", "deploy/kustomization.yaml", "resources: [deployment.yaml, service.yaml, secret.yaml]\n")
	e := f.engine("main")

	dev, err := e.Snapshot().Environment("dev")
	if err != nil {
		t.Fatal(err)
	}
	c := apimeta.FindStatusCondition(dev.Status.Conditions, gitgate.ConditionPlaintextSecrets)
	if c == nil || c.Status != "True" || !strings.Contains(c.Message, "api-token (deploy/secret.yaml)") || !strings.Contains(c.Message, "kubectl gitgate seal --environment dev") {
		t.Fatalf("dev's PlaintextSecrets condition = %+v", c)
	}
	test, _ := e.Snapshot().Environment("test")
	if c := apimeta.FindStatusCondition(test.Status.Conditions, gitgate.ConditionPlaintextSecrets); c != nil {
		t.Fatalf("test has a PlaintextSecrets condition: %+v", c)
	}

	before := f.remoteHead("test")
	_, err = e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-1", "test", ""), User: "alice"})
	var inv *InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "plain Secret(s) [api-token]") {
		t.Fatalf("promotion carrying a plain Secret: %v", err)
	}

	// Replaced by a SealedSecret (sealed for dev), it is still not promoted.
	f.commitFile("dev", "deploy/secret.yaml", strings.Replace(sealedDB, "namespace: shop-prod\n", "", 1))
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = e.Promote(context.Background(), PromotionRequest{Promotion: promotion("test-2", "test", ""), User: "alice"})
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "copy SealedSecret(s) [db]") {
		t.Fatalf("promotion carrying a SealedSecret: %v", err)
	}
	if f.remoteHead("test") != before {
		t.Fatal("a refused promotion moved test")
	}
	dev, _ = e.Snapshot().Environment("dev")
	if c := apimeta.FindStatusCondition(dev.Status.Conditions, gitgate.ConditionPlaintextSecrets); c != nil {
		t.Fatalf("the condition stayed after the plain Secret was sealed: %+v", c)
	}
}
