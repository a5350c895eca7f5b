#!/usr/bin/env bash
# verify-codegen.sh fails when the checked-in generated code differs from what
# hack/update-codegen.sh produces now.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

paths=(pkg/generated pkg/apis hack/api-violations.list)
tar -cf "$tmp/before.tar" "${paths[@]}"
./hack/update-codegen.sh >/dev/null
changed=$(git status --porcelain --untracked-files=all -- "${paths[@]}")
if [[ -n "$changed" ]]; then
  echo "generated code is out of date; run 'make update-codegen' and commit:" >&2
  echo "$changed" >&2
  tar -xf "$tmp/before.tar"
  exit 1
fi
