//! Garbage collection of blobs and snapshots.
//!
//! Runs inside the caller's write transaction: an object is collected only if
//! no image and no live lease references it at that moment, and it is renamed
//! into `trash/` before the transaction commits. Because other writers are
//! queued on the same lock, nobody can take a new reference between the check
//! and the rename; the slow recursive delete happens after the commit.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;

use berth_image::Digest;
use rusqlite::{Connection, OptionalExtension};

use super::Paths;
use super::leases::{self, RefKind};
use crate::error::{IoContext, Result};

#[derive(Default, Debug)]
pub struct Candidates {
    pub blobs: BTreeSet<Digest>,
    pub snapshots: BTreeSet<i64>,
}

impl Candidates {
    /// Candidates from lease refs (`kind`, `key`) pairs.
    pub fn from_refs(refs: &[(String, String)]) -> Candidates {
        let mut c = Candidates::default();
        for (kind, key) in refs {
            match kind.as_str() {
                "blob" => {
                    if let Ok(d) = Digest::parse(key) {
                        c.blobs.insert(d);
                    }
                }
                "snapshot" => {
                    if let Ok(id) = key.parse() {
                        c.snapshots.insert(id);
                    }
                }
                _ => {}
            }
        }
        c
    }

    pub fn extend(&mut self, other: Candidates) {
        self.blobs.extend(other.blobs);
        self.snapshots.extend(other.snapshots);
    }
}

/// What a collection removed; `trash` must be emptied after the commit.
#[derive(Default, Debug)]
pub struct Collected {
    pub blobs: Vec<Digest>,
    /// Snapshot ids with their diff IDs and sizes.
    pub snapshots: Vec<(i64, Option<String>, u64)>,
    pub trash: Vec<PathBuf>,
}

impl Collected {
    /// Deletes what was moved to the trash (call after the commit).
    pub fn empty_trash(&self) {
        for path in &self.trash {
            remove_any(path);
        }
    }

    /// Both collections' removals (one transaction's, emptied together).
    pub fn and(mut self, other: Collected) -> Collected {
        self.blobs.extend(other.blobs);
        self.snapshots.extend(other.snapshots);
        self.trash.extend(other.trash);
        self
    }

    pub fn reclaimed_bytes(&self) -> u64 {
        self.snapshots.iter().map(|(_, _, size)| size).sum()
    }
}

pub fn remove_any(path: &std::path::Path) {
    let _ = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

pub fn blob_referenced(conn: &Connection, live: &HashSet<i64>, digest: &Digest) -> Result<bool> {
    let d = digest.as_str();
    let by_image: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1)
             OR EXISTS (SELECT 1 FROM image_layers WHERE blob_digest = ?1)",
        [d],
        |r| r.get(0),
    )?;
    Ok(by_image || leases::held_by_live(conn, live, RefKind::Blob, d)?)
}

pub fn snapshot_referenced(conn: &Connection, live: &HashSet<i64>, id: i64) -> Result<bool> {
    let by_image: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM snapshots s JOIN image_layers l ON l.diff_id = s.diff_id
                        WHERE s.id = ?1 AND s.state = 'ready')",
        [id],
        |r| r.get(0),
    )?;
    Ok(by_image || leases::held_by_live(conn, live, RefKind::Snapshot, &id.to_string())?)
}

/// Collects the unreferenced among `candidates`. Must run inside a write transaction.
pub fn collect(conn: &Connection, paths: &Paths, candidates: &Candidates) -> Result<Collected> {
    let (live, _) = leases::partition(conn)?;
    let mut out = Collected::default();
    let stamp = crate::now_nanos();
    for digest in &candidates.blobs {
        if blob_referenced(conn, &live, digest)? {
            continue;
        }
        let from = paths.content.blob_path(digest);
        let to = paths.trash.join(format!("blob-{}.{stamp}", digest.hex()));
        if rename_if_present(&from, &to)? {
            out.trash.push(to);
        }
        out.blobs.push(digest.clone());
    }
    for &id in &candidates.snapshots {
        let row: Option<(Option<String>, i64)> = conn
            .query_row(
                "SELECT diff_id, size FROM snapshots WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if snapshot_referenced(conn, &live, id)? {
            continue;
        }
        conn.execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
        let from = paths.snapshot_dir(id);
        let to = paths.trash.join(format!("snap-{id}.{stamp}"));
        if rename_if_present(&from, &to)? {
            out.trash.push(to);
        }
        if let Some((diff_id, size)) = row {
            out.snapshots.push((id, diff_id, size as u64));
        }
    }
    Ok(out)
}

fn rename_if_present(from: &std::path::Path, to: &std::path::Path) -> Result<bool> {
    match fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).ctx("move to trash", from),
    }
}
