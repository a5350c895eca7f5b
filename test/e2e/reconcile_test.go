package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// slowInterval is Flux's usual interval: without reconcile-on-commit, a
// promotion would wait up to this long to be applied.
const slowInterval = "10m"

// slowFlux sets the fleet's GitRepository and the given Kustomizations to a
// 10-minute interval, waits until Flux has reconciled that change, and puts
// the stack's intervals back when the test ends.
func slowFlux(t testing.TB, kustomizations ...string) {
	t.Helper()
	type object struct{ kind, name, patch string }
	objects := []object{{"gitrepository", "fleet", `{"spec":{"interval":"%s"}}`}}
	for _, k := range kustomizations {
		objects = append(objects, object{"kustomization", k, `{"spec":{"interval":"%[1]s","retryInterval":"%[1]s"}}`})
	}
	for _, o := range objects {
		before := kubectl(t, "admin", "get", o.kind, o.name, "-n", "flux-system", "-o", "jsonpath={.spec.interval}")
		t.Cleanup(func() {
			kubectl(t, "admin", "patch", o.kind, o.name, "-n", "flux-system", "--type=merge", "-p", fmt.Sprintf(o.patch, before))
		})
		kubectl(t, "admin", "patch", o.kind, o.name, "-n", "flux-system", "--type=merge", "-p", fmt.Sprintf(o.patch, slowInterval))
		eventually(t, "Flux reconciles the slower "+o.kind+" "+o.name, fluxWait, func() string {
			out, _ := stack.Kubectl(context.Background(), "admin", "get", o.kind, o.name, "-n", "flux-system",
				"-o", `jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status}`)
			if f := strings.Fields(out); len(f) != 3 || f[0] != f[1] || f[2] != "True" {
				return out
			}
			return ""
		})
	}
}

// deploymentImage is the app image of the Deployment in shop-<env>.
func deploymentImage(t testing.TB, env string) string {
	return kubectl(t, "admin", "get", "deployment", "app", "-n", "shop-"+env, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
}

// requestedBy returns the field managers that set Flux's reconcile request
// on a Flux object.
func requestedBy(t testing.TB, kind, name string) string {
	out := kubectl(t, "admin", "get", kind, name, "-n", "flux-system", "--show-managed-fields", "-o",
		`jsonpath={range .metadata.managedFields[*]}{.manager}={.fieldsV1.f:metadata.f:annotations}{"\n"}{end}`)
	var managers []string
	for _, line := range strings.Split(out, "\n") {
		if manager, fields, ok := strings.Cut(line, "="); ok && strings.Contains(fields, "reconcile.fluxcd.io/requestedAt") {
			managers = append(managers, manager)
		}
	}
	sort.Strings(managers)
	return strings.Join(managers, ",")
}

func TestCommitsAreAppliedInSecondsWithFluxAtTenMinutes(t *testing.T) {
	slowFlux(t, "apps-dev", "apps-test")
	fleet := cloneFleet(t)

	// Someone pushes a new dev image with git: gitgate fetches it and asks
	// Flux to apply dev at once.
	pushed := time.Now()
	tag := fleet.setTag("dev", "version-60.")
	eventually(t, "Flux applies the pushed "+tag+" to shop-dev", 30*time.Second, func() string {
		if got := deploymentImage(t, "dev"); got != "registry.example.com/app:"+tag {
			return "image is " + got
		}
		return ""
	})
	t.Logf("git push to dev → applied in shop-dev: %s", time.Since(pushed).Round(10*time.Millisecond))

	// bob promotes dev into test: applied in seconds, not in 10 minutes.
	promoted := time.Now()
	out, err := plugin("bob", "create", "promotion", "--to", "test", "--from", "dev", "-n", "shop", "-o", "jsonpath={.status.commit}")
	if err != nil || len(strings.TrimSpace(out)) != 40 {
		t.Fatalf("kubectl create promotion --to test: %v\n%s", err, out)
	}
	eventually(t, "Flux applies the promotion of "+tag+" to shop-test", 30*time.Second, func() string {
		if got := deploymentImage(t, "test"); got != "registry.example.com/app:"+tag {
			return "image is " + got
		}
		return ""
	})
	t.Logf("kubectl create promotion → applied in shop-test: %s", time.Since(promoted).Round(10*time.Millisecond))

	// The requests are gitgate's, on the source and on each Kustomization.
	for _, o := range [][2]string{{"gitrepository", "fleet"}, {"kustomization", "apps-dev"}, {"kustomization", "apps-test"}} {
		if got := requestedBy(t, o[0], o[1]); got != "gitgate" {
			t.Errorf("%s %s: reconcile requested by %q, want gitgate", o[0], o[1], got)
		}
	}
}

// BenchmarkPromotionToApplied times, with Flux at a 10-minute interval, how
// long after `kubectl create promotion` returns the promoted image is in
// the target namespace's Deployment, and reports the median.
// Run: go test -run '^$' -bench PromotionToApplied -benchtime 10x ./test/e2e/
func BenchmarkPromotionToApplied(b *testing.B) {
	slowFlux(b, "apps-dev", "apps-test")
	fleet := cloneFleet(b)
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tag := fleet.setTag("dev", "version-70.")
		image := "registry.example.com/app:" + tag
		b.StartTimer()
		start := time.Now()
		if out, err := plugin("bob", "create", "promotion", "--to", "test", "--from", "dev", "-n", "shop"); err != nil {
			b.Fatalf("kubectl create promotion: %v\n%s", err, out)
		}
		for deploymentImage(b, "test") != image {
			if time.Since(start) > time.Minute {
				b.Fatalf("%s not applied to shop-test after a minute", image)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}
