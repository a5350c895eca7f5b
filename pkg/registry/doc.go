// Package registry holds what the REST storages of gitgate's resources
// share: the namespace-to-repository binding, the mapping of engine errors
// to Kubernetes status errors, selectors, and watch (with the watch-list
// protocol). The storages themselves live in registry/gitgate/<resource>.
package registry
