#!/usr/bin/env bash
# Builds berth for release and prints the binary's path. The binary is static
# (glibc and libseccomp linked in): no dynamic loader at start-up, which makes
# every `berth-runc` call faster and smaller (see bench/runtime.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
libdir=/usr/lib/${multiarch:-x86_64-linux-gnu}
if [ ! -f "$libdir/libseccomp.a" ]; then
    echo "build-release.sh: $libdir/libseccomp.a missing (apt-get install libseccomp-dev)" >&2
    exit 1
fi
# crt-static applies to the target only (--target), so build scripts and
# proc-macros stay dynamic as they must. The binary stays position-independent
# (ASLR); packed relative relocations (RELR) shrink what the start-up
# relocation pass reads from 390 KB to 6 KB. The code and read-only data that
# berth-runc runs are laid out first and together (scripts/berth-runc.order,
# made by scripts/order-runtime-symbols.sh): the kernel maps 64 KiB around
# every page fault, so scattered code costs resident memory. The order file
# is always passed, so that these flags never change and force a rebuild;
# crates/cli/build.rs relinks when it changes. Needs LLD (rustc's default
# linker on x86_64 Linux since 1.90).
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$libdir \
    RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs -C link-arg=-Wl,--symbol-ordering-file=$PWD/scripts/berth-runc.order -C link-arg=-Wl,--no-warn-symbol-ordering" \
    cargo build --release --target "$target" -p berth >&2
echo "$PWD/target/$target/release/berth"
