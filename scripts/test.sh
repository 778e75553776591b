#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/install-test-deps.sh),
# then runs every test with cargo-nextest, as root (real namespaces,
# overlayfs, cgroups, a private dockerd, containerd, a registry and a VM).
# Arguments go to nextest (`scripts/test.sh -E 'test(seed)'`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
exec cargo nextest run --workspace "$@"
