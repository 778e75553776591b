//! Exec rows: reading and writing the `execs` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::exec::{ExecRecord, ExecRequest, ExecState};
use crate::error::{Error, Result};

/// Exited execs kept per container (the newest), for `exec inspect`.
const KEEP_EXITED: i64 = 64;

const COLUMNS: &str = "id, container_id, config, state, pid, exit_code, created_at";

fn from_row(r: &Row) -> rusqlite::Result<ExecRecord> {
    let config: String = r.get(2)?;
    let state: String = r.get(3)?;
    Ok(ExecRecord {
        id: r.get(0)?,
        container_id: r.get(1)?,
        // A row is only ever written from a serialised ExecRequest.
        request: serde_json::from_str(&config).unwrap_or_default(),
        state: match state.as_str() {
            "created" => ExecState::Created,
            "running" => ExecState::Running,
            _ => ExecState::Exited,
        },
        pid: r.get(4)?,
        exit_code: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<ExecRecord>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM execs WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// A container's execs, oldest first.
pub fn of_container(conn: &Connection, container_id: &str) -> Result<Vec<ExecRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM execs WHERE container_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([container_id], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert(
    conn: &Connection,
    id: &str,
    container_id: &str,
    request: &ExecRequest,
) -> Result<()> {
    let config = serde_json::to_string(request)
        .map_err(|e| Error::internal(format!("encode exec {id}: {e}")))?;
    conn.execute(
        "INSERT INTO execs (id, container_id, config, state, created_at)
         VALUES (?1, ?2, ?3, 'created', ?4)",
        params![id, container_id, config, crate::now_nanos()],
    )?;
    // Bounded: the oldest exited ones go.
    conn.execute(
        "DELETE FROM execs WHERE container_id = ?1 AND state = 'exited' AND id NOT IN
           (SELECT id FROM execs WHERE container_id = ?1 AND state = 'exited'
            ORDER BY created_at DESC LIMIT ?2)",
        params![container_id, KEEP_EXITED],
    )?;
    Ok(())
}

pub fn set_running(conn: &Connection, id: &str, pid: i32) -> Result<()> {
    conn.execute(
        "UPDATE execs SET state = 'running', pid = ?2 WHERE id = ?1",
        params![id, pid],
    )?;
    Ok(())
}

pub fn set_exited(conn: &Connection, id: &str, code: i32) -> Result<()> {
    conn.execute(
        "UPDATE execs SET state = 'exited', exit_code = ?2 WHERE id = ?1",
        params![id, code],
    )?;
    Ok(())
}

/// Execs still marked running whose container stopped: their processes
/// died with it.
pub fn end_all(conn: &Connection, container_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE execs SET state = 'exited', exit_code = COALESCE(exit_code, 137)
         WHERE container_id = ?1 AND state != 'exited'",
        [container_id],
    )?;
    Ok(())
}
