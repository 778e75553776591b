#!/usr/bin/env bash
# Builds a busybox root filesystem from Debian's busybox-static and writes it
# as a tar stream (deterministic: sorted, mtime 0, root-owned), for
# `berth import - busybox:latest`. Offline stand-in for `berth pull busybox`.
#
#   scripts/busybox-image.sh > busybox.tar
#   scripts/busybox-image.sh | berth import -c 'CMD ["sh"]' - busybox:latest
set -euo pipefail

busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --list >/dev/null 2>&1 || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    if [ -x /usr/bin/busybox ] && file -L /usr/bin/busybox 2>/dev/null | grep -q 'statically linked'; then
        busybox=/usr/bin/busybox
    else
        echo "busybox-image.sh: need a static busybox (apt-get install busybox-static)" >&2
        exit 1
    fi
fi

root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,home,dev,proc,sys,var/spool/mail,var/www,usr/sbin}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
# Every applet is a hard link to the one binary, as in Docker Hub's image.
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln "$root/bin/busybox" "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c .
