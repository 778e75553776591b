#!/usr/bin/env bash
# bench/net.sh: what a network costs a container, berth beside a private
# dockerd, in a world of the benchmark's own: a network namespace plays the
# host (both engines' bridges, rules and containers live there) and another
# plays a machine on its uplink (198.51.100.2; the host is .1). Nothing
# touches the real host's interfaces or rules; no packet leaves the world.
#
#  1. `run --rm busybox true`, interleaved, median of RUNS each: berth with
#     its default bridge, with --network none and on a user network; docker
#     with its default bridge and with --network none.
#  2. TCP throughput (iperf3, 3 s, median of 3): a plain veth (the other
#     machine to the host) as the ceiling; a container to the other machine
#     (NAT); the other machine to a published port; the host's 127.0.0.1 to
#     a published port (docker's userland proxy carries that one).
#
# Both engines' state roots on one tmpfs, as /run is; their stores in the
# same temporary directory.
#
#   bench/net.sh [RUNS]   (root; nftables, util-linux, busybox-static, docker.io, iperf3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-20}
skip_run=${SKIP_RUN:-}
for tool in nft unshare nsenter iperf3 dockerd docker python3; do
    command -v "$tool" >/dev/null || { echo "bench/net.sh: $tool is missing" >&2; exit 1; }
done

berth=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
mount_run_tmpfs "$work/run"
unshare --net sleep 100000 &
host=$!
unshare --net sleep 100000 &
remote=$!
cleanup() {
    set +e
    in_host "$berth" rm -f $(in_host "$berth" ps -aq) >/dev/null 2>&1
    [ -n "${DOCKERD_DIR:-}" ] && in_host_dock rm -f $(in_host_dock ps -aq) >/dev/null 2>&1
    stop_dockerd
    kill "$host" "$remote" 2>/dev/null
    pkill -f "iperf3 -s -p 52" 2>/dev/null
    umount -l "$work/run" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
sleep 0.3
in_host() { nsenter --net="/proc/$host/ns/net" "$@"; }
in_remote() { nsenter --net="/proc/$remote/ns/net" "$@"; }
in_host ip link set lo up
in_remote ip link set lo up
in_host ip link add uplink type veth peer name eth0 netns "$remote"
in_host ip addr add 198.51.100.1/24 dev uplink
in_host ip link set uplink up
in_remote ip addr add 198.51.100.2/24 dev eth0
in_remote ip link set eth0 up

export BERTH_ROOT=$work/berth BERTH_RUN_ROOT=$work/run/berth BERTH_CGROUP_PARENT=/berth-bench-net
scripts/busybox-image.sh | in_host "$berth" import -c 'CMD ["sh"]' - busybox > /dev/null
in_host "$berth" network create --subnet 10.123.0.0/24 benchnet > /dev/null
in_host "$berth" run --rm busybox true   # makes berth0

# dockerd inside the world, with its default bridge and iptables there.
DOCKERD_DIR=$work/dockerd
mkdir -p "$DOCKERD_DIR/config"
exec_root=$(mktemp -d "$work/run/docker.XXXXXX")
in_host dockerd --data-root "$DOCKERD_DIR/data" --exec-root "$exec_root" \
    --pidfile "$DOCKERD_DIR/d.pid" -H "unix://$DOCKERD_DIR/d.sock" \
    --containerd-namespace berth-bench-net --containerd-plugins-namespace berth-bench-net-plugins \
    >"$DOCKERD_DIR/dockerd.log" 2>&1 &
in_host_dock() { DOCKER_CONFIG="$DOCKERD_DIR/config" docker -H "unix://$DOCKERD_DIR/d.sock" "$@"; }
for _ in $(seq 1 300); do in_host_dock version >/dev/null 2>&1 && break; sleep 0.2; done
scripts/busybox-image.sh | in_host_dock import -c 'CMD ["sh"]' - busybox > /dev/null
in_host_dock run --rm busybox true

[ -n "$skip_run" ] || python3 - "$berth" "$host" "$DOCKERD_DIR/d.sock" "$DOCKERD_DIR/config" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
berth, host, sock, config, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ns = ["nsenter", f"--net=/proc/{host}/ns/net"]
env = dict(os.environ, DOCKER_CONFIG=config)
def timed(cmd):
    t = time.perf_counter()
    subprocess.run(ns + cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t
B = lambda *a: [berth, *a]
D = lambda *a: ["docker", "-H", f"unix://{sock}", *a]
cases = {
    "berth bridge": B("run", "--rm", "busybox", "true"),
    "berth none": B("run", "--rm", "--network", "none", "busybox", "true"),
    "berth user network": B("run", "--rm", "--network", "benchnet", "busybox", "true"),
    "docker bridge": D("run", "--rm", "busybox", "true"),
    "docker none": D("run", "--rm", "--network", "none", "busybox", "true"),
}
times = {k: [] for k in cases}
for _ in range(runs):
    for k, cmd in cases.items():
        times[k].append(timed(cmd))
m = {k: statistics.median(v) * 1000 for k, v in times.items()}
for k in cases:
    print(f"run --rm busybox true  {k:20s} {m[k]:8.2f} ms   (median of {runs})")
print(f"berth: the bridge adds {m['berth bridge'] - m['berth none']:6.2f} ms, a user network {m['berth user network'] - m['berth none']:6.2f} ms")
print(f"docker: the bridge adds {m['docker bridge'] - m['docker none']:6.2f} ms")
print(f"berth/docker with the bridge: {m['berth bridge'] / m['docker bridge']:.3f}")
PY

# Throughput. iperf3 runs in containers from the host's file system
# (read-only, chroot): busybox has none of its own.
gbits() { python3 -c '
import json, sys
r = json.load(sys.stdin)
if "error" in r:
    sys.exit("iperf3: " + r["error"])
print("%.2f" % (r["end"]["sum_received"]["bits_per_second"] / 1e9))'; }
median3() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
client() { "$@" iperf3 -c "$IP" -p "$PORT" -t 3 -J | gbits; }
measure() { # LABEL, then the client command prefix (IP, PORT set)
    local label=$1; shift
    local a b c
    a=$(client "$@"); b=$(client "$@"); c=$(client "$@")
    printf '%-52s %6s Gbit/s (median of 3: %s %s %s)\n' "$label" "$(median3 "$a" "$b" "$c")" "$a" "$b" "$c"
}
in_remote iperf3 -s -p 5201 -D
in_host iperf3 -s -p 5202 -D
sleep 0.5
IP=198.51.100.1 PORT=5202 measure "plain veth: other machine -> host" in_remote
for engine in berth docker; do
    if [ $engine = berth ]; then E() { in_host "$berth" "$@"; }; else E() { in_host_dock "$@"; }; fi
    IP=198.51.100.2 PORT=5201 measure "$engine: container -> other machine (NAT)" \
        E run --rm -v /:/host:ro --tmpfs /host/tmp busybox chroot /host
    E run -d --name iperf-server -p 5301:5301 -v /:/host:ro --tmpfs /host/tmp busybox chroot /host iperf3 -s -p 5301 > /dev/null
    sleep 1
    IP=198.51.100.1 PORT=5301 measure "$engine: other machine -> published port" in_remote
    IP=127.0.0.1 PORT=5301 measure "$engine: host 127.0.0.1 -> published port" in_host
    E rm -f iperf-server > /dev/null
done
