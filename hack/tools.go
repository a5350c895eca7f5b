//go:build tools

// Package hack pins code-generator in go.mod so hack/update-codegen.sh runs
// the version the API machinery was built with.
package hack

import _ "k8s.io/code-generator"
