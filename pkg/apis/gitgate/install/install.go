// Package install registers the gitgate.dev API group in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
)

// Install registers the internal and v1alpha1 versions of gitgate.dev in scheme.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(gitgate.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha1.SchemeGroupVersion))
}
