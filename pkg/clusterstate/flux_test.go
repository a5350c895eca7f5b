package clusterstate

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func kustomizationObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

const appsProd = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps-prod, namespace: flux-system}
spec:
  targetNamespace: shop-prod
  sourceRef: {kind: GitRepository, name: fleet}
status:
  lastAppliedRevision: main@sha1:1111111111111111111111111111111111111111
  lastAttemptedRevision: main@sha1:2222222222222222222222222222222222222222
  conditions:
  - {type: Reconciling, status: "True", reason: Progressing, message: busy, lastTransitionTime: "2026-11-29T10:00:00Z"}
  - {type: Ready, status: "False", reason: HealthCheckFailed, message: "timeout waiting for: [Deployment/shop-prod/app status: 'InProgress']", lastTransitionTime: "2026-11-29T10:01:00Z"}
  history:
  - {digest: "sha256:b", firstReconciled: "2026-11-29T10:01:00Z", lastReconciled: "2026-11-29T10:02:00Z", lastReconciledStatus: HealthCheckFailed, metadata: {revision: main@sha1:2222222222222222222222222222222222222222}}
  - {digest: "sha256:a", firstReconciled: "2026-11-29T09:00:00Z", lastReconciled: "2026-11-29T09:30:00Z", lastReconciledStatus: ReconciliationSucceeded, metadata: {revision: main@sha1:1111111111111111111111111111111111111111}}
`

func TestReadKustomizationReadsWhatStatusShows(t *testing.T) {
	k := readKustomization(kustomizationObject(t, appsProd))
	want := Kustomization{
		Ready: false, ReadyStatus: metav1.ConditionFalse, ReadyReason: "HealthCheckFailed",
		Message:           "timeout waiting for: [Deployment/shop-prod/app status: 'InProgress']",
		ReadySince:        time.Date(2026, 11, 29, 10, 1, 0, 0, time.UTC),
		AppliedRevision:   "main@sha1:1111111111111111111111111111111111111111",
		AttemptedRevision: "main@sha1:2222222222222222222222222222222222222222",
		TargetNamespace:   "shop-prod", Source: "flux-system/fleet",
		History: []Reconciled{
			{Revision: "main@sha1:2222222222222222222222222222222222222222", First: time.Date(2026, 11, 29, 10, 1, 0, 0, time.UTC), Status: "HealthCheckFailed"},
			{Revision: "main@sha1:1111111111111111111111111111111111111111", First: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), Status: reconciliationSucceeded},
		},
	}
	if !k.equal(&want) {
		t.Errorf("read\n%+v\nwant\n%+v", k, want)
	}
	if k.History[0].Succeeded() || !k.History[1].Succeeded() {
		t.Errorf("only the ReconciliationSucceeded entry counts as succeeded: %+v", k.History)
	}
}

func TestReadKustomizationOfANewObjectIsEmpty(t *testing.T) {
	k := readKustomization(kustomizationObject(t, `{metadata: {name: new, namespace: team}, spec: {sourceRef: {kind: OCIRepository, name: x}}}`))
	if !k.equal(&Kustomization{}) {
		t.Errorf("a Kustomization without status or GitRepository source read as %+v", k)
	}
}

func TestGitRepositoryReadsItsArtifact(t *testing.T) {
	r := readGitRepository(kustomizationObject(t, `
metadata: {name: fleet, namespace: flux-system}
status:
  artifact: {revision: main@sha1:3333333333333333333333333333333333333333}
  conditions: [{type: Ready, status: "True", message: "stored artifact"}]`))
	if r != (GitRepository{Ready: true, Message: "stored artifact", Revision: "main@sha1:3333333333333333333333333333333333333333"}) {
		t.Errorf("read %+v", r)
	}
}

// Watches hear of a Kustomization only when what gitgate shows changed, with
// what it showed before and after.
func TestKustomizationChangesAreToldOnceWithBeforeAndAfter(t *testing.T) {
	type told struct {
		key           string
		before, after *Kustomization
	}
	var got []told
	f := newFluxObjects(nil, nil, func(key string, before, after *Kustomization) { got = append(got, told{key, before, after}) })
	obj := kustomizationObject(t, appsProd)
	f.setKustomization(obj, false)
	f.setKustomization(obj.DeepCopy(), false) // a resync: nothing shown changed
	healthy := obj.DeepCopy()
	_ = unstructured.SetNestedField(healthy.Object, "main@sha1:2222222222222222222222222222222222222222", "status", "lastAppliedRevision")
	f.setKustomization(healthy, false)
	f.setKustomization(healthy, true)

	if len(got) != 3 {
		t.Fatalf("told %d times, want 3 (added, applied, deleted): %+v", len(got), got)
	}
	if got[0].key != "flux-system/apps-prod" || got[0].before != nil || got[0].after == nil {
		t.Errorf("first sight: %+v", got[0])
	}
	if got[1].before.AppliedRevision == got[1].after.AppliedRevision {
		t.Errorf("the applied revision changed, yet before and after agree: %+v", got[1])
	}
	if got[2].after != nil {
		t.Errorf("deletion told with after %+v, want nil", got[2].after)
	}
	if _, ok := f.kustomization("flux-system", "apps-prod"); ok {
		t.Error("a deleted Kustomization is still known")
	}
}

func TestSyncStatusShowsFluxAsEnvironmentsDo(t *testing.T) {
	k := readKustomization(kustomizationObject(t, appsProd))
	s := SyncStatus(k, true)
	if s.Ready || !s.UpToDate || s.AppliedRevision != k.AppliedRevision || s.Message != k.Message {
		t.Errorf("sync status %+v from %+v", s, k)
	}
}
