package localstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountFiles mints a token for a ServiceAccount with the
// TokenRequest API and writes what a pod would find in its
// serviceaccount directory: token, ca.crt and namespace.
func (s *Stack) serviceAccountFiles(ctx context.Context, namespace, name string) (string, error) {
	token, err := s.Kubectl(ctx, ContextAdmin, "create", "token", name, "-n", namespace, "--duration=48h")
	if err != nil {
		return "", err
	}
	dir := s.path("serviceaccounts", namespace, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		return "", err
	}
	for file, content := range map[string][]byte{"token": []byte(strings.TrimSpace(token)), "ca.crt": ca, "namespace": []byte(namespace)} {
		if err := os.WriteFile(filepath.Join(dir, file), content, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as a
// ServiceAccount with a token from the TokenRequest API.
func (s *Stack) serviceAccountKubeconfig(ctx context.Context, server, namespace, name string) (string, error) {
	dir, err := s.serviceAccountFiles(ctx, namespace, name)
	if err != nil {
		return "", err
	}
	token, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: filepath.Join(dir, "ca.crt")}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(string(token))}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = name
	path := filepath.Join(dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}
