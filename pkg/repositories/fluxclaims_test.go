package repositories

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
)

// Every repository's claim of a Kustomization counts, once per repository
// however many namespaces it serves; FluxOwner answers only when exactly
// one environment claims it.
func TestFluxClaimsCountEveryRepositoryOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	git := serveFleet(t, gitserver.Options{})
	if _, err := git.InitRepository(ctx, "copy", filepath.Join("..", "..", "artifacts", "fleet", "trunk"), "main"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	write := func(content string) { t.Helper(); writeConfig(t, file, content) }
	write(fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [shop-b, shop-a]}\n", git.URL("fleet")))
	m := New(Options{ConfigPath: file, ReloadInterval: 10 * time.Millisecond})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the repository is read", func() bool { return m.Ready() == nil && len(m.FluxClaims("flux-system", "apps-prod")) > 0 })

	claims := m.FluxClaims("flux-system", "apps-prod")
	if len(claims) != 1 || claims[0].Environment != "prod" || claims[0].Namespace != "shop-a" || claims[0].Repository != "fleet" ||
		claims[0].Path != "overlays/prod" || claims[0].OverlayNamespace != "shop-prod" {
		t.Fatalf("claims of apps-prod = %+v, want prod of fleet, read in shop-a, deploying into shop-prod", claims)
	}
	if env, ns, _, _, ok := m.FluxOwner("flux-system", "apps-prod"); !ok || env != "prod" || ns != "shop-a" {
		t.Errorf("FluxOwner = %s/%s %v", ns, env, ok)
	}
	if claims := m.FluxClaims("other-namespace", "apps-prod"); len(claims) != 0 {
		t.Errorf("a Kustomization of another namespace is claimed: %+v", claims)
	}

	// Another namespace's repository claims the same Kustomization.
	write(fmt.Sprintf("repositories:\n- {name: fleet, url: %s, namespaces: [shop-b, shop-a]}\n- {name: copy, url: %s, namespaces: [elsewhere]}\n", git.URL("fleet"), git.URL("copy")))
	waitUntil(t, "the copy is read", func() bool { return len(m.FluxClaims("flux-system", "apps-prod")) == 2 })
	if _, _, _, _, ok := m.FluxOwner("flux-system", "apps-prod"); ok {
		t.Error("FluxOwner answered for a Kustomization two environments claim")
	}
}
