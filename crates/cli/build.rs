//! Relinks the binary when the symbol order file changes: the release build
//! passes it to the linker (scripts/build-release.sh), and cargo does not
//! watch files named only in RUSTFLAGS.

fn main() {
    println!("cargo:rerun-if-changed=../../scripts/berth-runc.order");
}
