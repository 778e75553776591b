#!/usr/bin/env bash
# Installs the Debian packages berth itself needs to build and show itself
# (scripts/install-test-deps.sh adds what the tests need). Idempotent: does
# nothing when everything is present.
#
#   libseccomp-dev, pkg-config   seccomp filters (linked in statically)
#   gcc, libc6-dev               the static C runtime berth links
#   busybox-static, file         the offline busybox image (scripts/busybox-image.sh)
#   nftables                     `nft`, for berth's firewall table (networks)
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/install-packages.sh libseccomp-dev pkg-config gcc libc6-dev busybox-static file nftables
