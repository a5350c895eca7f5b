package localstack

import (
	"context"
	_ "embed"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed flux.yaml.tmpl
var fluxTemplate string

// fluxEnvironments are the fleet's environments; Flux applies each
// overlays/<env> into namespace shop-<env> through Kustomization apps-<env>.
var fluxEnvironments = []string{"dev", "test", "prod"}

// fluxCRDs are the CRDs of the Flux controllers, from bin/crds.
var fluxCRDs = []string{
	"source.toolkit.fluxcd.io_gitrepositories.yaml", "source.toolkit.fluxcd.io_ocirepositories.yaml",
	"source.toolkit.fluxcd.io_buckets.yaml", "source.toolkit.fluxcd.io_helmrepositories.yaml",
	"source.toolkit.fluxcd.io_helmcharts.yaml", "source.toolkit.fluxcd.io_externalartifacts.yaml",
	"kustomize.toolkit.fluxcd.io_kustomizations.yaml",
}

// installFluxAPI applies Flux's CRDs, so that gitgate finds the
// Kustomization API from its start.
func (s *Stack) installFluxAPI(ctx context.Context) error {
	for _, crd := range fluxCRDs {
		if err := s.apply(ctx, filepath.Join(s.opts.RepoRoot, "bin", "crds", crd)); err != nil {
			return err
		}
	}
	for _, crd := range []string{"gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"} {
		if _, err := s.Kubectl(ctx, ContextAdmin, "wait", "--for=condition=Established", "--timeout=60s", "crd/"+crd); err != nil {
			return err
		}
	}
	return nil
}

// startFlux runs source-controller (its artifact server on loopback) and
// kustomize-controller as local processes, each with a token of its own
// ServiceAccount, and creates the fleet's GitRepository and Kustomizations.
func (s *Stack) startFlux(ctx context.Context, kubeURL string, certs *stackCerts) error {
	if err := s.applyTemplate(ctx, fluxTemplate, "flux.yaml", map[string]any{
		"Environments": fluxEnvironments, "Interval": s.opts.FluxInterval.String(), "Node": s.opts.Node,
		"GitURL": s.Git.URL("fleet"), "GitUser": gitUser, "GitPassword": certs.gitPassword,
		"GitCA": base64.StdEncoding.EncodeToString(certs.ca.CertPEM),
	}); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	storage := s.path("flux", "artifacts")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return err
	}
	controllers := []struct {
		name string
		args []string
	}{
		{"source-controller", []string{
			"--storage-path=" + storage,
			fmt.Sprintf("--storage-addr=127.0.0.1:%d", ports[0]), fmt.Sprintf("--storage-adv-addr=127.0.0.1:%d", ports[0]),
			fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[1]), fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[2]),
		}},
		{"kustomize-controller", []string{
			fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[3]), fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[4]),
			"--no-remote-bases=true",
		}},
	}
	for _, c := range controllers {
		kubeconfig, err := s.serviceAccountKubeconfig(ctx, kubeURL, "flux-system", c.name)
		if err != nil {
			return err
		}
		args := append([]string{"--enable-leader-election=false", "--log-level=info", "--log-encoding=console"}, c.args...)
		p, err := startProcessEnv(c.name, s.path("logs"), []string{"KUBECONFIG=" + kubeconfig, "HOME=" + s.path("flux")}, s.bin(c.name), args...)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
	}
	return writePIDs(s.opts.Dir, s.procs)
}

// waitForFlux returns once every environment's Kustomization is Ready.
func (s *Stack) waitForFlux(ctx context.Context) error {
	return waitFor(ctx, "Flux to apply every environment", s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "kustomizations", "-n", "flux-system",
			"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{end}`)
		if err != nil {
			return fmt.Errorf("%w: %v", errNotYet, err)
		}
		for _, env := range fluxEnvironments {
			if !strings.Contains(out, "apps-"+env+"=True") {
				return fmt.Errorf("%w: %s", errNotYet, out)
			}
		}
		return nil
	})
}
