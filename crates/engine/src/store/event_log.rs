//! The event log's rows (see `events.rs` for what events are).

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::events::{Event, EventType};

/// Events kept in the store (Docker keeps 256 in memory; berth's survive
/// restarts and are shared by every process).
const KEPT: i64 = 4096;

/// Appends `event` in the caller's transaction.
pub fn record(conn: &Connection, event: &Event) -> Result<()> {
    let attributes = serde_json::to_string(&event.attributes)
        .map_err(|e| Error::internal(format!("encode event: {e}")))?;
    conn.execute(
        "INSERT INTO events (time_nano, type, action, actor, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            event.time_nano,
            event.kind.as_str(),
            event.action,
            event.actor,
            attributes
        ],
    )?;
    let seq = conn.last_insert_rowid();
    if seq % 64 == 0 {
        conn.execute("DELETE FROM events WHERE seq <= ?1", [seq - KEPT])?;
    }
    Ok(())
}

pub fn read_after(conn: &Connection, after: i64) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, time_nano, type, action, actor, attributes FROM events WHERE seq > ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([after], |r| {
        let kind: String = r.get(2)?;
        let attributes: String = r.get(5)?;
        Ok(Event {
            seq: r.get(0)?,
            time_nano: r.get(1)?,
            kind: match kind.as_str() {
                "image" => EventType::Image,
                "volume" => EventType::Volume,
                "network" => EventType::Network,
                _ => EventType::Container,
            },
            action: r.get(3)?,
            actor: r.get(4)?,
            attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn last_seq(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?)
}

/// The exit code in the last `die` event of container `id` (a full ID),
/// while the log still keeps it.
pub fn last_exit_code(conn: &Connection, id: &str) -> Result<Option<i32>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attributes FROM events WHERE type = 'container' AND action = 'die' AND actor = ?1 ORDER BY seq DESC LIMIT 1",
    )?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let attributes: String = row.get(0)?;
    let attributes: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&attributes).unwrap_or_default();
    Ok(attributes.get("exitCode").and_then(|c| c.parse().ok()))
}

/// The full ID of the container last destroyed at or after `since` (unix
/// nanoseconds) whose name is `name` or whose ID starts with it.
pub fn destroyed_since(conn: &Connection, name: &str, since: i64) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT actor, attributes FROM events WHERE type = 'container' AND action = 'destroy' AND time_nano >= ?1 ORDER BY seq DESC",
    )?;
    let rows = stmt.query_map([since], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (actor, attributes) = row?;
        let attributes: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&attributes).unwrap_or_default();
        if actor.starts_with(name) || attributes.get("name").is_some_and(|n| n == name) {
            return Ok(Some(actor));
        }
    }
    Ok(None)
}
