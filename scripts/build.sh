#!/usr/bin/env bash
# Builds berth (the dev profile: dependencies optimised, berth's own crates
# quick to compile) and prints the binary's path. Static, like every berth
# build (.cargo/config.toml), so it also runs as a container's `--init`.
# The same build the tests use; scripts/build-release.sh makes the fast one
# the benchmarks measure.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p berth >&2
echo "$PWD/target/x86_64-unknown-linux-gnu/debug/berth"
