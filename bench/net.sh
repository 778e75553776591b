#!/usr/bin/env bash
# bench/net.sh: what a network costs a container. `berth run --rm busybox
# true` on a user network (bridge, veth, address lease, route) against the
# same with `--network none`, interleaved, median of RUNS each; and `network
# create` + `rm` (bridge, nftables table). Everything runs in a network
# namespace that plays the host, so the real host's interfaces and rules are
# never touched. Prints medians and the difference (these machines are
# noisy: never read one time alone).
#
# Not yet here: docker with its default bridge in the same kind of world
# (issue 16's benchmark compares with it once berth has the default bridge)
# and iperf3 throughput through a published port.
#
#   bench/net.sh [RUNS]     (root; needs nftables, util-linux, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}

berth=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
unshare --net sleep 100000 &
holder=$!
cleanup() {
    kill "$holder" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
sleep 0.2
export BERTH_ROOT=$work/root BERTH_RUN_ROOT=$work/run BERTH_CGROUP_PARENT=/berth-bench-net
in_host() { nsenter --net="/proc/$holder/ns/net" "$@"; }
scripts/busybox-image.sh | in_host "$berth" import -c 'CMD ["sh"]' - busybox > /dev/null
in_host "$berth" network create --subnet 10.123.0.0/24 benchnet > /dev/null

python3 - "$berth" "$holder" "$runs" <<'PY'
import statistics, subprocess, sys, time
berth, holder, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def timed(*args):
    t = time.perf_counter()
    subprocess.run(["nsenter", f"--net=/proc/{holder}/ns/net", berth, *args],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
none, net, create = [], [], []
for i in range(runs):
    none.append(timed("run", "--rm", "--network", "none", "busybox", "true"))
    net.append(timed("run", "--rm", "--network", "benchnet", "busybox", "true"))
    t = time.perf_counter()
    timed("network", "create", f"n{i}")
    timed("network", "rm", f"n{i}")
    create.append(time.perf_counter() - t)
m = lambda v: statistics.median(v) * 1000
print(f"run --rm busybox true   --network none {m(none):7.2f} ms   user network {m(net):7.2f} ms   "
      f"network adds {m(net) - m(none):6.2f} ms   (n={runs})")
print(f"network create + rm     {m(create):7.2f} ms   (n={runs})")
PY
in_host "$berth" network rm benchnet > /dev/null
