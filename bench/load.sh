#!/usr/bin/env bash
# bench/load.sh: `berth load` vs `docker load` of the same images, side by side
# in one run: a big one (~300 MB of files from this machine's /usr, many small
# files, four gzip layers) and a small one (three layers, 40 MB of random data
# in a few files), with the stores on the disk and on a tmpfs; then `berth
# images` vs `docker images` on a store with 1000 tags. Runtime state (berth's
# run root, dockerd's exec root) is on a tmpfs, as /run is on a real host.
# Prints medians and ratios (these machines are noisy: never read one time
# alone).
#
#   bench/load.sh [RUNS]          (root; needs docker.io, python3, bc)
#
# Every run gets fresh stores (a new berth root, a new dockerd data root), and
# nothing is deleted between measured runs. "disk" is a fresh journaled ext4 on
# a loop device with direct I/O onto this machine's disk: this VM's root ext4
# has no journal, and there creating files soon after deleting many costs
# seconds of kernel time (find_inode_bit -> recently_deleted) that would land on
# whichever engine happens to run next.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}

berth=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-load.XXXXXX)
loopdev=
cleanup() {
    stop_dockerd
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# ~300 MB of real files in four layers of different shapes: compiler binaries,
# many small headers, a Python tree, and a small layer of tiny files.
dirs=(/usr/lib/gcc /usr/include /usr/lib/python3.11 /usr/share/zoneinfo)
for d in "${dirs[@]}"; do
    [ -d "$d" ] || { echo "bench: $d missing" >&2; exit 1; }
done
echo "building the test image from ${dirs[*]} ($(du -scm "${dirs[@]}" | tail -1 | cut -f1) MB of files)..."
python3 bench/make-image.py "$work/image.tar" bench/load:1 "${dirs[@]}"
echo "big image: $(du -m "$work/image.tar" | cut -f1) MB archive, ${#dirs[@]} gzip layers"
# The small one: 40 MB of random data (incompressible) in three layers.
for l in 1 2 3; do
    mkdir -p "$work/small/l$l"
    for f in 1 2 3 4; do head -c 3500000 /dev/urandom > "$work/small/l$l/f$f"; done
done
python3 bench/make-image.py "$work/small.tar" bench/small:1 "$work/small/l1" "$work/small/l2" "$work/small/l3"
echo "small image: $(du -m "$work/small.tar" | cut -f1) MB archive, 3 gzip layers; $runs runs per engine, image and place"
mount_run_tmpfs "$work/run"

measure() { # place-dir label image
    local place=$1 label=$2 image=$3 b=() d=() i
    for i in $(seq 1 "$runs"); do
        # Alternate which engine goes first.
        if [ $((i % 2)) = 1 ]; then
            sync
            b+=("$(time_cmd "$berth" --root "$place/berth$label$i" --run-root "$RUN_TMPFS/berth$label$i" load -i "$image")")
        fi
        start_dockerd "$place/dockerd$label$i"
        sync
        d+=("$(time_cmd dock load -i "$image")")
        kill "$(cat "$DOCKERD_DIR/d.pid")"; while kill -0 "$(cat "$DOCKERD_DIR/d.pid" 2>/dev/null)" 2>/dev/null; do sleep 0.1; done
        DOCKERD_DIR=
        if [ $((i % 2)) = 0 ]; then
            sync
            b+=("$(time_cmd "$berth" --root "$place/berth$label$i" --run-root "$RUN_TMPFS/berth$label$i" load -i "$image")")
        fi
    done
    local bm dm
    bm=$(median "${b[@]}")
    dm=$(median "${d[@]}")
    printf 'load %-11s berth median %6.3f s   docker median %6.3f s   berth/docker %s\n' "$label" "$bm" "$dm" "$(ratio "$bm" "$dm")"
    echo "            berth:  ${b[*]}"
    echo "            docker: ${d[*]}"
}

mkdir -p "$work/disk" "$work/tmpfs"
truncate -s 40G "$work/disk.img"
loopdev=$(losetup -f --show --direct-io=on "$work/disk.img")
# Inode tables and journal written now: ext4lazyinit would otherwise
# zero them in the background for minutes, I/O that lands on whichever
# engine runs then (small, fsync-bound loads most of all).
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev"
mount "$loopdev" "$work/disk"
measure "$work/disk" big-disk "$work/image.tar"
measure "$work/disk" small-disk "$work/small.tar"
mount -t tmpfs -o size=12g tmpfs "$work/tmpfs"
measure "$work/tmpfs" big-tmpfs "$work/image.tar"
measure "$work/tmpfs" small-tmpfs "$work/small.tar"
grep -o " $work/disk[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true

# `images` on a store with 1000 tags (the image loaded above is in both).
start_dockerd "$work/tmpfs/dockerdbig-tmpfs1"
store=(--root "$work/tmpfs/berthbig-tmpfs1" --run-root "$RUN_TMPFS/berthbig-tmpfs1")
echo "tagging 1000 times in each..."
for i in $(seq 1 1000); do "$berth" "${store[@]}" tag bench/load:1 "bench/tag$i:v1"; done
for i in $(seq 1 1000); do dock tag bench/load:1 "bench/tag$i:v1"; done
b=() d=()
for i in $(seq 1 11); do
    b+=("$(time_cmd "$berth" "${store[@]}" images)")
    d+=("$(time_cmd dock images)")
done
bm=$(median "${b[@]}")
dm=$(median "${d[@]}")
printf 'images (1001 tags)  berth median %6.3f s   docker median %6.3f s   berth/docker %s\n' "$bm" "$dm" "$(ratio "$bm" "$dm")"
