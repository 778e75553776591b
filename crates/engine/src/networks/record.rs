//! Network rows.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// A network as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    /// JSON objects.
    pub labels: String,
    pub options: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, driver, bridge, subnet, gateway, ip_range, internal, attachable, labels, options, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        id: r.get(0)?,
        name: r.get(1)?,
        driver: r.get(2)?,
        bridge: r.get(3)?,
        subnet: r.get(4)?,
        gateway: r.get(5)?,
        ip_range: r.get(6)?,
        internal: r.get(7)?,
        attachable: r.get(8)?,
        labels: r.get(9)?,
        options: r.get(10)?,
        created_at: r.get(11)?,
    })
}

pub fn insert(conn: &Connection, n: &NetworkRow) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO networks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            n.id,
            n.name,
            n.driver,
            n.bridge,
            n.subnet,
            n.gateway,
            n.ip_range,
            n.internal,
            n.attachable,
            n.labels,
            n.options,
            n.created_at
        ],
    )?;
    Ok(())
}

/// Every network, by name.
pub fn all(conn: &Connection) -> Result<Vec<NetworkRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM networks ORDER BY name"))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<NetworkRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM networks WHERE name = ?1"),
            [name],
            row,
        )
        .optional()?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM networks WHERE id = ?1", [id])? == 1)
}

pub fn by_id(conn: &Connection, id: &str) -> Result<Option<NetworkRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM networks WHERE id = ?1"),
            [id],
            row,
        )
        .optional()?)
}
