package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MachineState is what the node may change on the machine: the node's
// teardown restores it, and the node tests compare it before and after.
type MachineState struct {
	// Sysctls the kubelet, kube-proxy and the CNI bridge set, by name.
	Sysctls map[string]string `json:"sysctls"`
	// Chains are the iptables chains, as "iptables <table> <chain>" (and ip6tables).
	Chains []string `json:"chains"`
	// NftTables are the nftables tables (iptables-nft makes one per table it uses).
	NftTables []string `json:"nftTables"`
	// Links are the network interfaces.
	Links []string `json:"links"`
	// Mounts are the mount points.
	Mounts []string `json:"mounts"`
	// Paths are the host paths a node may create that exist.
	Paths []string `json:"paths"`
	// Cgroups are the kubepods cgroups that exist.
	Cgroups []string `json:"cgroups"`
	// Modules are the loaded kernel modules: a node loads some (bridge,
	// br_netfilter, veth, overlay...) and they stay loaded: unloading a
	// module something else may use is not safe. Diff leaves them out.
	Modules []string `json:"modules"`
}

// nodeSysctls are the kernel settings the node's parts change: the
// kubelet's kernel tunables, kube-proxy's and the bridge's forwarding and
// netfilter settings.
var nodeSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding",
	"net/ipv4/conf/all/route_localnet", "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
	"net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait", "net/netfilter/nf_conntrack_tcp_be_liberal",
}

// nodeHostPaths are the fixed host paths containerd, the kubelet and the CNI
// plugins write to whatever their configuration says.
var nodeHostPaths = []string{
	"/run/containerd", "/run/netns", "/var/lib/cni", "/var/log/containers", "/var/log/pods",
	"/var/lib/kubelet", "/var/lib/containerd", "/etc/cni", "/opt/cni", "/etc/kubernetes",
}

// SnapshotMachine records the machine's state.
func SnapshotMachine(ctx context.Context) (*MachineState, error) {
	m := &MachineState{Sysctls: map[string]string{}}
	for _, name := range nodeSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", name)); err == nil {
			m.Sysctls[name] = strings.TrimSpace(string(b))
		}
	}
	for _, family := range []string{"iptables", "ip6tables"} {
		chains, err := iptablesChains(ctx, family)
		if err != nil {
			return nil, err
		}
		for table, names := range chains {
			for _, c := range names {
				m.Chains = append(m.Chains, family+" "+table+" "+c)
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "nft", "list", "tables").Output(); err == nil {
		m.NftTables = nonEmptyLines(string(out))
	}
	links, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		m.Links = append(m.Links, l.Name())
	}
	m.Mounts = mountPoints()
	for _, p := range nodeHostPaths {
		if _, err := os.Lstat(p); err == nil {
			m.Paths = append(m.Paths, p)
		}
	}
	m.Cgroups = kubepodsCgroups()
	if b, err := os.ReadFile("/proc/modules"); err == nil {
		for _, line := range nonEmptyLines(string(b)) {
			m.Modules = append(m.Modules, strings.Fields(line)[0])
		}
	}
	for _, l := range [][]string{m.Chains, m.NftTables, m.Links, m.Mounts, m.Paths, m.Cgroups, m.Modules} {
		sort.Strings(l)
	}
	return m, nil
}

// Diff lists how the machine differs from before (kernel modules aside).
func (m *MachineState) Diff(before *MachineState) []string {
	var out []string
	for name, v := range before.Sysctls {
		if m.Sysctls[name] != v {
			out = append(out, fmt.Sprintf("sysctl %s: %s, was %s", name, m.Sysctls[name], v))
		}
	}
	for _, l := range []struct {
		what          string
		before, after []string
	}{
		{"iptables chain", before.Chains, m.Chains}, {"nftables table", before.NftTables, m.NftTables},
		{"link", before.Links, m.Links}, {"mount", before.Mounts, m.Mounts}, {"path", before.Paths, m.Paths},
		{"cgroup", before.Cgroups, m.Cgroups},
	} {
		added, removed := setDiff(l.before, l.after)
		for _, a := range added {
			out = append(out, l.what+" added: "+a)
		}
		for _, r := range removed {
			out = append(out, l.what+" removed: "+r)
		}
	}
	sort.Strings(out)
	return out
}

// ModulesAdded lists the kernel modules loaded since before.
func (m *MachineState) ModulesAdded(before *MachineState) []string {
	added, _ := setDiff(before.Modules, m.Modules)
	return added
}

func (m *MachineState) hasNode() bool {
	for _, l := range m.Links {
		if l == nodeLink || l == cniBridge {
			return true
		}
	}
	return false
}

// RestoreMachine undoes what a node changed since before: mounts under the
// node's directory and the fixed host paths, network namespaces, the
// node's interfaces, iptables chains KUBE-* and CNI-* (and the nftables
// tables iptables made for them), kubepods cgroups, host paths and
// sysctls. The node's processes must be gone.
func RestoreMachine(ctx context.Context, before *MachineState, nodeDir string) error {
	var errs []error
	// What a killed run left running: its containers' processes (in the
	// kubepods cgroups it made) and containerd's shims for its socket.
	if err := killNodeProcesses(before, nodeDir); err != nil {
		errs = append(errs, err)
	}
	prefixes := []string{nodeDir}
	for _, p := range nodeHostPaths {
		if !contains(before.Paths, p) {
			prefixes = append(prefixes, p)
		}
	}
	// Mounts, deepest first.
	mounts := mountPoints()
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, mp := range mounts {
		if contains(before.Mounts, mp) || !underAny(mp, prefixes) {
			continue
		}
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mp, err))
		}
	}
	// Interfaces: the node's, and any veth a pod left.
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		name := l.Name()
		if contains(before.Links, name) || !(name == nodeLink || name == cniBridge || strings.HasPrefix(name, "veth")) {
			continue
		}
		if out, err := exec.CommandContext(ctx, "ip", "link", "del", name).CombinedOutput(); err != nil {
			// A pod's veth goes by itself once its network namespace
			// does (the pod's processes were just killed).
			if _, statErr := os.Stat(filepath.Join("/sys/class/net", name)); !os.IsNotExist(statErr) {
				errs = append(errs, fmt.Errorf("ip link del %s: %w: %s", name, err, out))
			}
		}
	}
	errs = append(errs, restoreIptables(ctx, before))
	// Cgroups, leaves first.
	for _, root := range kubepodsCgroups() {
		if contains(before.Cgroups, root) {
			continue
		}
		if err := removeCgroupTree(root); err != nil {
			errs = append(errs, err)
		}
	}
	// Host paths the node created, and its network namespaces.
	for _, p := range prefixes[1:] {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if contains(before.Paths, "/run/netns") {
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "cni-") {
				_ = os.Remove(filepath.Join("/run/netns", e.Name()))
			}
		}
	}
	// Symlinks the kubelet made to the node's pod logs.
	if contains(before.Paths, "/var/log/containers") {
		entries, _ := os.ReadDir("/var/log/containers")
		for _, e := range entries {
			p := filepath.Join("/var/log/containers", e.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, nodeDir) {
				_ = os.Remove(p)
			}
		}
	}
	for name, v := range before.Sysctls {
		if !contains(nodeSysctls, name) {
			continue // only what the node changes, whatever a record says
		}
		file := filepath.Join("/proc/sys", name)
		if b, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(b)) != v {
			if err := os.WriteFile(file, []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restoring sysctl %s to %s: %w", name, v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// restoreIptables removes the KUBE-* and CNI-* chains made since before,
// the rules that jump to them, and nftables tables iptables-nft made for
// them once they are empty.
func restoreIptables(ctx context.Context, before *MachineState) error {
	var errs []error
	for _, family := range []string{"iptables", "ip6tables"} {
		out, err := exec.CommandContext(ctx, family+"-save").Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s-save: %w", family, err))
			continue
		}
		var script, deletes, flushes, removes strings.Builder
		table := ""
		isNew := map[string]bool{}
		lines := nonEmptyLines(string(out))
		for _, line := range lines {
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, ":"):
				chain := strings.Fields(line[1:])[0]
				if (strings.HasPrefix(chain, "KUBE-") || strings.HasPrefix(chain, "CNI-")) && !contains(before.Chains, family+" "+table+" "+chain) {
					isNew[table+" "+chain] = true
				}
			}
		}
		for _, line := range lines {
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
				deletes.Reset()
				flushes.Reset()
				removes.Reset()
			case strings.HasPrefix(line, ":"):
				chain := strings.Fields(line[1:])[0]
				if isNew[table+" "+chain] {
					fmt.Fprintf(&flushes, "-F %s\n", chain)
					fmt.Fprintf(&removes, "-X %s\n", chain)
				}
			case strings.HasPrefix(line, "-A "):
				fields := strings.Fields(line)
				if isNew[table+" "+fields[1]] {
					continue // flushed with its chain
				}
				for i, f := range fields {
					if (f == "-j" || f == "-g") && i+1 < len(fields) && isNew[table+" "+fields[i+1]] {
						fmt.Fprintf(&deletes, "-D %s\n", strings.TrimPrefix(line, "-A "))
						break
					}
				}
			case line == "COMMIT":
				if flushes.Len() > 0 || deletes.Len() > 0 {
					fmt.Fprintf(&script, "*%s\n%s%s%sCOMMIT\n", table, deletes.String(), flushes.String(), removes.String())
				}
			}
		}
		if script.Len() == 0 {
			continue
		}
		cmd := exec.CommandContext(ctx, family+"-restore", "--noflush")
		cmd.Stdin = strings.NewReader(script.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore: %w: %s\n%s", family, err, out, script.String()))
		}
	}
	// Tables iptables-nft made that hold no rule now.
	if out, err := exec.CommandContext(ctx, "nft", "list", "tables").Output(); err == nil {
		for _, t := range nonEmptyLines(string(out)) {
			if contains(before.NftTables, t) {
				continue
			}
			fields := strings.Fields(t) // table <family> <name>
			if len(fields) != 3 {
				continue
			}
			rules, err := exec.CommandContext(ctx, "nft", "list", "table", fields[1], fields[2]).Output()
			if err != nil || hasRules(string(rules)) {
				continue
			}
			if out, err := exec.CommandContext(ctx, "nft", "delete", "table", fields[1], fields[2]).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("nft delete table %s %s: %w: %s", fields[1], fields[2], err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// hasRules reports whether nft's listing of a table has a rule: a line in
// a chain that is neither the chain's header nor its "type ... hook" line.
func hasRules(listing string) bool {
	for _, line := range nonEmptyLines(listing) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "table "), strings.HasPrefix(line, "chain "), strings.HasPrefix(line, "type "), line == "}":
		default:
			return true
		}
	}
	return false
}

// iptablesChains lists each table's chains.
func iptablesChains(ctx context.Context, family string) (map[string][]string, error) {
	out, err := exec.CommandContext(ctx, family+"-save").Output()
	if err != nil {
		return nil, fmt.Errorf("%s-save: %w (is the iptables package installed?)", family, err)
	}
	chains := map[string][]string{}
	table := ""
	for _, line := range nonEmptyLines(string(out)) {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":"):
			chains[table] = append(chains[table], strings.Fields(line[1:])[0])
		}
	}
	return chains, nil
}

// mountPoints lists the mount points of this mount namespace.
func mountPoints() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range nonEmptyLines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if !seen[mp] {
			seen[mp] = true
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount decodes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// kubepodsCgroups lists the kubepods cgroups of every hierarchy.
func kubepodsCgroups() []string {
	var out []string
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	for _, h := range hierarchies {
		for _, name := range []string{"kubepods", "kubepods.slice"} {
			if fi, err := os.Stat(filepath.Join(h, name)); err == nil && fi.IsDir() {
				out = append(out, filepath.Join(h, name))
			}
		}
	}
	return out
}

// removeCgroupTree removes a cgroup and its descendants (rmdir, leaves first).
func removeCgroupTree(root string) error {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

func setDiff(before, after []string) (added, removed []string) {
	b, a := map[string]bool{}, map[string]bool{}
	for _, x := range before {
		b[x] = true
	}
	for _, x := range after {
		a[x] = true
		if !b[x] {
			added = append(added, x)
		}
	}
	for _, x := range before {
		if !a[x] {
			removed = append(removed, x)
		}
	}
	return added, removed
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func underAny(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// killNodeProcesses SIGKILLs the processes a node left when its launcher
// was killed before its teardown: every process in a kubepods cgroup made
// since before (the pods' containers), and the containerd shims serving the
// node's socket (they run in a process group of their own, so killing
// containerd's leaves them). It returns once they are gone, or says which
// are not. After a normal teardown there is none.
func killNodeProcesses(before *MachineState, nodeDir string) error {
	socket := filepath.Join(nodeDir, "containerd.sock")
	list := func() []int {
		var pids []int
		for _, root := range kubepodsCgroups() {
			if contains(before.Cgroups, root) {
				continue
			}
			_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
				return nil
			})
		}
		procs, _ := os.ReadDir("/proc")
		for _, e := range procs {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(b), "\x00")
			if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
				continue
			}
			for i, a := range args {
				if a == "-address" && i+1 < len(args) && args[i+1] == socket {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := list()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of the node still running after SIGKILL: %v", pids)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CleanUpStale stops what a stack killed before its teardown left in dir
// (its recorded processes) and puts the machine back as its node found it.
// Start does it too; a caller that snapshots the machine first (the node
// suite) calls it before that, so that the snapshot is the clean machine.
func CleanUpStale(ctx context.Context, dir string) error {
	if err := trustedDir(dir); err != nil {
		return err
	}
	killStale(dir)
	restoreStale(ctx, dir)
	return nil
}

// trustedDir refuses a directory that someone else could have prepared: a
// stale run's records are acted on as root (the processes they name are
// killed, the sysctls they hold are written back), so they are read only
// from a real directory (not a symlink) of this user's own that no one
// else may write. A directory that does not exist holds nothing to act on.
func trustedDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s before cleaning up after an earlier run: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is not a directory of this user's own that only it may write, so an earlier run's records in it cannot be trusted: remove it, or use another directory", dir)
	}
	return nil
}

// restoreStale puts the machine back after a node whose launcher was
// killed: its state from before is in dir, which Start is about to wipe.
func restoreStale(ctx context.Context, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "machine-before.json"))
	if err != nil {
		return
	}
	var before MachineState
	if json.Unmarshal(b, &before) != nil {
		return
	}
	if err := RestoreMachine(ctx, &before, filepath.Join(dir, "node")); err != nil {
		fmt.Fprintf(os.Stderr, "restoring the machine after the node of a killed run: %v\n", err)
	}
}
