package engine

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchEnvironments names the generated repository's environments: dev,
// test and prod, and with GITGATE_BENCH_ENVS=N as many more (svc-000, …,
// each with an overlay of its own) as make N, like a monorepo fleet.
func benchEnvironments() []string {
	names := []string{"dev", "test", "prod"}
	n, _ := strconv.Atoi(os.Getenv("GITGATE_BENCH_ENVS"))
	for i := 0; len(names) < n; i++ {
		names = append(names, fmt.Sprintf("svc-%03d", i))
	}
	return names
}

// benchNamespaces is how many namespaces the repository is bound to in
// BenchmarkListEnvironmentsAcrossNamespaces.
const benchNamespaces = 20

// BenchmarkListEnvironmentsAcrossNamespaces is the engine's part of a
// cluster-wide list of Environments when one repository serves 20
// namespaces: every environment, with its status, copied once per
// namespace (as the registry presents it), no HTTP or serialization. It
// also reports the cold start to the first snapshot (which renders every
// overlay) and the process's peak RSS (VmHWM, which includes generating
// the repository). Run with GITGATE_BENCH_ENVS=200.
func BenchmarkListEnvironmentsAcrossNamespaces(b *testing.B) {
	r := newBenchRepo(b)
	heap := heapAfterGC()
	resetPeakRSS()
	start := time.Now()
	e := r.engine(b)
	coldStart := time.Since(start)
	engineHeap := heapAfterGC() - heap
	writeHeapProfile(b)
	want := len(benchEnvironments())
	if n := len(e.Snapshot().Environments()); n != want {
		b.Fatalf("read %d environments, want %d", n, want)
	}
	var d []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		s := e.Snapshot()
		n := 0
		for ns := 0; ns < benchNamespaces; ns++ {
			for _, env := range s.Environments() {
				c := env.DeepCopy()
				c.Namespace = fmt.Sprintf("team-%02d", ns)
				n++
			}
		}
		d = append(d, time.Since(t))
		if n != want*benchNamespaces {
			b.Fatalf("listed %d, want %d", n, want*benchNamespaces)
		}
	}
	b.StopTimer()
	reportPercentiles(b, d)
	b.ReportMetric(float64(coldStart.Milliseconds()), "cold-start-ms")
	b.ReportMetric(float64(engineHeap>>20), "engine-heap-MB")
	b.ReportMetric(float64(peakRSS()>>20), "peak-RSS-MB")
}

// writeHeapProfile writes what the engine holds after its cold start to
// the file GITGATE_BENCH_HEAPPROFILE names, when it is set.
func writeHeapProfile(b *testing.B) {
	name := os.Getenv("GITGATE_BENCH_HEAPPROFILE")
	if name == "" {
		return
	}
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS returns what the benchmark itself holds (the generated
// repository's input, freed by now) to the system and restarts the
// process's peak resident set from what it holds now (Linux's clear_refs
// 5), so that peakRSS measures the engine's cold start and what follows.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's peak resident set (VmHWM), 0 when unknown.
func peakRSS() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
