#!/usr/bin/env bash
# verify-manifests.sh fails when the rendered policy, webhook or plain manifests
# differ from what hack/update-manifests.sh makes now.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/hack/update-manifests.sh" "$tmp"
status=0
for f in charts/gitgate/files/policy.yaml charts/gitgate/files/webhook.yaml artifacts/install/gitgate.yaml; do
  if ! diff -u "$root/$f" "$tmp/$f"; then
    echo "$f is out of date: run 'make update-manifests' and commit" >&2
    status=1
  fi
done
exit $status
