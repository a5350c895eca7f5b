package localstack

import (
	"context"
	"fmt"
)

// FleetOptions tune NewFleetWith.
type FleetOptions struct {
	// SigningFormat and SigningKey, when the key is set, make gitgate sign
	// the fleet's commits: format "openpgp" with an armored OpenPGP secret
	// key, or "ssh" with an SSH private key. The key goes into a Secret
	// <fleet>-signing in gitgate's namespace, readable by gitgate alone.
	SigningFormat string
	SigningKey    []byte
}

// signingSecretName is the Secret that holds a fleet's signing key.
func signingSecretName(fleet string) string { return fleet + "-signing" }

// signingSecret creates a fleet's signing Secret and lets gitgate's
// ServiceAccount read it (the chart grants the Secrets its configuration
// names; the stack renders the chart's RBAC once, at start).
func (s *Stack) signingSecret(ctx context.Context, fleet string, opts FleetOptions) error {
	key := map[string]string{"openpgp": "git.asc", "ssh": "identity"}[opts.SigningFormat]
	if key == "" {
		return fmt.Errorf("fleet %s: unknown signing format %q", fleet, opts.SigningFormat)
	}
	name := signingSecretName(fleet)
	if _, err := s.Kubectl(ctx, ContextAdmin, "create", "secret", "generic", name, "-n", releaseNamespace,
		"--from-literal="+key+"="+string(opts.SigningKey)); err != nil {
		return fmt.Errorf("fleet %s: creating the signing Secret: %w", fleet, err)
	}
	if _, err := s.Kubectl(ctx, ContextAdmin, "create", "role", name, "-n", releaseNamespace,
		"--verb=get", "--resource=secrets", "--resource-name="+name); err != nil {
		return err
	}
	_, err := s.Kubectl(ctx, ContextAdmin, "create", "rolebinding", name, "-n", releaseNamespace,
		"--role="+name, "--serviceaccount="+releaseNamespace+":"+serverServiceAccount)
	return err
}

// fleetSigning is a fleet's signing configuration, nil when it does not
// sign; the caller holds s.fleets.mu.
func (s *Stack) fleetSigning(fleet string) map[string]any {
	format, ok := s.fleets.signing[fleet]
	if !ok {
		return nil
	}
	return map[string]any{"format": format,
		"secretRef": map[string]string{"namespace": releaseNamespace, "name": signingSecretName(fleet)}}
}
