#!/usr/bin/env bash
# Installs the Debian packages berth's demo and tests use, on a fresh machine.
# Idempotent: does nothing when everything is present.
#
#   libseccomp-dev, pkg-config   to build berth (seccomp filters)
#   busybox-static  the offline busybox image (scripts/busybox-image.sh)
#   file            checks that busybox is static
#   zstd            zstd layers in tests and benchmarks
#   docker.io       a private dockerd for the interoperability tests
#   skopeo          reads berth's OCI archives and pushes/pulls through a
#                   registry in the interoperability tests
#   docker-registry a real registry server (distribution) the pull/push tests start
#   curl, openssl   the pull benchmark (waits for its registry; hashes for the limit)
#   runc            the reference runtime for differential tests
#   containerd      drives berth-runc in the integration tests (ctr)
#   gcc             builds the static syscall probe of the isolation test
#   linux-image-amd64, qemu-system-x86, cpio   a cgroup v2 kernel in a VM
#   procps          `ps` for `berth top`, `kill` in the crash tests
#   time, bc        the benchmarks
set -euo pipefail

packages=(libseccomp-dev pkg-config busybox-static file zstd docker.io skopeo docker-registry curl openssl runc containerd gcc libc6-dev
    linux-image-amd64 qemu-system-x86 cpio procps time bc)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps.sh: run as root to install: ${missing[*]}" >&2
        exit 1
    fi
    # Installing docker.io must not start a system dockerd: the tests start
    # their own, and never beside one they did not start.
    created_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
