//! Build contexts for the `berth build` tests: a directory with a
//! Dockerfile in the store's temp dir, and a plain-progress build of it.

use std::path::{Path, PathBuf};

use super::Store;

/// `<store dir>/NAME/` holding `dockerfile` as its Dockerfile.
pub fn context(store: &Store, name: &str, dockerfile: &str) -> PathBuf {
    let dir = store.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// `build --progress plain --network none EXTRA… DIR`: (code, stdout, stderr).
pub fn build(store: &Store, dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["build", "--progress", "plain", "--network", "none"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    store.outcome(&args)
}
