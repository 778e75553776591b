#!/usr/bin/env bash
# For a newcomer on a fresh machine: installs what berth needs (and nothing
# the tests need: that is scripts/test.sh's), builds it, makes a busybox
# image from Debian's busybox-static when there is none (offline; no
# registry needed), and shows berth working on it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
berth=$(scripts/build.sh)
echo "+ built $berth ($("$berth" version))"

run() {
    echo "+ berth $*"
    "$berth" "$@"
}

if [ -z "$("$berth" images -q busybox:latest)" ]; then
    echo "+ scripts/busybox-image.sh | berth import -c 'CMD [\"sh\"]' - busybox:latest"
    scripts/busybox-image.sh | "$berth" import -c 'CMD ["sh"]' - busybox:latest
fi
run images
run image inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} cmd={{json .Config.Cmd}} layers={{len .RootFS.Layers}}' busybox
run history busybox
run tag busybox busybox:0.1
run images busybox
echo "+ berth save busybox | berth --root <scratch> load"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$berth" save busybox | "$berth" --root "$scratch" load
run rmi busybox:0.1
run run --rm busybox echo hello from a berth container
run run --rm --name quickstart busybox sh -c 'echo "hostname $(hostname), uid $(id -u), $(grep ^CapEff /proc/self/status)"'
run run -d --name quickstart-bg busybox sleep 30
run ps
run rm -f quickstart-bg
run system df
run system check
