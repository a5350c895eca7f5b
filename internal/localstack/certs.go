package localstack

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gitgate-dev/gitgate/internal/pki"
)

type stackCerts struct {
	ca                *pki.CA
	admin             pki.KeyPair
	users             map[string]pki.KeyPair // kubeconfig context -> client certificate
	controllerManager pki.KeyPair
	// admissionClient is kube-apiserver's client certificate towards
	// gitgate's webhook (AdmissionWebhookClientName).
	admissionClient pki.KeyPair
	gitPassword     string
}

// AdmissionWebhookClientName is the common name of the client certificate
// kube-apiserver presents to gitgate's webhook, the only one it accepts.
const AdmissionWebhookClientName = "kube-apiserver-webhook-client"

// writePKI makes the stack's CAs and certificates under pki/.
func (s *Stack) writePKI() (*stackCerts, error) {
	ca, err := pki.NewCA("gitgate-local-ca")
	if err != nil {
		return nil, err
	}
	frontProxyCA, err := pki.NewCA("gitgate-local-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	issue := map[string]struct {
		ca  *pki.CA
		req pki.Request
	}{
		"kube-apiserver": {ca, pki.Request{CommonName: "kube-apiserver", Server: true, IPs: append(s.serverIPs(), net.ParseIP("10.96.0.1")),
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}}},
		// The aggregator dials the APIService's Service by its DNS name.
		"gitgate-apiserver": {ca, pki.Request{CommonName: "gitgate-apiserver", Server: true, IPs: loopback,
			DNSNames: []string{"localhost", "gitgate-apiserver.gitgate-system.svc", "gitgate-apiserver.gitgate-system.svc.cluster.local"}}},
		"front-proxy-client": {frontProxyCA, pki.Request{CommonName: "front-proxy-client", Client: true}},
		// kube-apiserver's client certificate towards the kubelet (logs, exec).
		"kube-apiserver-kubelet-client": {ca, pki.Request{CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}, Client: true}},
	}
	for name, i := range issue {
		pair, err := i.ca.Issue(i.req)
		if err != nil {
			return nil, err
		}
		if err := writePair(s.path("pki", name), pair); err != nil {
			return nil, err
		}
	}
	certs := &stackCerts{ca: ca, users: map[string]pki.KeyPair{}}
	clients := map[string]pki.Request{
		ContextAdmin: {CommonName: "admin", Organizations: []string{"system:masters"}, Client: true},
		ContextAlice: {CommonName: "alice", Organizations: []string{"shop-developers"}, Client: true},
		ContextBob:   {CommonName: "bob", Organizations: []string{"shop-release-managers"}, Client: true},
		// The local controller manager runs every controller under one identity.
		"kube-controller-manager":  {CommonName: "system:kube-controller-manager", Organizations: []string{"system:masters"}, Client: true},
		AdmissionWebhookClientName: {CommonName: AdmissionWebhookClientName, Client: true},
	}
	for name, req := range clients {
		pair, err := ca.Issue(req)
		if err != nil {
			return nil, err
		}
		certs.users[name] = pair
	}
	certs.admin, certs.controllerManager = certs.users[ContextAdmin], certs.users["kube-controller-manager"]
	certs.admissionClient = certs.users[AdmissionWebhookClientName]
	delete(certs.users, "kube-controller-manager")
	delete(certs.users, AdmissionWebhookClientName)
	for file, data := range map[string][]byte{"ca.crt": ca.CertPEM, "front-proxy-ca.crt": frontProxyCA.CertPEM} {
		if err := os.WriteFile(s.path("pki", file), data, 0o600); err != nil {
			return nil, err
		}
	}
	return certs, s.writeServiceAccountKeys()
}

// serverIPs are the addresses the stack's servers answer on.
func (s *Stack) serverIPs() []net.IP {
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if s.opts.Node {
		ips = append(ips, net.ParseIP(NodeIP))
	}
	return ips
}

func writePair(base string, pair pki.KeyPair) error {
	if err := os.WriteFile(base+".crt", pair.CertPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(base+".key", pair.KeyPEM, 0o600)
}

// writeServiceAccountKeys makes the key pair kube-apiserver signs tokens with.
func (s *Stack) writeServiceAccountKeys() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.path("pki", "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.path("pki", "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

// writeKubeconfigs writes the users' kubeconfig and kube-controller-manager's.
func (s *Stack) writeKubeconfigs(server string, certs *stackCerts) error {
	users := clientcmdapi.NewConfig()
	users.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: certs.ca.CertPEM}
	for name, pair := range certs.users {
		users.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: pair.CertPEM, ClientKeyData: pair.KeyPEM}
		users.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name, Namespace: namespace}
	}
	users.CurrentContext = ContextAdmin
	if err := clientcmd.WriteToFile(*users, s.Kubeconfig); err != nil {
		return err
	}
	for name, pair := range map[string]pki.KeyPair{"kube-controller-manager": certs.controllerManager} {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: certs.ca.CertPEM}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: pair.CertPEM, ClientKeyData: pair.KeyPEM}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
		cfg.CurrentContext = name
		if err := clientcmd.WriteToFile(*cfg, s.path(name+".kubeconfig")); err != nil {
			return err
		}
	}
	return nil
}

// writeAdmissionConfiguration gives kube-apiserver, through its
// --admission-control-config-file, a client certificate for gitgate's
// webhook at addr (host:port, how kube-apiserver matches it), and returns
// the file's path.
func (s *Stack) writeAdmissionConfiguration(addr string, certs *stackCerts) (string, error) {
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.AuthInfos[addr] = &clientcmdapi.AuthInfo{ClientCertificateData: certs.admissionClient.CertPEM, ClientKeyData: certs.admissionClient.KeyPEM}
	kubeconfigFile, err := filepath.Abs(s.AdmissionClientKubeconfig()) // kube-apiserver wants it absolute
	if err != nil {
		return "", err
	}
	if err := clientcmd.WriteToFile(*kubeconfig, kubeconfigFile); err != nil {
		return "", err
	}
	config := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ValidatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: %q
- name: MutatingAdmissionWebhook
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: %q
`, kubeconfigFile, kubeconfigFile)
	file := s.path("admission-configuration.yaml")
	return file, os.WriteFile(file, []byte(config), 0o600)
}

func newPool(ca *pki.CA) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}
