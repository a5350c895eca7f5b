package localstack

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"path/filepath"
)

//go:embed sealed-secrets.yaml.tmpl
var sealedSecretsTemplate string

// startSealedSecrets runs the Sealed Secrets controller as a local process
// under its own ServiceAccount, with its CRD from the module it was built
// from. The controller reads its in-cluster configuration from fixed paths
// under /var/run/secrets, so it runs in a private mount namespace (inside
// a user namespace, so no privilege is needed) where a tmpfs over /run
// holds its token; the host's /run is untouched.
func (s *Stack) startSealedSecrets(ctx context.Context, kubePort int) error {
	hostIP, err := hostAddress()
	if err != nil && !s.opts.Node {
		return err
	}
	if s.opts.Node {
		hostIP = net.ParseIP(NodeIP)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	if err := s.apply(ctx, filepath.Join(s.opts.RepoRoot, "bin", "crds", "bitnami.com_sealedsecrets.yaml")); err != nil {
		return err
	}
	if err := s.applyTemplate(ctx, sealedSecretsTemplate, "sealed-secrets.yaml", map[string]any{
		"HostIP": hostIP.String(), "Port": ports[0],
	}); err != nil {
		return err
	}
	status := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}]}}`, hostIP, hostIP)
	if _, err := s.Kubectl(ctx, ContextAdmin, "patch", "pod", "sealed-secrets-controller", "-n", "kube-system",
		"--subresource=status", "--type=merge", "-p", status); err != nil {
		return err
	}
	saDir, err := s.serviceAccountFiles(ctx, "kube-system", "sealed-secrets-controller")
	if err != nil {
		return err
	}
	inPod := "/run/secrets/kubernetes.io/serviceaccount"
	script := fmt.Sprintf(`mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p %[1]s && cp %[2]s/token %[2]s/ca.crt %[2]s/namespace %[1]s/ && exec "$0" "$@"`, inPod, saDir)
	env := []string{"KUBERNETES_SERVICE_HOST=" + s.host, fmt.Sprintf("KUBERNETES_SERVICE_PORT=%d", kubePort), "POD_NAMESPACE=kube-system"}
	p, err := startProcessEnv("sealed-secrets-controller", s.path("logs"), env, "unshare",
		"--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", script, s.bin("sealed-secrets-controller"),
		fmt.Sprintf("--listen-addr=%s", net.JoinHostPort(hostIP.String(), fmt.Sprint(ports[0]))),
		fmt.Sprintf("--listen-metrics-addr=127.0.0.1:%d", ports[1]),
		"--key-renew-period=0", "--log-info-stdout=true")
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	return writePIDs(s.opts.Dir, s.procs)
}

// hostAddress is the first IPv4 address of an up, non-loopback interface.
func hostAddress() (net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP, nil
			}
		}
	}
	return nil, errors.New("no up, non-loopback IPv4 address: the API server's service proxy, which kubectl gitgate seal fetches the sealing certificate through, refuses loopback endpoints")
}
