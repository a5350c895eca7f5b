package clusterstate

import (
	"github.com/gitgate-dev/gitgate/pkg/admission"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// claimantsOf turns the environments that claim a Flux Kustomization into
// admission's claimants, with the namespaces they deploy into: the
// Kustomization's targetNamespace (cluster state) when it sets one (target),
// else the overlay's.
func claimantsOf(claims []repositories.FluxClaim, target string) []admission.Claimant {
	out := make([]admission.Claimant, 0, len(claims))
	for _, c := range claims {
		cl := admission.Claimant{Owner: admission.Owner{Environment: c.Environment, EnvironmentNamespace: c.Namespace, Repository: c.Repository, Path: c.Path}}
		switch {
		case target != "":
			cl.Namespaces = []string{target}
		case c.OverlayNamespace != "":
			cl.Namespaces = []string{c.OverlayNamespace}
		}
		out = append(out, cl)
	}
	return out
}
