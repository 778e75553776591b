//! Who may read what berth keeps: modes set explicitly, whatever the
//! caller's umask (a store made at umask 000 must be as private as one made
//! at 077), as Docker sets them.
//!
//! The data and run roots and every directory under them that names or
//! holds containers are closed to other users; what holds a container's
//! configuration (its environment may carry secrets) is readable by root
//! alone; logs by root and its group.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{IoContext, Result};

/// The data root and `containers/`: others may not list them (Docker's 0710).
pub const ROOT_DIR: u32 = 0o710;
/// `volumes/`: others may not list volume names, but may pass through to a
/// volume's `_data` if they know its name (Docker's 0701).
pub const VOLUMES_DIR: u32 = 0o701;
/// Content, snapshots, trash, the run root, a monitor's directory.
pub const PRIVATE_DIR: u32 = 0o700;
/// The metadata database (container configurations, environment included).
pub const PRIVATE_FILE: u32 = 0o600;
/// A container's json-file log (Docker's 0640).
pub const LOG_FILE: u32 = 0o640;

/// The widest mode berth gives a file or directory at `rel` (a path
/// relative to the data root), for `system check`; None where berth sets
/// no mode (file content of images and volumes is the image's).
pub fn expected_mode(rel: &Path) -> Option<u32> {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    match parts.as_slice() {
        [] => Some(ROOT_DIR),
        ["containers"] => Some(ROOT_DIR),
        ["containers", _] => Some(ROOT_DIR),
        ["containers", _, name] if name.ends_with("-json.log") || name.contains("-json.log.") => {
            Some(LOG_FILE)
        }
        ["volumes"] => Some(VOLUMES_DIR),
        ["content"] | ["snapshots"] | ["trash"] => Some(PRIVATE_DIR),
        [name] if name.starts_with("berth.db") => Some(PRIVATE_FILE),
        _ => None,
    }
}

/// Directories of container and image content that berth makes (a
/// container's writable layer, a volume): the overlay's root takes the
/// upper directory's mode, so it must not be the umask's.
pub const CONTENT_DIR: u32 = 0o755;
/// Files a container reads through a bind mount (its hosts files).
pub const SHARED_FILE: u32 = 0o644;

/// Writes `data` to `path` with `mode`, whatever the umask.
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    std::fs::write(path, data).ctx("write", path)?;
    set_mode(path, mode)
}

/// A snapshot's `<id>/fs` directory: `<id>` root's alone, `fs` (a layer's
/// root, unless the layer says otherwise) 0755.
pub fn create_snapshot_dir(fs_dir: &Path) -> Result<()> {
    if let Some(parent) = fs_dir.parent() {
        create_dir(parent, PRIVATE_DIR)?;
    }
    create_dir(fs_dir, CONTENT_DIR)
}

/// Creates `dir` (and missing parents) and sets its mode to `mode`.
pub fn create_dir(dir: &Path, mode: u32) -> Result<()> {
    std::fs::create_dir_all(dir).ctx("create directory", dir)?;
    set_mode(dir, mode)
}

/// A directory only root may enter.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    create_dir(dir, PRIVATE_DIR)
}

/// Sets `path`'s permission bits to `mode` unless they are that already.
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).ctx("stat", path)?;
    if meta.permissions().mode() & 0o7777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).ctx("chmod", path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_berth_sets() {
        assert_eq!(expected_mode(Path::new("")), Some(ROOT_DIR));
        assert_eq!(expected_mode(Path::new("containers/abc")), Some(ROOT_DIR));
        assert_eq!(
            expected_mode(Path::new("containers/abc/abc-json.log.1")),
            Some(LOG_FILE)
        );
        assert_eq!(expected_mode(Path::new("berth.db-wal")), Some(PRIVATE_FILE));
        assert_eq!(expected_mode(Path::new("volumes/v/_data")), None);
    }
}
