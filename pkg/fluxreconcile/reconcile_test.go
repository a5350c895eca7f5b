package fluxreconcile

import (
	"context"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func env(name, revision, kustomization string) *gitgate.Environment {
	e := &gitgate.Environment{}
	e.Name = name
	e.Status.Revision = revision
	if kustomization != "" {
		e.Spec.FluxKustomization = &gitgate.ObjectReference{Namespace: "flux-system", Name: kustomization}
	}
	return e
}

func names(envs []*gitgate.Environment) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Name)
	}
	return out
}

func TestChangedListsEnvironmentsWhoseRevisionMoved(t *testing.T) {
	before := byName([]*gitgate.Environment{env("dev", "a", "apps-dev"), env("test", "b", "apps-test"), env("prod", "c", "apps-prod")})
	cases := []struct {
		name string
		next []*gitgate.Environment
		want []string
	}{
		{"nothing moved: no request", []*gitgate.Environment{env("dev", "a", "apps-dev"), env("test", "b", "apps-test")}, nil},
		{"one moved: only it", []*gitgate.Environment{env("dev", "a", "apps-dev"), env("test", "b2", "apps-test")}, []string{"test"}},
		{"a new environment with a revision: requested", []*gitgate.Environment{env("dev", "a", "apps-dev"), env("qa", "q", "apps-qa")}, []string{"qa"}},
		{"no revision yet: nothing to apply", []*gitgate.Environment{env("qa", "", "apps-qa")}, nil},
		{"several moved: sorted", []*gitgate.Environment{env("prod", "c2", ""), env("dev", "a2", "apps-dev")}, []string{"dev", "prod"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(changed(before, byName(tc.next))); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("changed = %v, want %v", got, tc.want)
			}
		})
	}
}

func kustomization(name, sourceKind, sourceName, sourceNamespace string) *unstructured.Unstructured {
	ref := map[string]any{"kind": sourceKind, "name": sourceName}
	if sourceNamespace != "" {
		ref["namespace"] = sourceNamespace
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": "flux-system"},
		"spec":     map[string]any{"sourceRef": ref},
	}}
}

func gitRepository(namespace, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": name, "namespace": namespace},
	}}
}

// patched lists "resource namespace/name" of every patch, in order.
func patched(client *dynamicfake.FakeDynamicClient) []string {
	var out []string
	for _, a := range client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok {
			out = append(out, p.GetResource().Resource+" "+p.GetNamespace()+"/"+p.GetName())
		}
	}
	return out
}

func TestRequestAnnotatesSourcesThenKustomizationsOnce(t *testing.T) {
	stamp := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		envs []*gitgate.Environment
		want []string
	}{
		{"two environments of one source: the source once, then each Kustomization",
			[]*gitgate.Environment{env("dev", "a", "apps-dev"), env("test", "b", "apps-test")},
			[]string{"gitrepositories flux-system/fleet", "kustomizations flux-system/apps-dev", "kustomizations flux-system/apps-test"}},
		{"a source in another namespace is found there",
			[]*gitgate.Environment{env("prod", "c", "apps-prod")},
			[]string{"gitrepositories fleets/prod-fleet", "kustomizations flux-system/apps-prod"}},
		{"an OCI source: only the Kustomization",
			[]*gitgate.Environment{env("oci", "d", "apps-oci")},
			[]string{"kustomizations flux-system/apps-oci"}},
		{"no Kustomization named: nothing",
			[]*gitgate.Environment{env("bare", "e", "")},
			nil},
		{"a missing Kustomization: nothing, and the others still go",
			[]*gitgate.Environment{env("gone", "f", "apps-gone"), env("dev", "a", "apps-dev")},
			[]string{"gitrepositories flux-system/fleet", "kustomizations flux-system/apps-dev"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
				KustomizationsGVR: "KustomizationList", GitRepositoriesGVR: "GitRepositoryList",
			},
				kustomization("apps-dev", "GitRepository", "fleet", ""),
				kustomization("apps-test", "GitRepository", "fleet", ""),
				kustomization("apps-prod", "GitRepository", "prod-fleet", "fleets"),
				kustomization("apps-oci", "OCIRepository", "oci", ""),
				gitRepository("flux-system", "fleet"), gitRepository("fleets", "prod-fleet"),
			)
			r := &Requester{Client: client, Now: func() time.Time { return stamp }}
			r.request(context.Background(), klog.Background(), tc.envs)
			if got := patched(client); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("patched %v, want %v", got, tc.want)
			}
			for _, p := range tc.want {
				var gvr schema.GroupVersionResource
				var ns, name string
				for _, a := range client.Actions() {
					if pa, ok := a.(clienttesting.PatchAction); ok && pa.GetResource().Resource+" "+pa.GetNamespace()+"/"+pa.GetName() == p {
						gvr, ns, name = pa.GetResource(), pa.GetNamespace(), pa.GetName()
					}
				}
				obj, err := client.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := obj.GetAnnotations()[RequestedAtAnnotation]; got != "2026-11-29T12:00:00Z" {
					t.Errorf("%s: %s = %q", p, RequestedAtAnnotation, got)
				}
			}
		})
	}
}
