package plugin

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned"
	"github.com/gitgate-dev/gitgate/pkg/generated/clientset/versioned/scheme"
)

// CreatePromotion creates p in namespace as the generated client does, but
// without client-go's retries: when Git is unreachable gitgate answers 503
// with Retry-After at once, and client-go would repeat the request ten
// times, Retry-After apart, before showing the error. The plugins show it
// at once; the person (or the CI job) decides when to try again.
func CreatePromotion(ctx context.Context, client versioned.Interface, namespace string, p *v1alpha1.Promotion, opts metav1.CreateOptions) (*v1alpha1.Promotion, error) {
	out := &v1alpha1.Promotion{}
	err := client.GitgateV1alpha1().RESTClient().Post().
		Namespace(namespace).Resource("promotions").
		VersionedParams(&opts, scheme.ParameterCodec).
		Body(p).MaxRetries(0).
		Do(ctx).Into(out)
	return out, err
}
