#!/usr/bin/env bash
# bench/build.sh: `build` of a four-stage Dockerfile on busybox (a COPY of
# 5,000 small files, RUN steps that write files, two independent stages),
# by berth, dockerd's classic builder, BuildKit (Debian's docker 20.10
# client with DOCKER_BUILDKIT=1, dockerd's built-in BuildKit) and buildah,
# side by side in one run:
#   - cold: --no-cache (the base image is present for all)
#   - unchanged: the same build again, everything cached
#   - touched: one context file's mtime changed (contents the same)
#   - one file changed: one context file's contents changed
#   - big-cold, big-changed: another context of two 64 MiB files (COPY,
#     then a RUN reading them), built with --no-cache and after one of
#     them is rewritten
# Prints each builder's median over RUNS and berth's ratio to the fastest
# peer (these machines are noisy: never read one time alone).
#
#   bench/build.sh [RUNS]     (root; needs docker.io, buildah, bc, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}

berth_bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-build.XXXXXX)
# Every store on one fresh journaled ext4 (see run.sh), runtime state on
# a tmpfs as /run is.
mount_journaled_ext4 "$work/disk.img" 20G "$work/disk"
loopdev=$LOOPDEV
mount_run_tmpfs "$work/run"
export BERTH_ROOT=$work/disk/berth BERTH_RUN_ROOT=$work/run/berth BERTH_CGROUP_PARENT=/berth-bench-build
export BERTH_BRIDGE=none
b() { "$berth_bin" "$@"; }
classic() { DOCKER_BUILDKIT=0 DOCKER_CONFIG="$DOCKERD_DIR/config" /usr/bin/docker -H "unix://$DOCKERD_DIR/d.sock" "$@"; }
buildkit() { DOCKER_BUILDKIT=1 DOCKER_CONFIG="$DOCKERD_DIR/config" /usr/bin/docker -H "unix://$DOCKERD_DIR/d.sock" "$@"; }
bah() { buildah --root "$work/disk/buildah" --runroot "$work/run/buildah" --storage-driver overlay "$@"; }
cleanup() {
    stop_dockerd
    bah rm --all >/dev/null 2>&1 || true
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    losetup -d "$loopdev" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

have_buildah=1
command -v buildah >/dev/null || { echo "bench: buildah is not installed (apt-get install buildah); left out" >&2; have_buildah=0; }

start_dockerd "$work/disk/dockerd"
scripts/busybox-image.sh | b import -c 'CMD ["sh"]' - busybox:latest >/dev/null
b save -o "$work/busybox.tar" busybox
dock load -i "$work/busybox.tar" >/dev/null
[ $have_buildah = 1 ] && bah pull -q "docker-archive:$work/busybox.tar" >/dev/null && bah tag "$(bah images -q | head -1)" busybox:latest

# The context: 5,000 small files in 50 directories.
ctx=$work/disk/context
mkdir -p "$ctx"
for d in $(seq 0 49); do
    mkdir -p "$ctx/files/d$d"
    for f in $(seq 0 99); do echo "file $d/$f" > "$ctx/files/d$d/f$f"; done
done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox AS files
COPY files/ /files/
RUN find /files -type f | wc -l > /count

FROM busybox AS gen-a
RUN mkdir /a && for i in $(seq 1 300); do echo "a $i" > /a/f$i; done

FROM busybox AS gen-b
RUN mkdir /b && for i in $(seq 1 300); do echo "b $i" > /b/f$i; done

FROM busybox
COPY --from=files /files /files
COPY --from=files /count /count
COPY --from=gen-a /a /a
COPY --from=gen-b /b /b
RUN cat /count > /summary && ls /a /b | wc -l >> /summary
EOF

# Big inputs too: two 64 MiB files, copied and read by a RUN.
big=$work/disk/context-big
mkdir -p "$big/big"
head -c 64M /dev/urandom > "$big/big/a"
head -c 64M /dev/urandom > "$big/big/b"
cat > "$big/Dockerfile" <<'EOF'
FROM busybox
COPY big/ /big/
RUN md5sum /big/* > /sums
EOF

builders=(berth classic buildkit)
[ $have_buildah = 1 ] && builders+=(buildah)
context=$ctx
build_with() { # builder [extra flags]
    local who=$1; shift
    case $who in
        berth) b build -q --network none "$@" -t bench "$context" ;;
        classic) classic build -q --network none "$@" -t bench "$context" ;;
        buildkit) buildkit build -q --network none "$@" -t bench "$context" ;;
        buildah) bah bud -q --layers --network none "$@" -t bench "$context" ;;
    esac
}

# Warm every builder (and its cache) once, on both contexts.
for context in "$big" "$ctx"; do
    for who in "${builders[@]}"; do build_with "$who" >/dev/null 2>&1; done
done

declare -A times
measure() { # label setup-command flags...
    local label=$1 setup=$2; shift 2
    for _ in $(seq 1 "$runs"); do
        for who in "${builders[@]}"; do
            [ -n "$setup" ] && eval "$setup"
            # Every builder starts on a clean file system: berth syncs what
            # it writes (syncfs), and must not pay for what the peers (which
            # do not sync) left dirty.
            sync
            # The unchanged case runs on a warm cache: built once first.
            times[$label.$who]+="$(time_cmd build_with "$who" "$@") "
        done
    done
}
n=0
measure cold "" --no-cache
measure unchanged ""
measure touched 'touch "$ctx/files/d7/f7"'
measure changed 'n=$((n + 1)); echo "changed $n" > "$ctx/files/d7/f7"'
context=$big
measure big-cold "" --no-cache
measure big-changed 'head -c 64M /dev/urandom > "$big/big/b"'

printf '%-22s' "case"
for who in "${builders[@]}"; do printf '%12s' "$who"; done
printf '   berth / fastest peer\n'
for label in cold unchanged touched changed big-cold big-changed; do
    printf '%-22s' "$label"
    best=
    for who in "${builders[@]}"; do
        # shellcheck disable=SC2086
        m=$(median ${times[$label.$who]})
        printf '%11ss' "$(fmt "$m")"
        if [ "$who" = berth ]; then bm=$m; elif [ -z "$best" ] || [ "$(echo "$m < $best" | bc -l)" = 1 ]; then best=$m; fi
    done
    printf '   %s\n' "$(ratio "$bm" "$best")"
done
