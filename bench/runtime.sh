#!/usr/bin/env bash
# bench/runtime.sh: `berth-runc run` vs `runc run` on the same busybox bundle
# running `true` (a unique id per run, deleted after), side by side and
# interleaved; then create+start+delete; then peak RSS. State roots on a
# tmpfs for both, as a real install keeps them under /run. Prints medians and
# ratios (these machines are noisy: never read one time alone).
#
#   bench/runtime.sh [RUNS]        (root; needs runc, python3, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}

berth=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
# Both runtimes' state roots on one tmpfs, as /run is on a real host (runc's
# default root is /run/runc).
mkdir -p "$work/state"
mount -t tmpfs -o mode=0711 tmpfs "$work/state"
trap 'umount "$work/state" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/bundle/rootfs"
ln -s "$berth" "$work/bin/berth-runc"
scripts/busybox-image.sh | tar -C "$work/bundle/rootfs" -x
"$work/bin/berth-runc" spec --bundle "$work/bundle"
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["linux"]["cgroupsPath"] = "/berth-bench"
json.dump(c, open(p, "w"))
PY

python3 - "$work" "$runs" <<'PY'
import os, statistics, sys, time

work, runs = sys.argv[1], int(sys.argv[2])
bundle = f"{work}/bundle"
runtimes = {"berth-runc": f"{work}/bin/berth-runc", "runc": "runc"}
devnull = os.open("/dev/null", os.O_WRONLY)

def spawn(argv):
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise SystemExit(f"failed: {' '.join(argv)} (status {status})")

def measure(name, binary, n, kind):
    root = f"{work}/state/root-{name}"
    times = []
    for i in range(n):
        cid = f"b{kind}{i}"
        start = time.perf_counter()
        if kind == "run":
            spawn([binary, "--root", root, "run", "--bundle", bundle, cid])
        else:
            spawn([binary, "--root", root, "create", "--bundle", bundle, cid])
            spawn([binary, "--root", root, "start", cid])
            # `true` exits at once; delete reaps nothing of ours but waits for the cgroup.
            spawn([binary, "--root", root, "delete", "--force", cid])
        times.append((time.perf_counter() - start) * 1000)
    return times

for kind in ["run", "create+start+delete"]:
    results = {name: [] for name in runtimes}
    # Warm up, then interleave in small batches so both see the same noise.
    for name, binary in runtimes.items():
        measure(name, binary, 5, kind)
    for _ in range(10):
        for name, binary in runtimes.items():
            results[name].extend(measure(name, binary, max(1, runs // 10), kind))
    b = statistics.median(results["berth-runc"])
    r = statistics.median(results["runc"])
    print(f"{kind:22s} berth-runc median {b:6.2f} ms   runc median {r:6.2f} ms   berth/runc {b / r:.3f}   (n={len(results['runc'])})")
PY

# Peak RSS of the runtime and the container init it waits for (GNU time's
# %M: the largest of the process and its waited-for descendants).
if [ -x /usr/bin/time ]; then
    b=() r=()
    for i in $(seq 1 5); do
        b+=("$(/usr/bin/time -f %M "$work/bin/berth-runc" --root "$work/state/root-rss" run --bundle "$work/bundle" rss$i 2>&1 >/dev/null | tail -1)")
        r+=("$(/usr/bin/time -f %M runc --root "$work/state/root-rss2" run --bundle "$work/bundle" rss$i 2>&1 >/dev/null | tail -1)")
    done
    bm=$(printf '%s\n' "${b[@]}" | sort -n | sed -n 3p)
    rm=$(printf '%s\n' "${r[@]}" | sort -n | sed -n 3p)
    printf '%-22s berth-runc %6.2f MiB   runc %6.2f MiB   berth/runc %.3f\n' "peak RSS (median)" \
        "$(echo "$bm/1024" | bc -l)" "$(echo "$rm/1024" | bc -l)" "$(echo "$bm/$rm" | bc -l)"
else
    echo "peak RSS: install GNU time (apt-get install time) to measure it"
fi
# The layout that keeps the RSS low goes stale as code changes (ThinLTO renames
# local functions by content): say how much of it the binary still matches.
if command -v nm >/dev/null; then
    found=$(nm --defined-only "$berth" | awk '{print $3}' | sort -u | comm -12 - <(sort -u scripts/berth-runc.order) | wc -l)
    printf 'symbol order: %s of %s names found in the binary (below ~90%%: run scripts/order-runtime-symbols.sh)\n' \
        "$found" "$(wc -l <scripts/berth-runc.order)"
fi
for hierarchy in /sys/fs/cgroup/*/berth-bench /sys/fs/cgroup/berth-bench; do
    [ -d "$hierarchy" ] && rmdir "$hierarchy" 2>/dev/null || true
done
