#!/usr/bin/env bash
# bench/pull.sh: `berth pull` vs `docker pull` (a private dockerd) vs
# `skopeo copy` to an OCI dir, from one docker-registry on 127.0.0.1 holding
# the same 3-layer image gzip-compressed and zstd-compressed; fresh stores
# every run; with the stores on the disk and on a tmpfs. Alongside, the
# machine's limit for the same work measured in the same run: the three
# layers in parallel through sha256 of the blob (`openssl dgst`, which uses
# the CPU's SHA instructions; coreutils' sha256sum is 6x slower here),
# `gzip -dc`/`zstd -dc`, sha256 of the tar and `tar -x`. Prints medians and ratios (these
# machines are noisy: never read one time alone).
#
#   bench/pull.sh [RUNS]        (root; needs docker.io, docker-registry,
#                                skopeo, zstd, openssl, curl, python3, bc)
#   BENCH_PULL_DIRS="d1 d2 d3"  directories that become the three layers
#
# "disk" is a fresh journaled ext4 on a loop device with direct I/O onto this
# machine's disk (see load.sh for why not the root filesystem itself).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-3}

berth=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
loopdev=
registry_pid=
cleanup() {
    stop_dockerd
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# Runtime state as a real install keeps it: dockerd's exec root and
# berth's run root on one tmpfs (as /run is).
mount_run_tmpfs "$work/run"
export BERTH_RUN_ROOT="$RUN_TMPFS/berth"

rustlib=$(ls -d /root/.rustup/toolchains/*/lib/rustlib 2>/dev/null | head -1 || true)
read -r -a dirs <<< "${BENCH_PULL_DIRS:-${rustlib:-/usr/lib/x86_64-linux-gnu} /usr/share/locale /usr/lib/gcc}"
for d in "${dirs[@]}"; do
    [ -d "$d" ] || { echo "bench: $d missing (set BENCH_PULL_DIRS)" >&2; exit 1; }
done

# The registry, on its own port and storage.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry/data}}
http: {addr: $reg}
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -fs "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

echo "building the image from ${dirs[*]} ($(du -scm "${dirs[@]}" | tail -1 | cut -f1) MB of files), gzip and zstd..."
python3 bench/make-image.py "$work/gzip.tar" bench/pull:gzip "${dirs[@]}"
COMPRESS=zstd python3 bench/make-image.py "$work/zstd.tar" bench/pull:zstd "${dirs[@]}"
seed=$work/seed
"$berth" --root "$seed" load -q -i "$work/gzip.tar" >/dev/null
"$berth" --root "$seed" load -q -i "$work/zstd.tar" >/dev/null
for c in gzip zstd; do
    "$berth" --root "$seed" tag "bench/pull:$c" "$reg/bench/pull:$c"
    "$berth" --root "$seed" push -q "$reg/bench/pull:$c" >/dev/null
done
# The layer blobs as files, for the limit measurement.
mkdir -p "$work/blobs"
for c in gzip zstd; do
    mkdir -p "$work/blobs/$c"
    tar -xf "$work/$c.tar" -C "$work/blobs/$c"
done
rm -rf "$seed" "$work/gzip.tar" "$work/zstd.tar"
echo "layers: gzip $(du -scm "$work"/blobs/gzip/*/layer.tar | tail -1 | cut -f1) MB, zstd $(du -scm "$work"/blobs/zstd/*/layer.tar | tail -1 | cut -f1) MB compressed; $runs runs per tool, place and compression"

limit() { # compression dest
    local c=$1 dest=$2 d=gzip
    [ "$c" = zstd ] && d=zstd
    local i=0
    for blob in "$work/blobs/$c"/*/layer.tar; do
        mkdir -p "$dest/$i"
        ( tee >(openssl dgst -sha256 >/dev/null) < "$blob" | "$d" -dc | tee >(openssl dgst -sha256 >/dev/null) | tar -x -C "$dest/$i" ) &
        i=$((i + 1))
    done
    wait
}

place_setup() { # place -> sets $base
    base=$work/$1
    mkdir -p "$base"
    if [ "$1" = tmpfs ]; then
        mount -t tmpfs -o size=12g tmpfs "$base"
    else
        truncate -s 30G "$work/disk.img"
        loopdev=$(losetup -f --show --direct-io=on "$work/disk.img")
        mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev"
        mount "$loopdev" "$base"
    fi
}

place_teardown() {
    stop_dockerd
    umount -l "$base" 2>/dev/null || true
    if [ -n "$loopdev" ]; then losetup -d "$loopdev"; loopdev=; rm -f "$work/disk.img"; fi
}

for place in disk tmpfs; do
    place_setup $place
    start_dockerd "$base/dockerd"
    for c in gzip zstd; do
        bt=(); dt=(); st=(); lt=()
        docker_ok=1
        for r in $(seq 1 "$runs"); do
            sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
            bt+=("$(time_cmd "$berth" --root "$base/berth-$c-$r" pull -q "$reg/bench/pull:$c")")
            if [ $docker_ok = 1 ]; then
                if t=$(time_cmd dock pull -q "$reg/bench/pull:$c"); then
                    dt+=("$t"); dock rmi -f "$reg/bench/pull:$c" >/dev/null
                else
                    docker_ok=0
                fi
            fi
            st+=("$(time_cmd skopeo copy -q --src-tls-verify=false "docker://$reg/bench/pull:$c" "oci:$base/skopeo-$c-$r:x")")
            lt+=("$(time_cmd limit $c "$base/limit-$c-$r")")
            rm -rf "$base/berth-$c-$r" "$base/skopeo-$c-$r" "$base/limit-$c-$r"
        done
        bm=$(median "${bt[@]}"); sm=$(median "${st[@]}"); lm=$(median "${lt[@]}")
        if [ $docker_ok = 1 ]; then
            dm=$(median "${dt[@]}")
            dline="docker $(fmt "$dm") s  berth/docker $(ratio "$bm" "$dm")"
        else
            dline="docker cannot pull $c layers ($(dockerd --version | cut -d, -f1))"
        fi
        printf '%-6s %-5s berth %s s  %s  skopeo %s s  berth/skopeo %s  limit %s s  berth/limit %s\n' \
            "$place" "$c" "$(fmt "$bm")" "$dline" "$(fmt "$sm")" "$(ratio "$bm" "$sm")" "$(fmt "$lm")" "$(ratio "$bm" "$lm")"
    done
    place_teardown
done
