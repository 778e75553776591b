#!/usr/bin/env bash
# Installs the named Debian packages that are missing (root), without ever
# starting a system dockerd (the tests start their own, and never beside one
# they did not start).
set -euo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-packages.sh: run as root to install: ${missing[*]}" >&2
    exit 1
fi
created_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
