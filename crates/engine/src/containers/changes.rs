//! `diff`: what a container changed, from its writable layer alone: a path
//! there is Added if no image layer has it, else Changed; an overlay
//! whiteout is Deleted.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::record::ContainerRow;
use crate::Engine;
use crate::error::{IoContext, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether the image (layers top-most first) has `rel`.
fn in_image(lowers: &[PathBuf], rel: &Path) -> bool {
    for lower in lowers {
        if let Ok(meta) = std::fs::symlink_metadata(lower.join(rel)) {
            return !is_whiteout(&meta);
        }
    }
    false
}

fn walk(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<(ChangeKind, String)>,
) -> Result<()> {
    let dir = upper.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .ctx("read directory", &dir)?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let child = rel.join(e.file_name());
        let meta = e.path().symlink_metadata().ctx("stat", &e.path())?;
        let shown = format!("/{}", child.display());
        if is_whiteout(&meta) {
            out.push((ChangeKind::Deleted, shown));
            continue;
        }
        let kind = if in_image(lowers, &child) {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        out.push((kind, shown));
        if meta.is_dir() {
            walk(upper, &child, lowers, out)?;
        }
    }
    Ok(())
}

impl Engine {
    pub fn container_changes(&self, row: &ContainerRow) -> Result<Vec<(ChangeKind, String)>> {
        let snapshot = self.container_snapshot(row)?;
        let upper = snapshot
            .upper
            .as_ref()
            .map(|u| u.dir.clone())
            .ok_or_else(|| crate::error::Error::internal("a container has a writable layer"))?;
        // The init layer's mount points are berth's, not the container's.
        let lowers: Vec<PathBuf> = snapshot.lowers.into_iter().skip(1).collect();
        let mut out = Vec::new();
        walk(&upper, Path::new(""), &lowers, &mut out)?;
        Ok(out)
    }
}
