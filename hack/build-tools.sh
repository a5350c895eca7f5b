#!/usr/bin/env bash
# build-tools.sh builds the binaries that the local stack and the end-to-end
# tests run into bin/: kube-apiserver, kube-controller-manager, kubectl and
# etcd from hack/tools, and the node's kubelet, kube-scheduler and kube-proxy
# (make test-node) from the same module, Flux's source-controller and kustomize-controller
# from hack/tools/flux, the Sealed Secrets controller from
# hack/tools/sealed-secrets and helm from hack/tools/helm. It also copies the CRDs those controllers serve
# from their modules into bin/crds.
# A binary is rebuilt only when its module's go.mod or go.sum, or its link
# flags, changed since it was built, so repeated runs cost nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/hack/tools"
bin="$root/bin"
mkdir -p "$bin"

k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$tools/go.mod")

build() { # module-dir name package [ldflags]
  local dir=$1 name=$2 pkg=$3 ldflags="-s -w ${4:-}" stamp
  stamp=$( (cat "$dir/go.mod" "$dir/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)
  if [[ -x "$bin/$name" && "$(cat "$bin/.$name.stamp" 2>/dev/null)" == "$stamp" ]]; then
    return 0
  fi
  echo "building $name ($pkg)" >&2
  # A bin/ may hold links to another checkout's binaries: replace the link,
  # never write through it.
  rm -f "$bin/$name" "$bin/.$name.stamp"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "$pkg")
  echo "$stamp" >"$bin/.$name.stamp"
}

# module-version prints the version of module $2 that module dir $1 requires.
module_version() {
  (cd "$1" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$2")
}

k8s_ldflags="-X k8s.io/component-base/version.gitVersion=${k8s_version} -X k8s.io/client-go/pkg/version.gitVersion=${k8s_version}"
build "$tools" etcd go.etcd.io/etcd/server/v3
build "$tools" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build "$tools" kubectl k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build "$tools" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
# The node (make test-node): with the version flags, or it reports v0.0.0.
build "$tools" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build "$tools" kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$k8s_ldflags"
build "$tools" kubelet k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"

ss_version=$(module_version "$tools/sealed-secrets" github.com/bitnami/sealed-secrets)
build "$tools/sealed-secrets" sealed-secrets-controller github.com/bitnami/sealed-secrets/cmd/controller "-X main.VERSION=${ss_version}"
build "$tools/flux" source-controller github.com/fluxcd/source-controller
build "$tools/flux" kustomize-controller github.com/fluxcd/kustomize-controller
helm_version=$(module_version "$tools/helm" helm.sh/helm/v3)
# helm template assumes the Kubernetes version it was built for: the stack's.
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
build "$tools/helm" helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=${helm_version} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${k8s_minor} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${k8s_minor}"

# CRDs, straight from the modules the controllers were built from.
mkdir -p "$bin/crds"
# module_dir prints where module $2, as module dir $1 requires it, is in the
# module cache, downloading it first (`go list -m` prints nothing for a
# module that is not downloaded yet, as on a fresh machine).
module_dir() {
  (cd "$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}
crds() { # module-dir module files...
  local dir f
  dir=$(module_dir "$1" "$2")
  shift 2
  for f in "$@"; do
    install -m 0644 "$dir/$f" "$bin/crds/"
  done
}
crds "$tools/sealed-secrets" github.com/bitnami/sealed-secrets helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml
# source-controller watches every kind it serves, so all of its CRDs go in.
crds "$tools/flux" github.com/fluxcd/source-controller $(cd "$(module_dir "$tools/flux" github.com/fluxcd/source-controller)" && ls config/crd/bases/*.yaml)
crds "$tools/flux" github.com/fluxcd/kustomize-controller config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml

# CRDs of the kinds the chart can render (cert-manager's Certificate and
# Issuer, Prometheus Operator's ServiceMonitor), so that the chart tests can
# check every rendered object against a real API server.
crds_at() { # module@version files...
  local dir f
  dir=$(cd "$root" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  shift
  for f in "$@"; do
    install -m 0644 "$dir/$f" "$bin/crds/"
  done
}
crds_at github.com/cert-manager/cert-manager@v1.21.2 deploy/crds/cert-manager.io_certificates.yaml deploy/crds/cert-manager.io_issuers.yaml
crds_at github.com/prometheus-operator/prometheus-operator@v0.85.0 example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
