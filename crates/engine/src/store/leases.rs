//! Leases: a process's claim on blobs and snapshots it is creating or about
//! to reference, so garbage collection by another process leaves them alone.
//!
//! A lease records its owner's (pid, start time). When the owner dies, the
//! lease is dead: the next berth process's sweep releases it and collects
//! whatever it protected that nothing else references.

use std::collections::HashSet;

use berth_image::owner::ProcessToken;
use rusqlite::{Connection, params};

use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Blob,
    Snapshot,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Blob => "blob",
            RefKind::Snapshot => "snapshot",
        }
    }
}

pub fn create(conn: &Connection, owner: &ProcessToken) -> Result<Lease> {
    conn.execute(
        "INSERT INTO leases (pid, start_time, created_at) VALUES (?1, ?2, ?3)",
        params![owner.pid, owner.start_time as i64, crate::now_nanos()],
    )?;
    Ok(Lease(conn.last_insert_rowid()))
}

pub fn add_ref(conn: &Connection, lease: Lease, kind: RefKind, key: &str) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO lease_refs (lease_id, kind, key) VALUES (?1, ?2, ?3)",
        params![lease.0, kind.as_str(), key],
    )?;
    Ok(())
}

/// Removes the lease and returns what it protected (candidates for GC).
pub fn delete(conn: &Connection, lease: Lease) -> Result<Vec<(String, String)>> {
    let refs = refs_of(conn, lease)?;
    conn.execute("DELETE FROM leases WHERE id = ?1", [lease.0])?;
    Ok(refs)
}

pub fn refs_of(conn: &Connection, lease: Lease) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT kind, key FROM lease_refs WHERE lease_id = ?1")?;
    let rows = stmt.query_map([lease.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// All leases, split into live and dead by their owner's liveness.
pub fn partition(conn: &Connection) -> Result<(HashSet<i64>, Vec<Lease>)> {
    let mut stmt = conn.prepare_cached("SELECT id, pid, start_time FROM leases")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut live = HashSet::new();
    let mut dead = Vec::new();
    for row in rows {
        let (id, pid, start) = row?;
        if (ProcessToken {
            pid,
            start_time: start as u64,
        })
        .is_alive()
        {
            live.insert(id);
        } else {
            dead.push(Lease(id));
        }
    }
    Ok((live, dead))
}

/// Whether a live lease holds `kind`/`key`.
pub fn held_by_live(
    conn: &Connection,
    live: &HashSet<i64>,
    kind: RefKind,
    key: &str,
) -> Result<bool> {
    let mut stmt =
        conn.prepare_cached("SELECT lease_id FROM lease_refs WHERE kind = ?1 AND key = ?2")?;
    let ids = stmt.query_map(params![kind.as_str(), key], |r| r.get::<_, i64>(0))?;
    for id in ids {
        if live.contains(&id?) {
            return Ok(true);
        }
    }
    Ok(false)
}
