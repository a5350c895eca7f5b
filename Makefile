# gitgate — see README.md. `make run` brings up the local stack, `make test`
# runs every test.
SHELL := /usr/bin/env bash -o pipefail
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

.PHONY: all build binaries install-plugins tools chromium run test test-unit verify verify-codegen update-codegen verify-manifests update-manifests bench clean

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

## tools: build kube-apiserver, kubectl, etcd, Flux, Sealed Secrets and helm
## into bin/ (and their CRDs into bin/crds), once.
tools:
	./hack/build-tools.sh

## chromium: Debian's headless browser, which the end-to-end tests of
## `kubectl gitgate ui` drive (installed with apt-get when missing).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test: generated code and formatting checks, then every test: the
## packages under the race detector (against a real git http-backend on
## loopback), then the end-to-end suite (kube-apiserver, kubectl, Git,
## and Chromium for the pipeline page).
test: tools binaries chromium verify
	$(GO) test -race -count=1 -timeout 20m ./pkg/... ./internal/... ./cmd/...
	$(GO) test -count=1 -timeout 30m ./test/...

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
