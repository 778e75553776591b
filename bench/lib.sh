# Shared helpers for the benchmarks: timing, medians, a private dockerd.
# Sourced, not run.

# Seconds (float) that a command takes.
time_cmd() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; return 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

# Median of the arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

ratio() {
    echo "scale=3; $1 / $2" | bc -l
}

fmt() {
    printf '%.3f' "$1"
}

# A fresh journaled ext4 on a direct-I/O loop device, mounted on DIR:
# this VM's root ext4 has no journal and makes file creation after mass
# deletion cost seconds of kernel time, whoever runs next. Inode tables
# and journal are written now: ext4lazyinit would otherwise zero them in
# the background for minutes, I/O that lands on whichever engine runs then.
# Sets LOOPDEV (detach it on exit).
LOOPDEV=
mount_journaled_ext4() { # IMAGE SIZE DIR
    mkdir -p "$3"
    truncate -s "$2" "$1"
    LOOPDEV=$(losetup -f --show --direct-io=on "$1")
    mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$LOOPDEV"
    mount "$LOOPDEV" "$3"
}

# Runtime state as a real install keeps it: on a tmpfs (dockerd's exec root
# and containerd's state live in /run; so does berth's run root). Benchmarks
# mount one per run and give both engines a directory in it.
RUN_TMPFS=
mount_run_tmpfs() { # DIR
    RUN_TMPFS=$1
    mkdir -p "$RUN_TMPFS"
    mount -t tmpfs -o size=2g,mode=0700 tmpfs "$RUN_TMPFS"
}

# A private dockerd on its own data root and socket, no networking, its exec
# root on the run tmpfs when there is one (as /run/docker is). Refuses to
# start beside a dockerd it did not start (a --bridge=none dockerd can
# delete an existing docker0).
DOCKERD_DIR=
start_dockerd() {
    if pgrep -x dockerd >/dev/null; then
        echo "bench: another dockerd is running; not starting a private one beside it" >&2
        return 1
    fi
    DOCKERD_DIR=${1:-$(mktemp -d /tmp/berth-bench-dockerd.XXXXXX)}
    mkdir -p "$DOCKERD_DIR"
    mkdir -p "$DOCKERD_DIR/config"
    local exec_root=$DOCKERD_DIR/exec
    if [ -n "$RUN_TMPFS" ]; then
        exec_root=$(mktemp -d "$RUN_TMPFS/docker.XXXXXX")
    fi
    dockerd --data-root "$DOCKERD_DIR/data" --exec-root "$exec_root" \
        --pidfile "$DOCKERD_DIR/d.pid" -H "unix://$DOCKERD_DIR/d.sock" \
        --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
        --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-plugins \
        >"$DOCKERD_DIR/dockerd.log" 2>&1 &
    for _ in $(seq 1 300); do
        dock version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "bench: dockerd did not start; see $DOCKERD_DIR/dockerd.log" >&2
    return 1
}

dock() {
    DOCKER_CONFIG="$DOCKERD_DIR/config" docker -H "unix://$DOCKERD_DIR/d.sock" "$@"
}

stop_dockerd() {
    [ -n "$DOCKERD_DIR" ] || return 0
    if [ -f "$DOCKERD_DIR/d.pid" ]; then
        kill "$(cat "$DOCKERD_DIR/d.pid")" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$(cat "$DOCKERD_DIR/d.pid" 2>/dev/null)" 2>/dev/null || break
            sleep 0.2
        done
    fi
    grep -o " $DOCKERD_DIR[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$DOCKERD_DIR"
}
