// Package registry holds what the REST storages of gitgate's resources
// share: the namespace-to-repository binding, the mapping of engine errors
// to Kubernetes status errors, selectors, watch (with the watch-list
// protocol), and VerbSubresource, the wiring of the create-only
// subresources behind a custom verb (freeze, seal, approve). The storages
// themselves live in registry/gitgate/<resource>.
package registry
