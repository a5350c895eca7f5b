#!/usr/bin/env bash
# build-tools.sh builds the binaries that the local stack and the end-to-end
# tests run (kube-apiserver, kube-controller-manager, kubectl, etcd) from
# hack/tools/go.mod into bin/.
# A binary is rebuilt only when hack/tools/go.mod or go.sum changed since it
# was built, so repeated runs cost nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/hack/tools"
bin="$root/bin"
mkdir -p "$bin"

k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$tools/go.mod")
stamp=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -c1-16)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version}"

build() { # name package
  local name=$1 pkg=$2
  if [[ -x "$bin/$name" && "$(cat "$bin/.$name.stamp" 2>/dev/null)" == "$stamp" ]]; then
    return 0
  fi
  echo "building $name ($pkg)" >&2
  (cd "$tools" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "$pkg")
  echo "$stamp" >"$bin/.$name.stamp"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
