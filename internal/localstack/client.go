package localstack

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig is the client configuration of user: the stack's kubeconfig
// has a context for each user it knows (admin, alice, bob, ...).
func (s *Stack) RESTConfig(user string) (*rest.Config, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: s.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: user}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q of %s: %w", user, s.Kubeconfig, err)
	}
	return cfg, nil
}
