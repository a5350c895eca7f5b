//go:build tools

// Package tools pins the Sealed Secrets controller that hack/build-tools.sh builds.
package tools

import _ "github.com/bitnami/sealed-secrets/cmd/controller"
