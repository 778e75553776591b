#!/usr/bin/env bash
# bench/run.sh: the container lifecycle, berth vs a private dockerd, side by
# side in one run with the same busybox image:
#   - `run --rm busybox true`            (interleaved, median of RUNS each)
#   - `run -d busybox sleep` + `rm -f`
#   - `commit` of a container holding 10 000 small files and a 100 MB file
#   - resident memory per running container: berth's monitor vs docker's
#     containerd-shim (VmRSS, median over 5 containers)
#   - `ps -a` over 100 containers
# Prints medians and berth/docker ratios (these machines are noisy: never
# read one time alone).
#
#   bench/run.sh [RUNS]     (root; needs docker.io, bc, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-30}

berth_bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
# Both stores on a fresh journaled ext4 (a direct-I/O loop device on this
# disk): this VM's root ext4 has no journal and makes file creation after
# mass deletion cost seconds of kernel time, whoever runs next (see load.sh).
mount_journaled_ext4 "$work/disk.img" 20G "$work/disk"
loopdev=$LOOPDEV
# Runtime state of both on one tmpfs, as /run is on a real host.
mount_run_tmpfs "$work/run"
export BERTH_ROOT=$work/disk/berth BERTH_RUN_ROOT=$work/run/berth BERTH_CGROUP_PARENT=/berth-bench-run
# No networking on either side (the private dockerd runs with
# --bridge=none): bench/net.sh compares the bridges, in a world of its own.
export BERTH_BRIDGE=none
b() { "$berth_bin" "$@"; }
cleanup() {
    b rm -f $(b ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    stop_dockerd
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    losetup -d "$loopdev" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_dockerd "$work/disk/dockerd"
scripts/busybox-image.sh | b import -c 'CMD ["sh"]' - busybox:latest >/dev/null
b save -o "$work/busybox.tar" busybox
dock load -i "$work/busybox.tar" >/dev/null
# Warm both (first runs create cgroup parents, caches, page cache).
for _ in 1 2 3; do
    b run --rm busybox true
    dock run --rm --network none busybox true
done

report() { # name berth-times... -- docker-times...
    local name=$1; shift
    local bt=() dt=() side=b
    for t in "$@"; do
        if [ "$t" = "--" ]; then side=d; continue; fi
        if [ $side = b ]; then bt+=("$t"); else dt+=("$t"); fi
    done
    local bm dm
    bm=$(median "${bt[@]}"); dm=$(median "${dt[@]}")
    printf '%-34s berth %8s s   docker %8s s   berth/docker %s\n' "$name" "$(fmt "$bm")" "$(fmt "$dm")" "$(ratio "$bm" "$dm")"
}

bt=(); dt=()
for _ in $(seq 1 "$runs"); do
    bt+=("$(time_cmd b run --rm busybox true)")
    dt+=("$(time_cmd dock run --rm --network none busybox true)")
done
report "run --rm busybox true" "${bt[@]}" -- "${dt[@]}"

bt=(); dt=()
for _ in $(seq 1 "$runs"); do
    bt+=("$(time_cmd sh -c "id=\$('$berth_bin' run -d busybox sleep 600) && '$berth_bin' rm -f \$id")")
    dt+=("$(time_cmd sh -c "id=\$(DOCKER_CONFIG='$DOCKERD_DIR/config' docker -H 'unix://$DOCKERD_DIR/d.sock' run -d --network none busybox sleep 600) && DOCKER_CONFIG='$DOCKERD_DIR/config' docker -H 'unix://$DOCKERD_DIR/d.sock' rm -f \$id")")
done
report "run -d + rm -f" "${bt[@]}" -- "${dt[@]}"

# The same content in both: 10 000 small files and one 100 MB file.
fill='mkdir -p /data/small && i=0; while [ $i -lt 10000 ]; do echo "file $i" > /data/small/f$i; i=$((i+1)); done; head -c 104857600 /dev/urandom > /data/big'
b run --name filled busybox sh -c "$fill"
dock run --name filled --network none busybox sh -c "$fill"
bt=(); dt=()
for i in 1 2 3 4 5; do
    bt+=("$(time_cmd b commit filled "committed:$i")")
    dt+=("$(time_cmd dock commit filled "committed:$i")")
    b rmi "committed:$i" >/dev/null
    dock rmi "committed:$i" >/dev/null
done
report "commit (10k files + 100 MB)" "${bt[@]}" -- "${dt[@]}"

# Resident memory per running container.
for i in 1 2 3 4 5; do
    b run -d --name "idle$i" busybox sleep 600 >/dev/null
    dock run -d --name "idle$i" --network none busybox sleep 600 >/dev/null
done
sleep 1
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
brss=(); drss=()
for p in $(pgrep -f "__monitor"); do
    grep -q "$work/disk/berth" "/proc/$p/cmdline" 2>/dev/null && brss+=("$(rss_of "$p")")
done
for p in $(pgrep -f "containerd-shim.*berth-bench"); do drss+=("$(rss_of "$p")"); done
[ ${#drss[@]} -gt 0 ] || for p in $(pgrep -f containerd-shim); do drss+=("$(rss_of "$p")"); done
bm=$(median "${brss[@]}"); dm=$(median "${drss[@]}")
printf '%-34s berth %8s KiB docker %8s KiB berth/docker %s  (monitor vs containerd-shim, %s and %s processes)\n' \
    "RSS per running container" "$bm" "$dm" "$(ratio "$bm" "$dm")" "${#brss[@]}" "${#drss[@]}"

# ps -a over 100 containers (these 5 running, the `filled` one exited, 94
# created): the listing a script runs most, with berth's health and image
# lookups per row.
for i in $(seq 1 94); do
    b create --name "listed$i" busybox true >/dev/null
    dock create --name "listed$i" --network none busybox true >/dev/null
done
bt=(); dt=()
for _ in $(seq 1 "$runs"); do
    bt+=("$(time_cmd b ps -a)")
    dt+=("$(time_cmd dock ps -a)")
done
report "ps -a (100 containers)" "${bt[@]}" -- "${dt[@]}"
