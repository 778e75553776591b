#!/usr/bin/env bash
# bench/api.sh: `berth daemon` vs a private dockerd, both driven by the SAME
# docker CLI over their unix sockets, side by side in one run with the same
# busybox image:
#   - `run --rm busybox true`                      (interleaved, median of RUNS each)
#   - `run -d busybox sleep`, 100 times on each, then `ps` with the 100 running
#     (interleaved, median of RUNS each)
#   - `exec ex true` on a running container          (interleaved, median of RUNS each)
#     and `exec` and `ps` as raw API requests, without the CLI: the daemons'
#     own share (the CLI's start-up is a floor no daemon can go under)
#   - `pull` of bench/pull.sh's image (3 gzip layers) from a docker-registry on
#     127.0.0.1, `rmi` between runs, page cache dropped before each
#     (interleaved, median of PULL_RUNS each)
#   - resident memory: berth daemon vs dockerd + its containerd after start-up
#     (VmRSS), and before and after 10 000 `GET /containers/json`
#   - requests per second of `GET /containers/json` from 50 concurrent
#     keep-alive clients, ~5 s against each
# Prints medians and berth/docker ratios, then a summary against the goals
# (every command <= 0.25 of dockerd's time, idle RSS < 10 MiB, no growth over
# 10 000 requests). These machines are noisy: never read one time alone.
#
#   bench/api.sh [RUNS] [PULL_RUNS]   (root; needs docker.io, docker-registry,
#                                      curl, python3, bc, busybox-static)
#   DOCKER_CLI=/path/to/docker        the CLI for both (default /usr/local/bin/docker, v28)
#   SKIP="pull rps"                   sections to leave out: floor run ps exec pull rss rps
#   BENCH_PULL_DIRS="d1 d2 d3"        directories that become the pull image's three layers
#   RSS_SLACK_KIB=N                   growth over 10 000 requests still counted as none (default 0)
#
# Both stores on a fresh journaled ext4 (a direct-I/O loop device on this
# disk; see load.sh for why not the root filesystem), runtime state of both on
# one tmpfs, as /run is on a real host.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-20}
pull_runs=${2:-5}
skip=" ${SKIP:-} "
want() { [[ $skip != *" $1 "* ]]; }
rss_slack=${RSS_SLACK_KIB:-0}
clients=50
rps_seconds=5
requests=10000

# One docker CLI for both daemons (lib.sh's `dock` calls `docker`; a function
# wins over PATH, so that is this one too).
docker_cli=${DOCKER_CLI:-/usr/local/bin/docker}
[ -x "$docker_cli" ] || { echo "bench/api.sh: no docker CLI at $docker_cli (set DOCKER_CLI)" >&2; exit 1; }
docker() { "$docker_cli" "$@"; }
for tool in dockerd python3 bc curl losetup mkfs.ext4; do
    command -v "$tool" >/dev/null || { echo "bench/api.sh: $tool is missing" >&2; exit 1; }
done
if want pull; then
    command -v docker-registry >/dev/null || { echo "bench/api.sh: docker-registry is missing (or SKIP=pull)" >&2; exit 1; }
fi

berth_bin=$(scripts/build-release.sh)
work=$(mktemp -d /tmp/berth-bench-api.XXXXXX)
loopdev=
registry_pid=
berth_pid=
berth_sock=$work/berth.sock
b() { "$berth_bin" "$@"; }
# The docker CLI against berth daemon, with a config of its own as `dock` has.
bdock() { DOCKER_CONFIG="$work/berth-config" docker -H "unix://$berth_sock" "$@"; }

start_berthd() {
    mkdir -p "$work/berth-config"
    "$berth_bin" daemon -H "unix://$berth_sock" >"$work/berthd.log" 2>&1 &
    berth_pid=$!
    for _ in $(seq 1 300); do
        bdock version >/dev/null 2>&1 && return 0
        kill -0 "$berth_pid" 2>/dev/null || break
        sleep 0.2
    done
    echo "bench: berth daemon did not start; its log:" >&2
    tail -n 30 "$work/berthd.log" >&2 || true
    return 1
}

stop_berthd() {
    [ -n "$berth_pid" ] || return 0
    kill "$berth_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$berth_pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$berth_pid" 2>/dev/null && kill -9 "$berth_pid" 2>/dev/null
    wait "$berth_pid" 2>/dev/null || true
    berth_pid=
}

cleanup() {
    set +e
    # Containers of both go first (with --rm -f, not a daemon's shutdown:
    # `sleep` as pid 1 ignores SIGTERM, and dockerd would wait on 100 of them).
    b rm -f $(b ps -aq 2>/dev/null) >/dev/null 2>&1
    stop_berthd
    [ -n "$DOCKERD_DIR" ] && dock rm -f $(dock ps -aq 2>/dev/null) >/dev/null 2>&1
    stop_dockerd
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
    [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/disk"
truncate -s 30G "$work/disk.img"
loopdev=$(losetup -f --show --direct-io=on "$work/disk.img")
# Inode tables and journal written now: ext4lazyinit would otherwise
# zero them in the background for minutes, I/O that lands on whichever
# engine runs then (small, fsync-bound loads most of all).
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev"
mount "$loopdev" "$work/disk"
mount_run_tmpfs "$work/run"

# HTTP/1.1 GETs over a unix socket with the standard library alone: raw
# sockets, keep-alive, Content-Length and chunked bodies (dockerd chunks
# bodies over 2 KiB). Any answer but 200 fails the benchmark.
cat > "$work/getload.py" <<'PY'
"""getload.py seq SOCKET TOTAL PER_CONNECTION: TOTAL requests one after another,
a new connection every PER_CONNECTION; prints the seconds taken.
getload.py conc SOCKET CLIENTS SECONDS: CLIENTS threads, each on its own
keep-alive connection, for SECONDS; prints requests/s and the CPU (in cores)
this client used, to tell when it, not the daemon, was the limit."""
import socket
import sys
import threading
import time

REQUEST = b"GET /containers/json HTTP/1.1\r\nHost: localhost\r\nUser-Agent: berth-bench\r\nAccept: application/json\r\n\r\n"


class Conn:
    def __init__(self, path):
        self.path = path
        self.rbuf = bytearray(65536)
        self.open()

    def open(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(self.path)
        self.buf = bytearray()

    def close(self):
        self.s.close()

    def fill(self):
        n = self.s.recv_into(self.rbuf)
        if n == 0:
            raise ConnectionError("the daemon closed the connection mid-response")
        self.buf += memoryview(self.rbuf)[:n]

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self.fill()

    def skip(self, n):
        while len(self.buf) < n:
            self.fill()
        del self.buf[:n]

    def get(self):
        """One request, its whole answer read; returns the status."""
        self.s.sendall(REQUEST)
        status = int(self.line().split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while True:
            h = self.line()
            if not h:
                break
            k, _, v = h.partition(b":")
            k, v = k.strip().lower(), v.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding":
                chunked = b"chunked" in v
            elif k == b"connection":
                close = v == b"close"
        if chunked:
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():  # trailers
                        pass
                    break
                self.skip(size + 2)
        elif length is not None:
            self.skip(length)
        else:  # no length: the body runs to the end of the connection
            while self.s.recv_into(self.rbuf):
                pass
            close = True
        if close:
            self.close()
            self.open()
        return status


def seq(path, total, per):
    bad = done = 0
    start = time.perf_counter()
    while done < total:
        c = Conn(path)
        for _ in range(min(per, total - done)):
            if c.get() != 200:
                bad += 1
            done += 1
        c.close()
    elapsed = time.perf_counter() - start
    if bad:
        sys.exit(f"getload.py: {bad} of {total} requests did not answer 200")
    print(f"{elapsed:.3f}")


def conc(path, clients, seconds):
    conns = [Conn(path) for _ in range(clients)]
    for c in conns:  # every connection once, not counted
        if c.get() != 200:
            sys.exit("getload.py: a warm-up request did not answer 200")
    counts, bad, errors = [0] * clients, [0] * clients, []
    go, stop = threading.Event(), threading.Event()

    def worker(i):
        c, n, b = conns[i], 0, 0
        go.wait()
        try:
            while not stop.is_set():
                if c.get() != 200:
                    b += 1
                n += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        counts[i], bad[i] = n, b

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    go.set()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if errors:
        sys.exit(f"getload.py: {len(errors)} clients failed, first: {errors[0]}")
    if sum(bad):
        sys.exit(f"getload.py: {sum(bad)} of {sum(counts)} requests did not answer 200")
    print(f"{sum(counts) / elapsed:.0f} {cpu / elapsed:.2f}")


mode, path = sys.argv[1], sys.argv[2]
if mode == "seq":
    seq(path, int(sys.argv[3]), int(sys.argv[4]))
else:
    conc(path, int(sys.argv[3]), float(sys.argv[4]))
PY

# The server's share of a command, without the docker CLI: the requests the
# CLI sends, timed on the socket.
cat > "$work/rawapi.py" <<'PY'
"""rawapi.py exec SOCKET CONTAINER: one `exec CONTAINER true` as the docker
CLI sends it (create, hijacked start read to its end, inspect); prints the
seconds. rawapi.py get SOCKET PATH: one GET; prints the seconds."""
import json
import socket
import sys
import time


def call(path, method, target, body=None, upgrade=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "Connection: close\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    answer = bytearray()
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    status = int(answer.split(b" ", 2)[1])
    if status >= 300 and status != 101:
        sys.exit(f"rawapi.py: {method} {target}: {bytes(answer)!r}")
    return bytes(answer).split(b"\r\n\r\n", 1)[1]


mode, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "exec":
    created = call(path, "POST", f"/v1.41/containers/{sys.argv[3]}/exec",
                   {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})
    exec_id = json.loads(created)["Id"]
    call(path, "POST", f"/v1.41/exec/{exec_id}/start", {"Detach": False, "Tty": False}, upgrade=True)
    call(path, "GET", f"/v1.41/exec/{exec_id}/json")
else:
    call(path, "GET", sys.argv[3])
print(f"{time.perf_counter() - start:.6f}")
PY

# The pull image first, before either daemon starts (building it is minutes
# of CPU): bench/pull.sh's image, gzip, pushed by the CLI from a seed store
# into a docker-registry on its own port and storage.
if want pull; then
    rustlib=$(ls -d /root/.rustup/toolchains/*/lib/rustlib 2>/dev/null | head -1 || true)
    read -r -a dirs <<< "${BENCH_PULL_DIRS:-${rustlib:-/usr/lib/x86_64-linux-gnu} /usr/share/locale /usr/lib/gcc}"
    for d in "${dirs[@]}"; do
        [ -d "$d" ] || { echo "bench: $d missing (set BENCH_PULL_DIRS)" >&2; exit 1; }
    done
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    reg=127.0.0.1:$port
    image=$reg/bench/pull:gzip
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
    echo "building the pull image from ${dirs[*]} ($(du -scm "${dirs[@]}" | tail -1 | cut -f1) MB of files)..."
    python3 bench/make-image.py "$work/pull.tar" bench/pull:gzip "${dirs[@]}"
    seed=(--root "$work/disk/seed" --run-root "$RUN_TMPFS/seed")
    b "${seed[@]}" load -q -i "$work/pull.tar" >/dev/null
    b "${seed[@]}" tag bench/pull:gzip "$image"
    b "${seed[@]}" push -q "$image" >/dev/null
    rm -rf "$work/disk/seed" "$RUN_TMPFS/seed" "$work/pull.tar"
fi

export BERTH_ROOT=$work/disk/berth BERTH_RUN_ROOT=$work/run/berth BERTH_CGROUP_PARENT=/berth-bench-api
# No networking on either side (the private dockerd runs with
# --bridge=none): bench/net.sh compares the bridges. Both get `--network
# none`, so that the two command lines are the same.
export BERTH_BRIDGE=none
net=(--network none)

rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# dockerd and the containerd it started (a private one: no system containerd
# socket, or dockerd would use that one and it is not counted).
containerd_pids() { pgrep -P "$(cat "$DOCKERD_DIR/d.pid")" -x containerd || true; }
docker_rss() {
    local sum p
    sum=$(rss_of "$(cat "$DOCKERD_DIR/d.pid")")
    for p in $(containerd_pids); do sum=$((sum + $(rss_of "$p"))); done
    echo "$sum"
}
berth_rss() { rss_of "$berth_pid"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

# The summary, filled as the figures come.
sum_rows=()
row() { # figure berth docker ratio goal met
    sum_rows+=("$(printf '%-40s %12s %12s %12s  %-12s %s' "$@")")
}
le() { [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; }
yes_no() { if "$@"; then echo yes; else echo no; fi; }

echo "docker CLI: $("$docker_cli" --version); dockerd: $(dockerd --version)"
echo "$runs runs per engine and command, $pull_runs per engine for pull"

# Idle memory just after start-up. dockerd is measured before its busybox
# load (berth's store already holds busybox when its daemon starts): if
# anything, in docker's favour.
start_dockerd "$work/disk/dockerd"
sleep 3
[ -n "$(containerd_pids)" ] || echo "bench: dockerd started no containerd of its own; docker's RSS is dockerd's alone" >&2
d_idle_dockerd=$(rss_of "$(cat "$DOCKERD_DIR/d.pid")")
d_idle=$(docker_rss)
scripts/busybox-image.sh | b import -c 'CMD ["sh"]' - busybox:latest >/dev/null
b save -o "$work/busybox.tar" busybox
dock load -i "$work/busybox.tar" >/dev/null
start_berthd
sleep 3
b_idle=$(berth_rss)
printf '%-34s berth %8s KiB docker %8s KiB berth/docker %s  (dockerd %s KiB + containerd %s KiB)\n' \
    "idle RSS after start-up" "$b_idle" "$d_idle" "$(ratio "$b_idle" "$d_idle")" "$d_idle_dockerd" "$((d_idle - d_idle_dockerd))"
row "idle RSS after start-up" "$(mib "$b_idle")" "$(mib "$d_idle")" "$(fmt "$(ratio "$b_idle" "$d_idle")")" "< 10 MiB" "$(yes_no [ "$b_idle" -lt 10240 ])"

# Warm both (first runs create cgroup parents, caches, page cache).
for _ in 1 2 3; do
    bdock run --rm "${net[@]}" busybox true
    dock run --rm "${net[@]}" busybox true
done

report() { # name berth-times... -- docker-times...
    local name=$1; shift
    local bt=() dt=() side=b
    for t in "$@"; do
        if [ "$t" = "--" ]; then side=d; continue; fi
        if [ $side = b ]; then bt+=("$t"); else dt+=("$t"); fi
    done
    local bm dm r
    bm=$(median "${bt[@]}"); dm=$(median "${dt[@]}"); r=$(ratio "$bm" "$dm")
    printf '%-34s berth %8s s   docker %8s s   berth/docker %s\n' "$name" "$(fmt "$bm")" "$(fmt "$dm")" "$r"
    row "$name" "$(fmt "$bm") s" "$(fmt "$dm") s" "$(fmt "$r")" "<= 0.25" "$(yes_no le "$r" 0.25)"
}

# The docker CLI's own floor: `version` is one round trip, so its time is
# mostly the CLI starting up. No command through the CLI can take less;
# read the ratios below against it.
if want floor; then
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(time_cmd bdock version)")
        dt+=("$(time_cmd dock version)")
    done
    report "version (the CLI's floor)" "${bt[@]}" -- "${dt[@]}"
fi

if want run; then
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(time_cmd bdock run --rm "${net[@]}" busybox true)")
        dt+=("$(time_cmd dock run --rm "${net[@]}" busybox true)")
    done
    report "run --rm busybox true" "${bt[@]}" -- "${dt[@]}"
fi

# One running container on each, for exec and for the request loads below
# (so that /containers/json lists something).
bdock run -d --name ex "${net[@]}" busybox sleep 100000 >/dev/null
dock run -d --name ex "${net[@]}" busybox sleep 100000 >/dev/null

if want exec; then
    for _ in 1 2 3; do
        bdock exec ex true
        dock exec ex true
    done
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(time_cmd bdock exec ex true)")
        dt+=("$(time_cmd dock exec ex true)")
    done
    report "exec ex true" "${bt[@]}" -- "${dt[@]}"
    # The same requests without the CLI: what the daemons themselves take.
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(python3 "$work/rawapi.py" exec "$berth_sock" ex)")
        dt+=("$(python3 "$work/rawapi.py" exec "$DOCKERD_DIR/d.sock" ex)")
    done
    report "exec, raw API (no CLI)" "${bt[@]}" -- "${dt[@]}"
fi

# Memory over 10 000 requests (100 per keep-alive connection), after 1 000
# that are not counted (first-use allocations are not growth).
if want rss; then
    python3 "$work/getload.py" seq "$berth_sock" 1000 100 >/dev/null
    python3 "$work/getload.py" seq "$DOCKERD_DIR/d.sock" 1000 100 >/dev/null
    sleep 1
    b_before=$(berth_rss); d_before=$(docker_rss)
    bs=$(python3 "$work/getload.py" seq "$berth_sock" "$requests" 100)
    ds=$(python3 "$work/getload.py" seq "$DOCKERD_DIR/d.sock" "$requests" 100)
    sleep 1
    b_after=$(berth_rss); d_after=$(docker_rss)
    b_growth=$((b_after - b_before)); d_growth=$((d_after - d_before))
    printf '%-34s berth %8s KiB docker %8s KiB berth/docker %s\n' \
        "RSS after $requests requests" "$b_after" "$d_after" "$(ratio "$b_after" "$d_after")"
    printf '%-34s berth %+8d KiB docker %+8d KiB  (before: berth %s KiB, docker %s KiB)\n' \
        "RSS growth over $requests requests" "$b_growth" "$d_growth" "$b_before" "$d_before"
    printf '%-34s berth %8s s   docker %8s s   berth/docker %s  (one client, 100 per connection)\n' \
        "$requests x GET /containers/json" "$(fmt "$bs")" "$(fmt "$ds")" "$(ratio "$bs" "$ds")"
    row "RSS after $requests requests" "$(mib "$b_after")" "$(mib "$d_after")" "$(fmt "$(ratio "$b_after" "$d_after")")" "< 10 MiB" "$(yes_no [ "$b_after" -lt 10240 ])"
    row "RSS growth over $requests requests" "$(printf '%+d KiB' "$b_growth")" "$(printf '%+d KiB' "$d_growth")" "-" "none" "$(yes_no [ "$b_growth" -le "$rss_slack" ])"
    row "$requests x GET /containers/json" "$(fmt "$bs") s" "$(fmt "$ds") s" "$(fmt "$(ratio "$bs" "$ds")")" "-" "-"
fi

# Throughput under concurrency: the client is one Python process (its threads
# share one core); "client cores" near 1.0 means it, not the daemon, capped
# the figure.
if want rps; then
    out=$(python3 "$work/getload.py" conc "$berth_sock" "$clients" "$rps_seconds")
    read -r b_rps b_cpu <<< "$out"
    out=$(python3 "$work/getload.py" conc "$DOCKERD_DIR/d.sock" "$clients" "$rps_seconds")
    read -r d_rps d_cpu <<< "$out"
    printf '%-34s berth %8s /s  docker %8s /s  berth/docker %s  (client cores: %s, %s)\n' \
        "GET /containers/json, $clients clients" "$b_rps" "$d_rps" "$(ratio "$b_rps" "$d_rps")" "$b_cpu" "$d_cpu"
    row "req/s, $clients clients (higher is better)" "$b_rps" "$d_rps" "$(fmt "$(ratio "$b_rps" "$d_rps")")" "-" "-"
fi

bdock rm -f ex >/dev/null
dock rm -f ex >/dev/null

if want ps; then
    bt=(); dt=()
    for i in $(seq 1 100); do
        bt+=("$(time_cmd bdock run -d --name "ps$i" "${net[@]}" busybox sleep 100000)")
        dt+=("$(time_cmd dock run -d --name "ps$i" "${net[@]}" busybox sleep 100000)")
    done
    report "run -d busybox sleep (x100)" "${bt[@]}" -- "${dt[@]}"
    bn=$(bdock ps -q | wc -l); dn=$(dock ps -q | wc -l)
    if [ "$bn" != 100 ] || [ "$dn" != 100 ]; then
        echo "bench: expected 100 running containers, berth has $bn, docker $dn" >&2
        exit 1
    fi
    bdock ps >/dev/null; dock ps >/dev/null
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(time_cmd bdock ps)")
        dt+=("$(time_cmd dock ps)")
    done
    report "ps (100 running)" "${bt[@]}" -- "${dt[@]}"
    bt=(); dt=()
    for _ in $(seq 1 "$runs"); do
        bt+=("$(python3 "$work/rawapi.py" get "$berth_sock" /v1.41/containers/json)")
        dt+=("$(python3 "$work/rawapi.py" get "$DOCKERD_DIR/d.sock" /v1.41/containers/json)")
    done
    report "ps, raw API (100 running, no CLI)" "${bt[@]}" -- "${dt[@]}"
    bdock rm -f $(bdock ps -aq) >/dev/null
    dock rm -f $(dock ps -aq) >/dev/null
fi

if want pull; then
    bt=(); dt=()
    for _ in $(seq 1 "$pull_runs"); do
        sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
        bt+=("$(time_cmd bdock pull -q "$image")")
        bdock rmi "$image" >/dev/null
        sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
        dt+=("$(time_cmd dock pull -q "$image")")
        dock rmi "$image" >/dev/null
    done
    report "pull (3 gzip layers, registry)" "${bt[@]}" -- "${dt[@]}"
fi

echo
printf '%-40s %12s %12s %12s  %-12s %s\n' "figure" "berth" "docker" "berth/docker" "goal" "met"
printf '%s\n' "${sum_rows[@]}"
