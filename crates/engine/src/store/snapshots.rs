//! Layer snapshots: one directory per unpacked layer, keyed by diff ID.
//!
//! A layer's directory depends only on its own content (overlayfs applies
//! whiteouts at mount time), so layers unpack independently and in parallel,
//! and one directory serves every image with that layer. A snapshot is created
//! `incomplete` under a lease and becomes `ready` only after its content is
//! unpacked, verified and synced; at most one ready snapshot exists per diff ID.

use rusqlite::{Connection, OptionalExtension, params};

use super::leases::{self, Lease, RefKind};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub id: i64,
    pub diff_id: Option<String>,
    pub ready: bool,
    pub size: u64,
}

/// The ready snapshot for a diff ID, if any.
pub fn ready_for(conn: &Connection, diff_id: &str) -> Result<Option<Snapshot>> {
    Ok(conn
        .query_row(
            "SELECT id, size FROM snapshots WHERE diff_id = ?1 AND state = 'ready'",
            [diff_id],
            |r| {
                Ok(Snapshot {
                    id: r.get(0)?,
                    diff_id: Some(diff_id.to_string()),
                    ready: true,
                    size: r.get::<_, i64>(1)? as u64,
                })
            },
        )
        .optional()?)
}

/// Creates an incomplete snapshot row under `lease` (the diff ID may be
/// unknown until the content is unpacked, as in import).
pub fn create_incomplete(conn: &Connection, lease: Lease, diff_id: Option<&str>) -> Result<i64> {
    conn.execute(
        "INSERT INTO snapshots (diff_id, state, size, created_at) VALUES (?1, 'incomplete', 0, ?2)",
        params![diff_id, crate::now_nanos()],
    )?;
    let id = conn.last_insert_rowid();
    leases::add_ref(conn, lease, RefKind::Snapshot, &id.to_string())?;
    Ok(id)
}

/// Outcome of marking a snapshot ready.
pub enum Readied {
    /// Ours is now the ready snapshot for its diff ID.
    Ours,
    /// Another process finished the same layer first; use its snapshot (the
    /// caller's lease now holds it) and discard ours.
    Theirs,
}

/// Marks `id` ready with its size, unless another ready snapshot for the same
/// diff ID appeared meanwhile.
pub fn mark_ready(
    conn: &Connection,
    lease: Lease,
    id: i64,
    diff_id: &str,
    size: u64,
) -> Result<Readied> {
    if let Some(existing) = ready_for(conn, diff_id)? {
        leases::add_ref(conn, lease, RefKind::Snapshot, &existing.id.to_string())?;
        return Ok(Readied::Theirs);
    }
    conn.execute(
        "UPDATE snapshots SET state = 'ready', size = ?2, diff_id = ?3 WHERE id = ?1",
        params![id, size as i64, diff_id],
    )?;
    Ok(Readied::Ours)
}

pub fn all(conn: &Connection) -> Result<Vec<Snapshot>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, diff_id, state, size FROM snapshots ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Snapshot {
            id: r.get(0)?,
            diff_id: r.get(1)?,
            ready: r.get::<_, String>(2)? == "ready",
            size: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Drops a snapshot's row (its directory is the caller's business).
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
    Ok(())
}
