package localstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: %q, certificate-authority: %q}
users:
- name: %s
  user: {token: %q}
contexts:
- name: %s
  context: {cluster: local, user: %s, namespace: %s}
current-context: %s
`, server, filepath.Join(dir, "ca.crt"), name, strings.TrimSpace(string(token)), name, name, namespace, name)
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, []byte(config), 0o600)
}
