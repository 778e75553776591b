//! Volume rows and which containers use them.

use rusqlite::{Connection, params};

use crate::error::Result;

/// Records that `container` uses `volume`, creating the volume's row.
pub fn attach(conn: &Connection, container: &str, volume: &str, anonymous: bool) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO volumes (name, anonymous, created_at) VALUES (?1, ?2, ?3)",
        params![volume, anonymous, crate::now_nanos()],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?1, ?2)",
        params![container, volume],
    )?;
    Ok(())
}

/// The anonymous volumes of a container that no other container uses.
pub fn anonymous_only_of(conn: &Connection, container: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.name FROM volumes v JOIN container_volumes cv ON cv.volume = v.name
         WHERE cv.container_id = ?1 AND v.anonymous = 1
           AND NOT EXISTS (SELECT 1 FROM container_volumes o
                           WHERE o.volume = v.name AND o.container_id != ?1)",
    )?;
    let rows = stmt.query_map([container], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete(conn: &Connection, volume: &str) -> Result<()> {
    conn.execute("DELETE FROM container_volumes WHERE volume = ?1", [volume])?;
    conn.execute("DELETE FROM volumes WHERE name = ?1", [volume])?;
    Ok(())
}

/// A volume row: (name, labels JSON, anonymous, created at, options JSON).
pub type VolumeRow = (String, Option<String>, bool, i64, String);

/// Creates a volume's row; false if it existed.
pub fn insert(
    conn: &Connection,
    name: &str,
    labels: &str,
    anonymous: bool,
    options: &str,
) -> Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO volumes (name, labels, anonymous, created_at, options) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, labels, anonymous, crate::now_nanos(), options],
    )?;
    Ok(added == 1)
}

/// Every volume, by name.
pub fn all(conn: &Connection) -> Result<Vec<VolumeRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, labels, anonymous, created_at, options FROM volumes ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A volume's `-o` options (JSON), if it exists.
pub fn options(conn: &Connection, name: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT options FROM volumes WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM volumes WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )?)
}

/// The containers that use a volume.
pub fn users(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT container_id FROM container_volumes WHERE volume = ?1")?;
    let rows = stmt.query_map([name], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
