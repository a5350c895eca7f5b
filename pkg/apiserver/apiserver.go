// Package apiserver assembles gitgate's aggregated API server: Config →
// Complete → New, the only place that installs storage.
package apiserver

import (
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate/v1alpha1"
	gitgateopenapi "github.com/gitgate-dev/gitgate/pkg/generated/openapi"
	"github.com/gitgate-dev/gitgate/pkg/metrics"
	"github.com/gitgate-dev/gitgate/pkg/registry"
	"github.com/gitgate-dev/gitgate/pkg/registry/gitgate/environment"
	"github.com/gitgate-dev/gitgate/pkg/registry/gitgate/promotion"
)

// ExtraConfig is what gitgate adds to a generic API server.
type ExtraConfig struct {
	// Repositories resolves namespaces to engines.
	Repositories RepositorySet
	// Namespaces says which namespaces are being deleted; nil means none are.
	Namespaces registry.NamespaceState
	// Drift, when set, shows recorded break-glass changes on Environments.
	Drift registry.DriftSource
	// Sync, when set, fills Environment status.sync from Flux.
	Sync registry.SyncSource
	// StatusChanges, when set, tells Environment watches of Sync and Drift changes.
	StatusChanges *registry.StatusNotifier
	// Scheme and Codecs are those NewScheme returned.
	Scheme *runtime.Scheme
	Codecs serializer.CodecFactory
}

// RepositorySet is the repository manager as the server sees it.
type RepositorySet interface {
	registry.Repositories
	// Ready returns nil once every repository was read once.
	Ready() error
}

// Config is the generic configuration plus gitgate's.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig can only be made by Complete.
type CompletedConfig struct {
	*completedConfig
}

// Server is gitgate's API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in defaults.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New installs the gitgate.dev group and the readiness check.
func (c completedConfig) New() (*Server, error) {
	generic, err := c.GenericConfig.New("gitgate-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	metrics.Register()
	backend := &registry.Backend{Repositories: c.ExtraConfig.Repositories, Namespaces: c.ExtraConfig.Namespaces, Drift: c.ExtraConfig.Drift, Sync: c.ExtraConfig.Sync, StatusChanges: c.ExtraConfig.StatusChanges}
	scheme := c.ExtraConfig.Scheme
	group := genericapiserver.NewDefaultAPIGroupInfo(gitgate.GroupName, scheme, metav1.ParameterCodec, c.ExtraConfig.Codecs)
	group.NegotiatedSerializer = withoutProtobuf{c.ExtraConfig.Codecs}
	group.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"environments":               environment.NewREST(scheme, backend, c.GenericConfig.Authorization.Authorizer),
		"environments/history":       environment.NewHistoryREST(backend),
		"environments/sealedsecrets": environment.NewSealedSecretsREST(backend, c.GenericConfig.Authorization.Authorizer),
		"environments/freeze":        environment.NewFreezeREST(backend, c.GenericConfig.Authorization.Authorizer),
		"promotions":                 promotion.NewREST(scheme, backend, c.GenericConfig.Authorization.Authorizer, metrics.PromotionRecorder(knownLabels(c.ExtraConfig.Repositories))),
		"promotions/approval":        promotion.NewApprovalREST(backend, c.GenericConfig.Authorization.Authorizer),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", gitgate.GroupName, err)
	}
	if err := generic.AddReadyzChecks(healthz.NamedCheck("gitgate-repositories", func(*http.Request) error {
		return c.ExtraConfig.Repositories.Ready()
	})); err != nil {
		return nil, err
	}
	return &Server{GenericAPIServer: generic}, nil
}

// DefaultMaxRequestBodyBytes bounds the body of every write (create,
// update, patch, delete options) of Environments, Promotions and
// environments/sealedsecrets; a larger body gets a 413 after at most one
// byte more is read. The largest legitimate body is a SealedSecretRequest:
// a Secret holds at most 1 MiB, which seals to about 1.4 MiB of base64, and
// kube-apiserver stores objects of at most 1.5 MiB. Environments and
// Promotions are a few kilobytes.
const DefaultMaxRequestBodyBytes = 2 << 20

// NewRecommendedConfig returns the generic configuration gitgate starts
// from: OpenAPI v2 and v3 from the generated definitions, the build's
// version, the default feature gates and DefaultMaxRequestBodyBytes.
// Options apply serving, authentication and authorization on top.
func NewRecommendedConfig(scheme *runtime.Scheme, codecs serializer.CodecFactory) *genericapiserver.RecommendedConfig {
	c := genericapiserver.NewRecommendedConfig(codecs)
	c.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	namer := openapi.NewDefinitionNamer(scheme)
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(gitgateopenapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIConfig.Info.Title = "gitgate"
	c.OpenAPIConfig.Info.Version = v1alpha1.SchemeGroupVersion.Version
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(gitgateopenapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIV3Config.Info.Title = "gitgate"
	c.OpenAPIV3Config.Info.Version = v1alpha1.SchemeGroupVersion.Version
	c.FeatureGate = utilfeature.DefaultFeatureGate
	c.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	return c
}

// knownLabels bounds metric labels to the namespaces gitgate serves and the
// environments they define.
func knownLabels(repos registry.Repositories) metrics.Known {
	return metrics.Known{
		Namespace: func(namespace string) bool {
			_, _, ok := repos.Engine(namespace)
			return ok
		},
		Environment: func(namespace, environment string) bool {
			e, _, ok := repos.Engine(namespace)
			if !ok {
				return false
			}
			_, err := e.Snapshot().Environment(environment)
			return err == nil
		},
	}
}
