# gitgate — see README.md. `make run` brings up the local stack, `make test`
# runs every test.
SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

.PHONY: all build binaries install-plugins tools host-tools run run-node image node-deps test test-node test-unit verify verify-codegen update-codegen verify-manifests update-manifests bench clean

all: build

## build: compile every package, and the binaries into bin/.
build: binaries
	$(GO) build ./...

binaries:
	$(GO) build -o $(BIN)/ ./cmd/...

## install-plugins: put kubectl-create-promotion and kubectl-gitgate where
## kubectl finds them (PREFIX/bin, default /usr/local/bin).
PREFIX ?= /usr/local
install-plugins: binaries
	install -d $(PREFIX)/bin
	install -m 0755 $(BIN)/kubectl-create-promotion $(BIN)/kubectl-gitgate $(PREFIX)/bin/

## run: the local stack (etcd, kube-apiserver, kube-controller-manager, Git
## server, Flux, Sealed Secrets, gitgate-apiserver).
run: tools binaries
	$(BIN)/gitgate-dev

## run-node: the local stack with a node (containerd, kubelet, kube-proxy,
## kube-scheduler): gitgate installed with helm runs in pods, and so does
## the example fleet. Needs root; stopping it puts the machine back.
run-node: tools binaries image node-deps
	$(BIN)/gitgate-dev --node

## image: the container images, built without a registry or engine (a
## static binary on an empty base): gitgate-apiserver (the chart's image),
## the pod sandbox and the example fleet's app, as tarballs in
## _output/images; loaded into Docker too where a Docker engine runs.
image:
	$(GO) run ./hack/images -out _output/images
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  for f in _output/images/*.tar; do docker load -i "$$f"; done; \
	fi

## node-deps: the node's packages from Debian (containerd, runc, the CNI
## plugins, iptables, conntrack), installed when missing.
NODE_PACKAGES := containerd runc containernetworking-plugins iptables conntrack
node-deps:
	@missing=$$(for p in $(NODE_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## tools: build kube-apiserver, kubectl, etcd, Flux, Sealed Secrets and helm
## into bin/ (and their CRDs into bin/crds), and the node's kubelet,
## kube-scheduler and kube-proxy, once.
tools:
	./hack/build-tools.sh

## host-tools: the Debian packages the tests run, installed with apt-get
## when missing: git (the test Git servers), gnupg and openssh-client
## (`git verify-commit` of signed commits) and chromium (the headless
## browser the tests of `kubectl gitgate ui` drive).
HOST_TOOLS := git:git gpg:gnupg ssh-keygen:openssh-client chromium:chromium
host-tools:
	@missing=$$(for t in $(HOST_TOOLS); do command -v $${t%%:*} >/dev/null || echo $${t#*:}; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## test: generated code and formatting checks, then every test: the
## packages under the race detector (against a real git http-backend on
## loopback), then the end-to-end suite (kube-apiserver, kubectl, Git,
## and Chromium for the pipeline page).
test: tools binaries host-tools verify
	$(GO) test -race -count=1 -timeout 20m ./pkg/... ./internal/... ./cmd/...
	$(GO) test -count=1 -timeout 30m ./test/...

## test-node: the node suite (test/node): helm install of the chart onto a
## real node, the fleet's workloads in pods, and the resilience run. Needs
## root; it leaves the machine as it found it, and checks that it does.
test-node: tools binaries image node-deps
	$(GO) vet -tags node ./test/node/
	$(GO) test -tags node -count=1 -timeout 40m -v ./test/node/

## test-unit: the tests that need no Kubernetes binaries.
test-unit:
	$(GO) test -count=1 ./pkg/...

## verify: formatting, vet, generated code and rendered manifests are up to date.
verify: verify-codegen verify-manifests
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: run gofmt -w on the files above"; exit 1; }
	$(GO) vet ./...

## update-codegen: regenerate clients, deepcopy, conversion and OpenAPI code.
update-codegen:
	./hack/update-codegen.sh

## verify-codegen: fail when generated code is not what update-codegen makes.
verify-codegen:
	./hack/verify-codegen.sh

## update-manifests: render the chart's policy file and the plain manifests
## in artifacts/install.
update-manifests: tools binaries
	./hack/update-manifests.sh

## verify-manifests: fail when those differ from what update-manifests makes.
verify-manifests: tools binaries
	./hack/verify-manifests.sh

## bench: the engine's benchmarks (figures go into docs/performance.md).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./pkg/engine/

clean:
	rm -rf $(BIN) _output
