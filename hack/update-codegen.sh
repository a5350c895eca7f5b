#!/usr/bin/env bash
# update-codegen.sh regenerates deepcopy, conversion, defaulting and OpenAPI
# code and the clientset, listers, informers and apply configurations with
# k8s.io/code-generator's kube_codegen.sh, at the version go.mod requires.
# Generated code lives only in zz_generated.* files and under pkg/generated.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# `go list -m` prints a module's directory only once it is in the module
# cache: download it first, so a fresh machine (empty cache) works too.
codegen_pkg=$(go mod download -json k8s.io/code-generator | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [[ ! -f "$codegen_pkg/kube_codegen.sh" ]]; then
  echo "update-codegen: k8s.io/code-generator could not be downloaded (go mod download k8s.io/code-generator)" >&2
  exit 1
fi
module=$(go list -m)
boilerplate="$root/hack/boilerplate.go.txt"

# kube_codegen.sh installs its generators into GOBIN; keep them in bin/.
export GOBIN="$root/bin/codegen"
mkdir -p "$GOBIN"
# shellcheck source=/dev/null
source "$codegen_pkg/kube_codegen.sh"

kube::codegen::gen_helpers --boilerplate "$boilerplate" "$root/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "$root/pkg/generated/openapi" \
  --output-pkg "$module/pkg/generated/openapi" \
  --report-filename "$root/hack/api-violations.list" --update-report \
  --output-model-name-file zz_generated.model_name.go \
  --boilerplate "$boilerplate" \
  "$root/pkg/apis"

kube::codegen::gen_client \
  --with-watch --with-applyconfig \
  --output-dir "$root/pkg/generated" \
  --output-pkg "$module/pkg/generated" \
  --boilerplate "$boilerplate" \
  "$root/pkg/apis"
