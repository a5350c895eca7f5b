// +k8s:deepcopy-gen=package
// +groupName=gitgate.dev

// Package gitgate is the internal version of the gitgate.dev API group:
// Environments and Promotions, whose only storage is a Git repository.
package gitgate
