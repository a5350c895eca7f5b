package localstack

import (
	"context"
	"fmt"
	"strings"
)

// FluxFleetOptions tune ApplyFleetWithFlux.
type FluxFleetOptions struct {
	// Environment is the environment Flux applies (default test).
	Environment string
	// VerifyPublicKey, when set, makes the GitRepository verify the
	// signature of every head commit (spec.verify mode HEAD) against this
	// armored OpenPGP public key.
	VerifyPublicKey string
}

// ApplyFleetWithFlux makes Flux follow a fleet: a GitRepository named after
// it in flux-system (with the stack's Git credentials), and the
// Kustomization <fleet>-apps-<env> the fleet's environment claims, which
// applies the overlay into namespace <fleet>-apps (targetNamespace), so
// that it never touches what the stack's own Kustomizations manage. It
// returns that namespace.
func (s *Stack) ApplyFleetWithFlux(ctx context.Context, f *Fleet, opts FluxFleetOptions) (string, error) {
	if opts.Environment == "" {
		opts.Environment = "test"
	}
	target := f.Name + "-apps"
	verify := ""
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
`, target)
	if opts.VerifyPublicKey != "" {
		verify = fmt.Sprintf("  verify: {mode: HEAD, secretRef: {name: %s-verify}}\n", f.Name)
		manifest += fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: %s-verify, namespace: flux-system}
stringData:
  gitgate.asc: |
%s`, f.Name, indent(opts.VerifyPublicKey, "    "))
	}
	manifest += fmt.Sprintf(`---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: %[1]s, namespace: flux-system}
spec:
  url: %[2]s
  ref: {branch: main}
  interval: %[3]s
  timeout: 20s
  secretRef: {name: fleet-auth}
%[4]s---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: %[1]s-apps-%[5]s, namespace: flux-system}
spec:
  sourceRef: {kind: GitRepository, name: %[1]s}
  path: ./overlays/%[5]s
  targetNamespace: %[6]s
  interval: %[3]s
  retryInterval: %[3]s
  timeout: 1m
  prune: true
  wait: false
`, f.Name, s.Git.URL(f.Name), s.opts.FluxInterval.String(), verify, opts.Environment, target)
	if out, err := s.KubectlStdin(ctx, ContextAdmin, []byte(manifest), "apply", "-f", "-"); err != nil {
		return "", fmt.Errorf("Flux objects of fleet %s: %w: %s", f.Name, err, out)
	}
	return target, nil
}

// RemoveFleetFromFlux deletes what ApplyFleetWithFlux made (without waiting).
func (s *Stack) RemoveFleetFromFlux(ctx context.Context, f *Fleet, environment string) error {
	if environment == "" {
		environment = "test"
	}
	_, err := s.Kubectl(ctx, ContextAdmin, "delete", "-n", "flux-system", "--ignore-not-found", "--wait=false",
		"kustomization/"+f.Name+"-apps-"+environment, "gitrepository/"+f.Name, "secret/"+f.Name+"-verify")
	if err != nil {
		return err
	}
	_, err = s.Kubectl(ctx, ContextAdmin, "delete", "namespace", f.Name+"-apps", "--ignore-not-found", "--wait=false")
	return err
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix) + "\n"
}
