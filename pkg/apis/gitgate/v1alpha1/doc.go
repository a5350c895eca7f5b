// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.gitgate.v1alpha1
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/gitgate-dev/gitgate/pkg/apis/gitgate
// +k8s:defaulter-gen=TypeMeta
// +groupName=gitgate.dev

// Package v1alpha1 is version v1alpha1 of the gitgate.dev API group.
package v1alpha1
