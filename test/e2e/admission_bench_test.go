package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitgate-dev/gitgate/internal/localstack"
)

// BenchmarkAdmissionThroughKubeAPIServer times updates of an unmanaged
// ConfigMap through kube-apiserver with no policy, with gitgate's webhook and
// with the ValidatingAdmissionPolicy, and reports each against no policy.
// Run: go test -run '^$' -bench AdmissionThrough -benchtime 300x ./test/e2e/
func BenchmarkAdmissionThroughKubeAPIServer(b *testing.B) {
	cfg := restConfig(b, "admin")
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cms := client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cms.Delete(ctx, "bench", metav1.DeleteOptions{})
		_ = stack.SetAdmissionMode(ctx, localstack.AdmissionWebhook)
	}()
	perUpdate := map[string]time.Duration{}
	for _, mode := range []string{localstack.AdmissionNone, localstack.AdmissionWebhook, localstack.AdmissionPolicy} {
		b.Run("mode="+mode, func(b *testing.B) {
			if err := stack.SetAdmissionMode(ctx, mode); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				_, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Data: map[string]string{"i": fmt.Sprint(i)}}, metav1.UpdateOptions{})
				if err != nil {
					b.Fatal(err)
				}
			}
			perUpdate[mode] = time.Since(start) / time.Duration(b.N)
			if base := perUpdate[localstack.AdmissionNone]; base > 0 {
				b.ReportMetric(float64(perUpdate[mode])/float64(base), "x-no-policy")
			}
		})
	}
}
