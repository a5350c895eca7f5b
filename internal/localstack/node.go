package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The node (Options.Node): containerd, the kubelet and kube-proxy on this
// machine, so that gitgate and the example fleet run in pods. It is given
// an address of its own on a dummy interface, so that all its traffic stays
// inside what the stack made, and it undoes every change it makes to the
// machine when it stops (see machine.go).
const (
	// NodeName is the node's name.
	NodeName = "gitgate-node"
	// NodeIP is the node's address (TEST-NET-1: never routed anywhere),
	// on the interface nodeLink (a bridge with no ports); kube-apiserver and the fleet's Git
	// server listen there too, so that pods reach them.
	NodeIP = "192.0.2.1"
	// PauseImage is the pod sandbox image (hack/images builds it).
	PauseImage = "gitgate.invalid/pause:1"
	// AppImage is the example fleet's workload image, imported under every
	// tag its overlays use (see ImportAppImage for more).
	AppImage = "registry.example.com/app"

	nodeLink  = "gitgate0"
	cniBridge = "gitgate-cni0"
	podCIDR   = "10.244.0.0/24"
)

// nodeImages are the tarballs hack/images writes (make image), imported
// into containerd before the kubelet starts.
var nodeImages = []string{"pause.tar", "gitgate-apiserver.tar", "app.tar", "proxy.tar"}

// nodePackages are the machine's binaries the node needs (Debian packages
// containerd, runc, containernetworking-plugins, iptables: make node-deps).
var nodePackages = []string{"containerd", "ctr", "runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", "iptables-save", "iptables-restore", "ip"}

type node struct {
	s      *Stack
	dir    string
	socket string
	// before is the machine as the node found it; stop restores it.
	before *MachineState
	// containerd, kubelet and proxy are the node's processes (also in s.procs).
	containerd, kubelet, proxy *process
}

// prepareNode checks the machine, records its state and gives the node its
// address. A node left behind by a killed run in the same directory is
// cleaned up first.
func (s *Stack) prepareNode(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("the node needs root (containerd, the kubelet and kube-proxy change the machine's network and cgroups)")
	}
	for _, p := range nodePackages {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is missing: run `make node-deps` (apt-get install containerd runc containernetworking-plugins iptables conntrack)", p)
		}
	}
	for _, f := range nodeImages {
		if _, err := os.Stat(filepath.Join(s.opts.ImagesDir, f)); err != nil {
			return fmt.Errorf("%s is missing: run `make image` first", filepath.Join(s.opts.ImagesDir, f))
		}
	}
	n := &node{s: s, dir: s.path("node")}
	n.socket = filepath.Join(n.dir, "containerd.sock")
	for _, d := range []string{"", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o700); err != nil {
			return err
		}
	}
	before, err := SnapshotMachine(ctx)
	if err != nil {
		return err
	}
	if before.hasNode() {
		return fmt.Errorf("interface %s or bridge %s already exists: another node is running, or one was left behind (stop it, or remove them with `ip link del`)", nodeLink, cniBridge)
	}
	n.before = before
	b, err := json.MarshalIndent(before, "", "  ")
	if err != nil {
		return err
	}
	// Kept outside Dir, which the next run wipes, so that a killed run's
	// machine state can still be restored (RestoreMachine).
	if err := os.WriteFile(s.path("machine-before.json"), b, 0o600); err != nil {
		return err
	}
	s.node = n
	for _, args := range [][]string{
		// A bridge without ports: as good as a dummy interface for an
		// address of its own, and the bridge module is there for the CNI
		// anyway (some kernels here have no dummy module).
		{"link", "add", nodeLink, "type", "bridge"},
		{"addr", "add", NodeIP + "/32", "dev", nodeLink},
		{"link", "set", nodeLink, "up"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// startNode starts kube-scheduler, containerd (with the images imported),
// the kubelet and kube-proxy, and returns once the node is Ready.
func (s *Stack) startNode(ctx context.Context, kubeconfig string) error {
	n := s.node
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	scheduler, err := startProcess("kube-scheduler", s.path("logs"), s.bin("kube-scheduler"),
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", ports[0]), "--leader-elect=false")
	if err != nil {
		return err
	}
	s.procs = append(s.procs, scheduler)

	if err := n.writeConfigs(kubeconfig, ports[1:]); err != nil {
		return err
	}
	n.containerd, err = startProcess("containerd", s.path("logs"), "containerd", "--config", filepath.Join(n.dir, "containerd.toml"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, n.containerd)
	if err := writePIDs(s.opts.Dir, s.procs); err != nil {
		return err
	}
	if err := waitFor(ctx, "containerd", s.procs, func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	}); err != nil {
		return err
	}
	for _, f := range nodeImages {
		if out, err := n.ctr(ctx, "images", "import", filepath.Join(s.opts.ImagesDir, f)); err != nil {
			return fmt.Errorf("importing %s: %w: %s", f, err, out)
		}
	}

	n.kubelet, err = startProcess("kubelet", s.path("logs"), s.bin("kubelet"),
		"--config="+filepath.Join(n.dir, "kubelet.yaml"), "--kubeconfig="+kubeconfig,
		"--root-dir="+filepath.Join(n.dir, "kubelet"), "--hostname-override="+NodeName, "--node-ip="+NodeIP, "--v=1")
	if err != nil {
		return err
	}
	s.procs = append(s.procs, n.kubelet)
	n.proxy, err = startProcess("kube-proxy", s.path("logs"), s.bin("kube-proxy"), "--config="+filepath.Join(n.dir, "kube-proxy.yaml"), "--v=1")
	if err != nil {
		return err
	}
	s.procs = append(s.procs, n.proxy)
	if err := writePIDs(s.opts.Dir, s.procs); err != nil {
		return err
	}
	return waitFor(ctx, "node "+NodeName+" to be Ready", s.procs, func(ctx context.Context) error {
		out, err := s.Kubectl(ctx, ContextAdmin, "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || strings.TrimSpace(out) != "True" {
			return fmt.Errorf("%w: %s %v", errNotYet, out, err)
		}
		return nil
	})
}

// writeConfigs writes containerd's, the CNI's, the kubelet's and
// kube-proxy's configuration; ports: kubelet, kubelet healthz, kube-proxy
// healthz and metrics.
func (n *node) writeConfigs(kubeconfig string, ports []int) error {
	files := map[string]string{
		// restrict_oom_score_adj: root here may lack CAP_SYS_RESOURCE, and
		// runc then fails every sandbox ("can't get final child's PID from
		// pipe: EOF") trying to set the pause container's negative score.
		"containerd.toml": fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
`, filepath.Join(n.dir, "containerd", "root"), filepath.Join(n.dir, "containerd", "state"), n.socket, n.socket+".ttrpc",
			filepath.Join(n.dir, "containerd", "opt"), PauseImage, filepath.Join(n.dir, "cni", "net.d")),
		// A bridge with the node's pod range; no masquerading and no port
		// mapping: pods talk only to the node's own address.
		"cni/net.d/10-gitgate.conflist": fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "gitgate",
  "plugins": [{
    "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}
  }]
}
`, cniBridge, podCIDR, filepath.Join(n.dir, "cni", "ipam")),
		// failCgroupV1: kubelet ≥ 1.35 refuses cgroup v1 otherwise; image
		// GC never runs, or it could drop the imported images; eviction
		// only when the machine is really short.
		"kubelet.yaml": fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
containerRuntimeEndpoint: unix://%[4]s
podLogsDir: %[5]q
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[6]q}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
serializeImagePulls: false
`, NodeIP, ports[0], ports[1], n.socket, filepath.Join(n.dir, "pod-logs"), n.s.CAFile),
		// The machine's conntrack settings and localhost stay as they are:
		// kube-proxy changes no sysctl it need not.
		"kube-proxy.yaml": fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %[1]q}
hostnameOverride: %[2]s
mode: iptables
clusterCIDR: %[3]s
nodePortAddresses: [%[4]s/32]
healthzBindAddress: 127.0.0.1:%[5]d
metricsBindAddress: 127.0.0.1:%[6]d
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, kubeconfig, NodeName, podCIDR, NodeIP, ports[2], ports[3]),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ctr runs containerd's client on the node's containerd, in the
// Kubernetes namespace.
func (n *node) ctr(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.socket, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// ImportAppImage makes the example app's image available on the node under
// another tag (registry.example.com/app:<tag>), for a promotion to run it.
// A tag never imported is one the node cannot run: no registry is reachable.
func (s *Stack) ImportAppImage(ctx context.Context, tag string) error {
	if s.node == nil {
		return errors.New("the stack has no node (Options.Node)")
	}
	out, err := s.node.ctr(ctx, "images", "tag", "--force", AppImage+":version-1.2.3", AppImage+":"+tag)
	if err != nil {
		return fmt.Errorf("ctr images tag: %w: %s", err, out)
	}
	return nil
}

// drain deletes every workload while the kubelet still runs, so that it
// stops their containers and tears their networks down (CNI DEL), and
// returns once containerd runs no task. Flux is stopped by then (it would
// apply the fleet again); gitgate's admission and API go first, as an
// operator uninstalling it would (docs/install.md), since gitgate refuses
// a person's deletion of what Flux manages.
func (n *node) drain(ctx context.Context) {
	if n.kubelet == nil || n.kubelet.exited() != nil {
		return
	}
	s := n.s
	_, _ = s.Kubectl(ctx, ContextAdmin, "delete", "validatingwebhookconfiguration,validatingadmissionpolicy,validatingadmissionpolicybinding", releaseName, "--ignore-not-found")
	_, _ = s.Kubectl(ctx, ContextAdmin, "delete", "apiservice", "v1alpha1.gitgate.dev", "--ignore-not-found")
	_, _ = s.Kubectl(ctx, ContextAdmin, "delete", "deployments,replicasets,statefulsets,daemonsets,jobs", "--all", "--all-namespaces", "--wait=false")
	_ = waitFor(ctx, "the node's pods to stop", nil, func(ctx context.Context) error {
		pods, _ := s.Kubectl(ctx, ContextAdmin, "get", "pods", "--all-namespaces", "--field-selector", "spec.nodeName="+NodeName, "-o", "name")
		tasks, err := n.ctr(ctx, "tasks", "list", "--quiet")
		if strings.TrimSpace(pods) != "" || err != nil || strings.TrimSpace(tasks) != "" {
			// Pods a ReplicaSet made before the garbage collector removed it.
			_, _ = s.Kubectl(ctx, ContextAdmin, "delete", "pods", "--all", "--all-namespaces", "--field-selector", "spec.nodeName="+NodeName, "--grace-period=1", "--wait=false")
			time.Sleep(time.Second)
			return fmt.Errorf("%w: pods %q, tasks %q", errNotYet, pods, tasks)
		}
		return nil
	})
}

// removeContainers ends whatever containers containerd still has (the
// kubelet is stopped by now), so that no shim outlives the node.
func (n *node) removeContainers(ctx context.Context) {
	tasks, _ := n.ctr(ctx, "tasks", "list", "--quiet")
	for _, id := range strings.Fields(tasks) {
		_, _ = n.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(tasks) {
		_ = waitFor(ctx, "task "+id+" to end", nil, func(ctx context.Context) error {
			if _, err := n.ctr(ctx, "tasks", "delete", id); err != nil {
				return fmt.Errorf("%w: %v", errNotYet, err)
			}
			return nil
		})
	}
	containers, _ := n.ctr(ctx, "containers", "list", "--quiet")
	for _, id := range strings.Fields(containers) {
		_, _ = n.ctr(ctx, "containers", "delete", id)
	}
}

// stopNodeHook runs before the stack stops p: the node's containers go
// before containerd does.
func (s *Stack) stopNodeHook(ctx context.Context, p *process) {
	if s.node != nil && p == s.node.containerd {
		s.node.removeContainers(ctx)
	}
}

// restore puts the machine back as the node found it.
func (n *node) restore(ctx context.Context) error {
	return RestoreMachine(ctx, n.before, n.dir)
}

// NodeTeardownTimeout bounds how long Stop waits for the node's pods and
// containers to end.
const NodeTeardownTimeout = 2 * time.Minute

// KillContainer sends SIGKILL to a container's process on the node (its
// status' containerID, containerd://<id>): no graceful shutdown, as when
// the process crashes or the kernel's OOM killer ends it.
func (s *Stack) KillContainer(ctx context.Context, containerID string) error {
	if s.node == nil {
		return errors.New("the stack has no node (Options.Node)")
	}
	id := strings.TrimPrefix(containerID, "containerd://")
	if out, err := s.node.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id); err != nil {
		return fmt.Errorf("ctr tasks kill %s: %w: %s", id, err, out)
	}
	return nil
}
