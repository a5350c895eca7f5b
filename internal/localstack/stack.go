// Package localstack runs gitgate's local stack: etcd, kube-apiserver with
// RBAC and aggregation, a Git server with the example fleet, and
// gitgate-apiserver registered through an APIService — each a child
// process of the caller. `make run` and the end-to-end tests both use it.
package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/gitgate-dev/gitgate/internal/gitserver"
	"github.com/gitgate-dev/gitgate/internal/pki"
)

// Options configure a stack.
type Options struct {
	// RepoRoot is the gitgate checkout: bin/ holds the binaries, artifacts/
	// the example fleet and RBAC.
	RepoRoot string
	// Dir receives certificates, kubeconfig, logs and data; it is wiped first.
	Dir string
	// PollInterval is how often gitgate fetches the fleet; default 2s.
	PollInterval time.Duration
	// StartTimeout bounds the whole start; default 3 minutes.
	StartTimeout time.Duration
	// FluxInterval is how often Flux fetches the fleet and reconciles each
	// environment; default 10s.
	FluxInterval time.Duration
	// Node runs a node (containerd, kubelet, kube-proxy, kube-scheduler;
	// node.go) and installs gitgate with `helm install` of charts/gitgate
	// as a user would, instead of running gitgate-apiserver as a process.
	// Flux waits for the fleet's workloads to be healthy. Needs root, the
	// node's Debian packages (make node-deps) and the images (make image).
	Node bool
	// ImagesDir holds the image tarballs for the node; default
	// RepoRoot/_output/images.
	ImagesDir string
}

// Stack is a running local stack.
type Stack struct {
	opts Options
	// Kubeconfig has the contexts admin, alice and bob.
	Kubeconfig string
	// Namespace is the example namespace, bound to the fleet repository.
	Namespace string
	// GitURL clones the fleet (credentials included; trust CAFile).
	GitURL string
	// CAFile is the stack's CA certificate: it signs every serving certificate.
	CAFile string
	// GitgateURL is gitgate-apiserver's own address (its /metrics, /readyz).
	GitgateURL string
	// Git is the fleet's Git server; stop and restart it to test outages.
	Git *gitserver.Server
	// ReceiverURL is the fleet's push-webhook address; WebhookToken
	// authenticates notifications to it.
	ReceiverURL, WebhookToken string
	// AdmissionAddr is gitgate's admission webhook (host:port, HTTPS,
	// /validate); it answers only kube-apiserver's client certificate.
	AdmissionAddr string

	procs         []*process
	gitgate       *process
	gitgateArgs   []string
	admissionPort int
	// admissionFlags are the --admission-* flags gitgate-apiserver runs
	// with beyond the stack's own; the webhook is rendered with them too.
	admissionFlags []string
	// fleets are the repositories bound beyond the example fleet (fleets.go).
	fleets fleetSet
	// host is the address the stack's servers listen on: loopback, or the
	// node's address when there is a node, so that pods reach them.
	host string
	// node is the stack's node, if Options.Node.
	node *node
}

// Admission enforcement modes.
const (
	// AdmissionWebhook: gitgate-apiserver's validating webhook.
	AdmissionWebhook = "webhook"
	// AdmissionPolicy: the ValidatingAdmissionPolicy that
	// `gitgate-apiserver render-policy` prints, evaluated by kube-apiserver.
	AdmissionPolicy = "policy"
	// AdmissionNone: no enforcement (for comparisons).
	AdmissionNone = "none"
)

// admissionProbe is a change every mode refuses; its refusal tells which
// mode is in force.
const admissionProbe = `apiVersion: v1
kind: ConfigMap
metadata:
  name: gitgate-admission-probe
  namespace: default
  labels: {kustomize.toolkit.fluxcd.io/name: probe}
`

// SetAdmissionMode switches enforcement between the webhook and the
// ValidatingAdmissionPolicy, and returns once the new mode answers.
func (s *Stack) SetAdmissionMode(ctx context.Context, mode string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if s.opts.Node {
		// The chart's admission objects: switched as a user would.
		if _, err := s.Helm(ctx, "upgrade", releaseName, s.ChartPath(), "--namespace", releaseNamespace, "--reuse-values", "--set", "admission.mode="+mode); err != nil {
			return err
		}
		return s.waitForAdmission(ctx, mode)
	}
	switch mode {
	case AdmissionWebhook:
		if err := s.applyWebhook(ctx); err != nil {
			return err
		}
		if _, err := s.Kubectl(ctx, ContextAdmin, "delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", "gitgate", "--ignore-not-found"); err != nil {
			return err
		}
	case AdmissionPolicy:
		policy, err := exec.CommandContext(ctx, s.bin("gitgate-apiserver"), "render-policy").Output()
		if err != nil {
			return fmt.Errorf("gitgate-apiserver render-policy: %w", err)
		}
		if err := os.WriteFile(s.path("policy.yaml"), policy, 0o600); err != nil {
			return err
		}
		if err := s.apply(ctx, s.path("policy.yaml")); err != nil {
			return err
		}
		if _, err := s.Kubectl(ctx, ContextAdmin, "delete", "validatingwebhookconfiguration", "gitgate", "--ignore-not-found"); err != nil {
			return err
		}
	case AdmissionNone:
		if _, err := s.Kubectl(ctx, ContextAdmin, "delete", "validatingwebhookconfiguration,validatingadmissionpolicy,validatingadmissionpolicybinding", "gitgate", "--ignore-not-found"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown admission mode %q: use %s, %s or %s", mode, AdmissionWebhook, AdmissionPolicy, AdmissionNone)
	}
	return s.waitForAdmission(ctx, mode)
}

// waitForAdmission returns once the probe shows mode in force.
func (s *Stack) waitForAdmission(ctx context.Context, mode string) error {
	marker := map[string]string{
		AdmissionWebhook: "In an emergency", // only the webhook offers break-glass
		AdmissionPolicy:  "policy mode",
	}[mode]
	return waitFor(ctx, "admission mode "+mode, s.procs, func(ctx context.Context) error {
		out, err := s.KubectlStdin(ctx, ContextAdmin, []byte(admissionProbe), "create", "--dry-run=server", "-f", "-")
		switch {
		case mode == AdmissionNone && err == nil:
			return nil
		case mode != AdmissionNone && err != nil && strings.Contains(out, marker):
			return nil
		}
		return fmt.Errorf("%w: %s", errNotYet, out)
	})
}

// Users of the stack's kubeconfig.
const (
	ContextAdmin = "admin" // system:masters
	ContextAlice = "alice" // group shop-developers: promote into dev and test
	ContextBob   = "bob"   // group shop-release-managers: promote into prod too
)

const (
	namespace = "shop"
	gitUser   = "fleet"
)

//go:embed manifests.yaml.tmpl
var manifestsTemplate string

// Start brings the stack up and returns once kubectl can use gitgate.dev.
// A stack left behind by a killed run in the same Dir is cleaned up first.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.PollInterval == 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.FluxInterval == 0 {
		opts.FluxInterval = 10 * time.Second
	}
	if opts.ImagesDir == "" {
		opts.ImagesDir = filepath.Join(opts.RepoRoot, "_output", "images")
	}
	bins := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "sealed-secrets-controller", "source-controller", "kustomize-controller", "gitgate-apiserver", "kubectl-create-promotion", "kubectl-gitgate", "helm"}
	if opts.Node {
		bins = append(bins, "kube-scheduler", "kubelet", "kube-proxy")
	}
	for _, bin := range bins {
		if _, err := os.Stat(filepath.Join(opts.RepoRoot, "bin", bin)); err != nil {
			return nil, fmt.Errorf("bin/%s is missing: run `make tools build` first", bin)
		}
	}
	if err := CleanUpStale(ctx, opts.Dir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, err
	}
	for _, d := range []string{"pki", "logs", "git", "etcd"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	s := &Stack{opts: opts, Namespace: namespace, Kubeconfig: filepath.Join(opts.Dir, "kubeconfig"), host: "127.0.0.1"}
	if opts.Node {
		s.host = NodeIP
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Stack) path(parts ...string) string {
	return filepath.Join(append([]string{s.opts.Dir}, parts...)...)
}
func (s *Stack) bin(name string) string { return filepath.Join(s.opts.RepoRoot, "bin", name) }

func (s *Stack) start(ctx context.Context) error {
	ports, err := freePorts(7)
	if err != nil {
		return err
	}
	etcdPort, etcdPeerPort, kubePort, gitgatePort, kcmPort, admissionPort, receiverPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	s.ReceiverURL = fmt.Sprintf("https://127.0.0.1:%d/hooks/shop-fleet", receiverPort)
	s.WebhookToken = randomToken()
	s.GitgateURL = fmt.Sprintf("https://127.0.0.1:%d", gitgatePort)
	certs, err := s.writePKI()
	if err != nil {
		return err
	}
	s.CAFile = s.path("pki", "ca.crt")
	// kube-apiserver authenticates to gitgate's webhook, which answers no one else.
	s.AdmissionAddr = fmt.Sprintf("127.0.0.1:%d", admissionPort)
	if s.opts.Node {
		// The chart's webhook, through its Service: kube-apiserver matches
		// the client certificate by the Service's DNS name and port.
		s.AdmissionAddr = fmt.Sprintf("%s.%s.svc:%d", releaseName, releaseNamespace, chartAdmissionPort)
		s.GitgateURL, s.ReceiverURL = "", ""
		if err := s.prepareNode(ctx); err != nil {
			return err
		}
	}
	admissionConfig, err := s.writeAdmissionConfiguration(s.AdmissionAddr, certs)
	if err != nil {
		return err
	}

	// etcd, then kube-apiserver.
	etcd, err := startProcess("etcd", s.path("logs"), s.bin("etcd"),
		"--name=default", "--data-dir="+s.path("etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", etcdPort),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", etcdPort),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", etcdPeerPort),
		"--log-level=warn", "--quota-backend-bytes=1073741824")
	if err != nil {
		return err
	}
	s.procs = append(s.procs, etcd)
	kubeArgs := []string{"--endpoint-reconciler-type=none"}
	if s.opts.Node {
		// Pods reach kube-apiserver through the kubernetes Service, whose
		// endpoint is the advertised address; the aggregator and the
		// webhook client reach gitgate's pods through their Services'
		// endpoints (no kube-proxy on the control plane's path).
		kubeArgs = []string{"--enable-aggregator-routing=true", "--kubelet-preferred-address-types=InternalIP",
			"--kubelet-client-certificate=" + s.path("pki", "kube-apiserver-kubelet-client.crt"),
			"--kubelet-client-key=" + s.path("pki", "kube-apiserver-kubelet-client.key")}
	}
	kube, err := startProcess("kube-apiserver", s.path("logs"), s.bin("kube-apiserver"), append([]string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=" + s.host, "--advertise-address=" + s.host, fmt.Sprintf("--secure-port=%d", kubePort),
		"--tls-cert-file=" + s.path("pki", "kube-apiserver.crt"), "--tls-private-key-file=" + s.path("pki", "kube-apiserver.key"),
		"--client-ca-file=" + s.path("pki", "ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + s.path("pki", "sa.pub"), "--service-account-signing-key-file=" + s.path("pki", "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		"--requestheader-client-ca-file=" + s.path("pki", "front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + s.path("pki", "front-proxy-client.crt"), "--proxy-client-key-file=" + s.path("pki", "front-proxy-client.key"),
		"--cert-dir=" + s.path("pki", "kube-apiserver-generated"),
		"--admission-control-config-file=" + admissionConfig,
		"--profiling=false"}, kubeArgs...)...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, kube)
	if err := writePIDs(s.opts.Dir, s.procs); err != nil {
		return err
	}
	kubeURL := fmt.Sprintf("https://%s:%d", s.host, kubePort)
	if err := s.writeKubeconfigs(kubeURL, certs); err != nil {
		return err
	}
	if err := waitFor(ctx, "kube-apiserver /readyz", s.procs, func(ctx context.Context) error {
		return getOK(ctx, certs.admin, certs.ca, kubeURL+"/readyz")
	}); err != nil {
		return err
	}

	// The controllers that matter here: namespace deletion, garbage
	// collection, Deployments and ReplicaSets; with a node, all of them
	// (EndpointSlices, the root CA ConfigMap, disruption budgets, ...).
	controllers := "namespace,garbagecollector,deployment,replicaset,serviceaccount,serviceaccount-token,clusterrole-aggregation"
	if s.opts.Node {
		controllers = "*"
	}
	kcm, err := startProcess("kube-controller-manager", s.path("logs"), s.bin("kube-controller-manager"),
		"--kubeconfig="+s.path("kube-controller-manager.kubeconfig"),
		"--authentication-kubeconfig="+s.path("kube-controller-manager.kubeconfig"),
		"--authorization-kubeconfig="+s.path("kube-controller-manager.kubeconfig"),
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", kcmPort), "--leader-elect=false",
		"--controllers="+controllers,
		"--service-account-private-key-file="+s.path("pki", "sa.key"), "--root-ca-file="+s.path("pki", "ca.crt"),
		"--cert-dir="+s.path("pki", "kube-controller-manager-generated"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, kcm)
	if err := writePIDs(s.opts.Dir, s.procs); err != nil {
		return err
	}

	if s.opts.Node {
		if err := s.startNode(ctx, s.path("kube-controller-manager.kubeconfig")); err != nil {
			return err
		}
	}

	// The fleet's Git server, over HTTPS with basic auth.
	if err := s.startGit(ctx, certs); err != nil {
		return err
	}

	// Cluster objects: namespaces, credentials, RBAC, Service, APIService.
	if err := s.applyManifests(ctx, gitgatePort, certs); err != nil {
		return err
	}

	// The Sealed Secrets controller generates its key while the rest
	// starts; Flux's API is there before gitgate, which reads it.
	if err := s.startSealedSecrets(ctx, kubePort); err != nil {
		return err
	}
	if err := s.installFluxAPI(ctx); err != nil {
		return err
	}
	if err := s.startFlux(ctx, kubeURL, certs); err != nil {
		return err
	}

	if s.opts.Node {
		return s.startChart(ctx)
	}

	// gitgate-apiserver, with the chart's ServiceAccount, RBAC and configuration.
	configFile := s.path("gitgate-config.yaml")
	if err := s.BindNamespaces(namespace); err != nil {
		return err
	}
	if err := s.applyChartRBAC(ctx); err != nil {
		return err
	}
	serverKubeconfig, err := s.serviceAccountKubeconfig(ctx, kubeURL, releaseNamespace, serverServiceAccount)
	if err != nil {
		return err
	}
	// The approval key every replica shares (the chart keeps it in a Secret).
	approvalKey := s.path("pki", "approval.key")
	if err := os.WriteFile(approvalKey, []byte(randomToken()+randomToken()+randomToken()), 0o600); err != nil {
		return fmt.Errorf("writing the approval key: %w", err)
	}
	s.gitgateArgs = []string{
		"--approval-key-file=" + approvalKey,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", gitgatePort),
		"--tls-cert-file=" + s.path("pki", "gitgate-apiserver.crt"), "--tls-private-key-file=" + s.path("pki", "gitgate-apiserver.key"),
		"--kubeconfig=" + serverKubeconfig,
		"--authentication-kubeconfig=" + serverKubeconfig,
		"--authorization-kubeconfig=" + serverKubeconfig,
		"--config=" + configFile, "--cert-dir=" + s.path("pki", "gitgate-generated"),
		"--admission-bind-address=127.0.0.1", fmt.Sprintf("--admission-port=%d", admissionPort),
		"--admission-client-ca-file=" + s.path("pki", "ca.crt"), "--admission-client-allowed-names=" + AdmissionWebhookClientName,
		"--receiver-bind-address=127.0.0.1", fmt.Sprintf("--receiver-port=%d", receiverPort),
	}
	if err := s.startGitgate(); err != nil {
		return err
	}
	if err := s.waitForServing(ctx, namespace); err != nil {
		return err
	}
	// Admission last: from here on, Git is the only door.
	s.admissionPort = admissionPort
	if err := s.SetAdmissionMode(ctx, AdmissionWebhook); err != nil {
		return err
	}
	return s.writeEnvFile()
}

// BindNamespaces rewrites gitgate's configuration, as the chart renders it,
// so that the fleet repository serves these namespaces; the server reloads
// it by itself.
func (s *Stack) BindNamespaces(namespaces ...string) error {
	s.fleets.mu.Lock()
	defer s.fleets.mu.Unlock()
	s.fleets.shop = namespaces
	if s.opts.Node {
		repos, err := s.chartRepositories(namespaces)
		if err != nil {
			return err
		}
		// The pods reload the ConfigMap by themselves once the kubelet
		// updates their volume.
		_, err = s.Helm(context.Background(), "upgrade", releaseName, s.ChartPath(), "--namespace", releaseNamespace, "--reuse-values", "--set-json", "config.repositories="+repos)
		return err
	}
	return s.writeChartConfig(context.Background(), namespaces)
}

// startGitgate starts gitgate-apiserver with the stack's arguments and any extra ones.
func (s *Stack) startGitgate(extra ...string) error {
	server, err := startProcess("gitgate-apiserver", s.path("logs"), s.bin("gitgate-apiserver"), append(append([]string(nil), s.gitgateArgs...), extra...)...)
	if err != nil {
		return err
	}
	s.gitgate, s.admissionFlags = server, admissionFlags(extra)
	s.procs = append(s.procs, server)
	return writePIDs(s.opts.Dir, s.procs)
}

// RestartGitgate restarts gitgate-apiserver with extra flags (none: the
// stack's own) and returns once its API and its webhook answer again.
func (s *Stack) RestartGitgate(ctx context.Context, extra ...string) error {
	if s.gitgate == nil {
		return errNoProcess
	}
	s.gitgate.stop(10 * time.Second)
	kept := s.procs[:0]
	for _, p := range s.procs {
		if p != s.gitgate {
			kept = append(kept, p)
		}
	}
	s.procs = kept
	if err := s.startGitgate(extra...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := waitFor(ctx, "gitgate-apiserver to serve again", s.procs, func(ctx context.Context) error {
		if _, err := s.Kubectl(ctx, ContextAdmin, "get", "environment", "prod", "-n", namespace); err != nil {
			return fmt.Errorf("%w: %v", errNotYet, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return s.SetAdmissionMode(ctx, AdmissionWebhook)
}

// AdmissionClientKubeconfig is the kubeconfig that gives kube-apiserver its
// client certificate for gitgate's webhook (what an attacker would have to
// steal to be heard by the webhook).
func (s *Stack) AdmissionClientKubeconfig() string {
	return s.path("pki", "admission-webhook-client.kubeconfig")
}

// Kubectl runs the stack's kubectl binary as a context's user.
func (s *Stack) Kubectl(ctx context.Context, kubeContext string, args ...string) (string, error) {
	return s.KubectlStdin(ctx, kubeContext, nil, args...)
}

// KubectlStdin is Kubectl with standard input.
func (s *Stack) KubectlStdin(ctx context.Context, kubeContext string, stdin []byte, args ...string) (string, error) {
	return s.run(ctx, stdin, append([]string{"--kubeconfig=" + s.Kubeconfig, "--context=" + kubeContext}, args...)...)
}

// KubectlPlugin runs a plugin command through kubectl ("create promotion
// ...", "gitgate ..."): kubectl finds plugins only when their words come
// before any flag, so the user's flags go last.
func (s *Stack) KubectlPlugin(ctx context.Context, kubeContext string, args ...string) (string, error) {
	return s.KubectlPluginStdin(ctx, kubeContext, nil, args...)
}

// KubectlPluginStdin is KubectlPlugin with standard input.
func (s *Stack) KubectlPluginStdin(ctx context.Context, kubeContext string, stdin []byte, args ...string) (string, error) {
	return s.run(ctx, stdin, append(args, "--kubeconfig="+s.Kubeconfig, "--context="+kubeContext)...)
}

// run runs kubectl with bin/ first on PATH, so that it finds gitgate's plugins.
func (s *Stack) run(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin("kubectl"), args...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(s.opts.RepoRoot, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// KubectlPath is the kubectl binary the stack uses.
func (s *Stack) KubectlPath() string { return s.bin("kubectl") }

// Logs returns the path of a child's log: etcd, kube-apiserver or gitgate-apiserver.
func (s *Stack) Logs(name string) string { return s.path("logs", name+".log") }

// Running lists the children that have not exited, as name/pid.
func (s *Stack) Running() []string {
	var out []string
	for _, p := range s.procs {
		if err := syscall.Kill(p.cmd.Process.Pid, 0); err == nil && p.exited() == nil {
			out = append(out, fmt.Sprintf("%s/%d", p.name, p.cmd.Process.Pid))
		}
	}
	return out
}

// Stop ends every child and the Git server; nothing is left listening.
// With a node, the workloads go first, and the machine is put back as the
// node found it (StopNode's error says what could not be).
func (s *Stack) Stop() {
	_ = s.StopNode()
}

// StopNode is Stop, returning what the node's teardown could not restore.
func (s *Stack) StopNode() error {
	ctx, cancel := context.WithTimeout(context.Background(), NodeTeardownTimeout)
	defer cancel()
	i := len(s.procs) - 1
	if s.node != nil && s.node.proxy != nil {
		// What started after the node (Flux, Sealed Secrets) stops first:
		// Flux would apply the workloads again while the node drains.
		for ; i >= 0 && s.procs[i] != s.node.proxy; i-- {
			s.procs[i].stop(10 * time.Second)
		}
		s.node.drain(ctx)
	}
	for ; i >= 0; i-- {
		s.stopNodeHook(ctx, s.procs[i])
		s.procs[i].stop(10 * time.Second)
	}
	if s.Git != nil {
		_ = s.Git.Stop()
	}
	var err error
	if s.node != nil {
		err = s.node.restore(ctx)
		s.node = nil
	}
	_ = os.Remove(s.path(pidFile))
	return err
}

func (s *Stack) startGit(ctx context.Context, certs *stackCerts) error {
	pair, err := certs.ca.Issue(pki.Request{CommonName: "git", DNSNames: []string{"localhost"}, IPs: s.serverIPs(), Server: true})
	if err != nil {
		return err
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		return err
	}
	password := randomToken()
	git, err := gitserver.Start(gitserver.Options{
		Root: s.path("git"), Username: gitUser, Password: password, Addr: s.host + ":0",
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		return err
	}
	s.Git = git
	if _, err := git.InitRepository(ctx, "fleet", filepath.Join(s.opts.RepoRoot, "artifacts", "fleet", "trunk"), "main"); err != nil {
		return err
	}
	s.GitURL = strings.Replace(git.URL("fleet"), "https://", "https://"+gitUser+":"+password+"@", 1)
	certs.gitPassword = password
	return nil
}

func (s *Stack) applyManifests(ctx context.Context, gitgatePort int, certs *stackCerts) error {
	err := s.applyTemplate(ctx, manifestsTemplate, "manifests.yaml", map[string]any{
		"Namespace": namespace, "ServerPort": gitgatePort,
		"GitUser": gitUser, "GitPassword": certs.gitPassword, "WebhookToken": s.WebhookToken,
		"GitCA":     base64.StdEncoding.EncodeToString(certs.ca.CertPEM),
		"ServingCA": base64.StdEncoding.EncodeToString(certs.ca.CertPEM),
		"Node":      s.opts.Node,
		"ClientCA":  jsonString(string(certs.ca.CertPEM)),
	})
	if err != nil {
		return err
	}
	return s.apply(ctx, filepath.Join(s.opts.RepoRoot, "artifacts", "rbac", "shop-teams.yaml"))
}

// applyTemplate renders a manifest template into the stack's directory and applies it.
func (s *Stack) applyTemplate(ctx context.Context, text, file string, data map[string]any) error {
	tmpl, err := template.New(file).Parse(text)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	if err := os.WriteFile(s.path(file), buf.Bytes(), 0o600); err != nil {
		return err
	}
	return s.apply(ctx, s.path(file))
}

func (s *Stack) apply(ctx context.Context, file string) error {
	return waitFor(ctx, "kubectl apply -f "+filepath.Base(file), s.procs, func(ctx context.Context) error {
		_, err := s.Kubectl(ctx, ContextAdmin, "apply", "--server-side", "--field-manager=gitgate-localstack", "-f", file)
		return err
	})
}

func (s *Stack) writeEnvFile() error {
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport GITGATE_GIT_URL='%s'\nexport GITGATE_NAMESPACE=%s\nexport GIT_SSL_CAINFO=%s\nexport PATH=%s:$PATH\n",
		s.Kubeconfig, s.GitURL, namespace, s.CAFile, filepath.Join(s.opts.RepoRoot, "bin"))
	return os.WriteFile(s.path("env"), []byte(env), 0o600)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func getOK(ctx context.Context, client pki.KeyPair, ca *pki.CA, url string) error {
	cert, err := client.TLSCertificate()
	if err != nil {
		return err
	}
	pool := newPool(ca)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s", errNotYet, url, resp.Status)
	}
	return nil
}

// jsonString quotes s as a JSON string, which YAML reads as a double-quoted scalar.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// waitForServing waits until gitgate serves: the APIService is Available,
// the fleet's environments list in namespace, the Sealed Secrets
// controller's certificate is reachable and Flux is ready.
func (s *Stack) waitForServing(ctx context.Context, namespace string) error {
	if err := waitFor(ctx, "APIService v1alpha1.gitgate.dev to be Available", s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "apiservice", "v1alpha1.gitgate.dev",
			"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
		if err != nil || strings.TrimSpace(out) != "True" {
			return fmt.Errorf("%w: %s %v", errNotYet, out, err)
		}
		return nil
	}); err != nil {
		return err
	}
	// Right after install, discovery may answer 401 until the pods load
	// the front-proxy CA: wait until the API really answers.
	if err := waitFor(ctx, "the fleet's environments", s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "environments", "-n", namespace, "-o", "name")
		if err != nil || !strings.Contains(out, "environment.gitgate.dev/prod") {
			return fmt.Errorf("%w: %s %v", errNotYet, out, err)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, "the Sealed Secrets controller's certificate through the service proxy", s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "--raw", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem")
		if err != nil || !strings.Contains(out, "BEGIN CERTIFICATE") {
			return fmt.Errorf("%w: %v", errNotYet, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return s.waitForFlux(ctx)
}
