#!/usr/bin/env bash
# Regenerates scripts/berth-runc.order: the functions and read-only data that
# berth-runc's paths touch, which scripts/build-release.sh asks the linker to
# lay out first and side by side.
#
# Why: berth-runc is the same 12 MB-of-code binary as the CLI, and the kernel
# maps 64 KiB of cached file around every page fault ("fault-around"), so code
# scattered over the whole text costs resident memory far beyond what runs:
# 2.8 MiB of text for `berth-runc run` before ordering, 1.2 MiB of it touched.
# Packed together, the same code is a fraction of that (see bench/runtime.sh,
# peak RSS). A stale order file is harmless: unknown names are skipped.
#
#   scripts/order-runtime-symbols.sh [ITERATIONS]     (root; default 3)
#
# Each iteration builds, profiles (scripts/symbol_order.py) and rewrites the
# order file; later iterations intersect with earlier layouts.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-3}
order=$PWD/scripts/berth-runc.order

work=$(mktemp -d /tmp/berth-symbol-order.XXXXXX)
mkdir -p "$work/mnt" "$work/bundle/rootfs" "$work/bundle-sleep"
truncate -s 1G "$work/disk.img"
loopdev=$(losetup -f --show "$work/disk.img")
cleanup() {
    umount "$work/mnt" 2>/dev/null || true
    losetup -d "$loopdev" 2>/dev/null || true
    for hierarchy in /sys/fs/cgroup/*/berth-symbol-order /sys/fs/cgroup/berth-symbol-order; do
        [ -d "$hierarchy" ] && rmdir "$hierarchy" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
mkfs.ext4 -q "$loopdev"
# Our own loop device: read-ahead 0 makes every fault read exactly one page.
blockdev --setra 0 "$loopdev"
mount "$loopdev" "$work/mnt"

scripts/busybox-image.sh | tar -C "$work/bundle/rootfs" -x
# The default spec (runc's shape) plus a seccomp filter, as containerd sends.
mkdir "$work/spec" && ln -s "$(scripts/build-release.sh)" "$work/spec/berth-runc"
"$work/spec/berth-runc" spec --bundle "$work/bundle"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
spec = json.load(open(f"{work}/bundle/config.json"))
spec["root"]["path"] = f"{work}/bundle/rootfs"
spec["process"]["terminal"] = False
spec["process"]["args"] = ["true"]
spec["linux"]["cgroupsPath"] = "/berth-symbol-order"
spec["linux"]["seccomp"] = {
    "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["keyctl", "add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}
json.dump(spec, open(f"{work}/bundle/config.json", "w"))
spec["process"]["args"] = ["sleep", "30"]
json.dump(spec, open(f"{work}/bundle-sleep/config.json", "w"))
json.dump(dict(spec["process"], args=["true"]), open(f"{work}/process.json", "w"))
PY

for i in $(seq 1 "$iterations"); do
    binary=$(scripts/build-release.sh)
    cp "$binary" "$work/mnt/berth-$i"
    ln -sfn "berth-$i" "$work/mnt/berth-runc"
    echo "iteration $i:" >&2
    python3 scripts/symbol_order.py "$work/mnt/berth-$i" "$work/mnt/berth-runc" "$work" "$i" "$order"
    rm -f "$work/mnt/berth-$i"
done
echo "wrote $order; rebuild with scripts/build-release.sh" >&2
