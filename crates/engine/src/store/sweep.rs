//! The start-up sweep: every berth process runs it when it opens the store, so
//! whatever a crashed process left behind is cleaned by the next one.
//!
//! - ingest files of dead writers are deleted, and partial downloads (kept
//!   for a resume) once nobody has touched them for a day;
//! - dead leases are released, and what only they protected is collected
//!   (incomplete snapshots, blobs of a load that never recorded its image);
//!   the containers their commits held frozen are reported for thawing;
//! - trash left by a crash is deleted, or restored if the transaction that
//!   moved it there never committed (the object is still referenced).
//!
//! The common case (nothing to do) costs a directory read or two and one
//! SELECT; the write lock is taken only when there is something to clean.

use std::fs;

use berth_image::Digest;
use rusqlite::OptionalExtension;

use super::gc::{self, Candidates};
use super::{Db, Paths, leases};
use crate::error::{IoContext, Result};

#[derive(Debug, Default)]
pub struct SweepReport {
    pub ingests_removed: usize,
    pub leases_released: usize,
    pub trash_removed: usize,
    pub trash_restored: usize,
    pub containers_removed: usize,
    /// Containers a dead commit held frozen: the engine thaws them unless
    /// another commit holds them (`containers::freeze`).
    pub freezes_released: Vec<String>,
}

pub fn sweep(db: &Db, paths: &Paths) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for path in paths.content.abandoned_ingests()? {
        gc::remove_any(&path);
        report.ingests_removed += 1;
    }
    // Partial downloads are kept for a resume, but not forever.
    for path in paths
        .content
        .stale_partials(berth_image::content::PARTIAL_LIFETIME)?
    {
        gc::remove_any(&path);
        report.ingests_removed += 1;
    }

    let (_, dead) = leases::partition(&*db.conn()?)?;
    if !dead.is_empty() {
        let collected = db.write(|conn| {
            let mut candidates = Candidates::default();
            // Re-read inside the transaction: another sweeper may have been first.
            let (_, dead) = leases::partition(conn)?;
            report.freezes_released = crate::containers::freeze::held_by(conn, &dead)?;
            for lease in &dead {
                candidates.extend(Candidates::from_refs(&leases::delete(conn, *lease)?));
            }
            report.leases_released = dead.len();
            gc::collect(conn, paths, &candidates)
        })?;
        collected.empty_trash();
    }

    // Container directories whose row is gone (a create whose row a power
    // loss took back: container rows are written without waiting for the
    // disk). Listed before the rows are read: a create inserts its row
    // before making its directory, so a directory without a row is orphaned.
    let dirs: Vec<String> = fs::read_dir(&paths.containers)
        .ctx("list", &paths.containers)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    if !dirs.is_empty() {
        let conn = db.conn()?;
        let mut stmt = conn.prepare_cached("SELECT id FROM containers")?;
        let known: std::collections::HashSet<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        for dir in dirs.iter().filter(|d| !known.contains(*d)) {
            let from = paths.container_dir(dir);
            let to = paths
                .trash
                .join(format!("orphan-{dir}.{}", crate::now_nanos()));
            if fs::rename(&from, &to).is_ok() {
                report.containers_removed += 1;
            }
        }
    }

    let leftovers: Vec<_> = fs::read_dir(&paths.trash)
        .ctx("list", &paths.trash)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    if !leftovers.is_empty() {
        let to_delete = db.write(|conn| {
            let (live, _) = leases::partition(conn)?;
            let mut to_delete = Vec::new();
            for path in &leftovers {
                if !path.exists() {
                    continue; // its owner emptied it meanwhile
                }
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let stem = name.split('.').next().unwrap_or_default();
                let restore_to = if let Some(hex) = stem.strip_prefix("blob-") {
                    match Digest::from_sha256_hex(hex) {
                        Ok(d)
                            if gc::blob_referenced(conn, &live, &d)?
                                && !paths.content.contains(&d) =>
                        {
                            Some(paths.content.blob_path(&d))
                        }
                        _ => None,
                    }
                } else if let Some(id) = stem
                    .strip_prefix("snap-")
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    let exists: Option<i64> = conn
                        .query_row("SELECT id FROM snapshots WHERE id = ?1", [id], |r| r.get(0))
                        .optional()?;
                    exists
                        .map(|id| paths.snapshot_dir(id))
                        .filter(|dir| !dir.exists())
                } else if let Some(id) = stem.strip_prefix("ctr-") {
                    // A removal that never committed: the row is still there.
                    let exists: Option<String> = conn
                        .query_row("SELECT id FROM containers WHERE id = ?1", [id], |r| {
                            r.get(0)
                        })
                        .optional()?;
                    exists
                        .map(|id| paths.container_dir(&id))
                        .filter(|dir| !dir.exists())
                } else if let Some(name) = stem.strip_prefix("vol-") {
                    let exists: Option<String> = conn
                        .query_row("SELECT name FROM volumes WHERE name = ?1", [name], |r| {
                            r.get(0)
                        })
                        .optional()?;
                    exists
                        .map(|name| paths.volumes.join(name))
                        .filter(|dir| !dir.exists())
                } else {
                    None
                };
                match restore_to {
                    Some(target) => {
                        fs::rename(path, &target).ctx("restore from trash", path)?;
                        report.trash_restored += 1;
                    }
                    None => to_delete.push(path.clone()),
                }
            }
            Ok(to_delete)
        })?;
        for path in &to_delete {
            gc::remove_any(path);
        }
        report.trash_removed = to_delete.len();
    }
    Ok(report)
}
