#!/usr/bin/env bash
# Installs what the tests need beyond berth's own build (scripts/install-deps.sh),
# and cargo-nextest. Idempotent.
#
#   zstd            zstd layers in tests and benchmarks
#   docker.io       a private dockerd for the differential and interoperability tests
#   skopeo          reads berth's OCI archives, pushes and pulls through a registry
#   docker-registry a real registry server (distribution) the pull/push tests start
#   curl, openssl   the pull benchmark (waits for its registry; hashes for the limit)
#   runc            the reference runtime for differential tests
#   containerd      drives berth-runc in the integration tests (ctr)
#   linux-image-amd64, qemu-system-x86, cpio   a cgroup v2 kernel in a VM
#   procps          `ps` for `berth top`, `kill` in the crash tests
#   time, bc        the benchmarks
#   nftables, python3, iproute2  namespace worlds for networks (NAT, ports, servers, routes)
#   iperf3          the network benchmark's throughput
#   docker-compose  compose 1.29 (docker-py inside) drives berth daemon
#   python3-venv    a venv for docker-py from PyPI (below)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-packages.sh zstd docker.io skopeo docker-registry curl openssl runc containerd \
    linux-image-amd64 qemu-system-x86 cpio procps time bc nftables python3 iproute2 iperf3 \
    docker-compose python3-venv
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

# docker-py (the `docker` package from PyPI) for the daemon's SDK tests, in
# its own venv: Debian's python refuses system-wide pip installs, and
# docker-compose keeps Debian's older python3-docker. The tests look here
# first (crates/cli/tests/api_docker_py.rs).
venv=/opt/berth-test/python
if ! "$venv/bin/python3" -c 'import docker' >/dev/null 2>&1; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'docker>=7'
fi
