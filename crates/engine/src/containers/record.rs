//! Container rows: reading and writing the `containers` table.

use berth_image::owner::ProcessToken;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::config::ContainerConfig;
use crate::error::{Error, Result};

/// A container's lifecycle state as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Being created by a CLI (`owner` is that process).
    Creating,
    Created,
    /// A monitor is setting it up (`owner` is the monitor).
    Starting,
    Running,
    Paused,
    Exited,
    /// Being removed (`rm` crashed half-way if the owner is dead).
    Removing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Created => "created",
            State::Starting => "starting",
            State::Running => "running",
            State::Paused => "paused",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "creating" => State::Creating,
            "created" => State::Created,
            "starting" => State::Starting,
            "running" => State::Running,
            "paused" => State::Paused,
            "removing" => State::Removing,
            _ => State::Exited,
        }
    }

    /// Docker's `State.Status` word.
    pub fn docker_status(self) -> &'static str {
        match self {
            State::Creating | State::Created => "created",
            State::Starting | State::Running => "running",
            State::Paused => "paused",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }

    /// A monitor owns the container (it runs, or is being started).
    pub fn is_live(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Paused)
    }
}

#[derive(Clone, Debug)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    pub config: ContainerConfig,
    pub state: State,
    pub owner: ProcessToken,
    pub pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub restart_count: i64,
    pub stop_requested: bool,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    /// Its health checks' verdict ("starting", "healthy", "unhealthy"),
    /// "" when it has none (read with the row, never written through it).
    pub health: String,
}

impl ContainerRow {
    /// Docker's `Command` (ps, `GET /containers/json`): entrypoint and
    /// command, an argument holding a space in single quotes.
    pub fn command_line(&self) -> String {
        let mut args = self.config.entrypoint.clone().unwrap_or_default();
        args.extend(self.config.cmd.iter().cloned());
        let mut words = args.iter();
        let mut line = words.next().cloned().unwrap_or_default();
        for a in words {
            line.push(' ');
            if a.contains(' ') {
                line.push_str(&format!("'{a}'"));
            } else {
                line.push_str(a);
            }
        }
        line
    }

    /// Docker's `Status` (ps's STATUS column): "Up 2 minutes", "Exited (0)
    /// 3 seconds ago".
    pub fn status_text(&self) -> String {
        let since =
            |nanos: i64| crate::times::human_duration((crate::now_nanos() - nanos) / 1_000_000_000);
        match self.state {
            State::Creating | State::Created => "Created".into(),
            State::Starting | State::Running => format!(
                "Up {}{}",
                since(self.started_at),
                super::health::ps_suffix(&self.health)
            ),
            State::Paused => format!("Up {} (Paused)", since(self.started_at)),
            State::Exited => format!(
                "Exited ({}) {} ago",
                self.exit_code,
                since(self.finished_at)
            ),
            State::Removing => "Removal In Progress".into(),
        }
    }
}

const COLUMNS: &str = "id, name, image_id, image_name, config, state, owner_pid, owner_start, pid, \
     exit_code, oom_killed, error, restart_count, stop_requested, created_at, started_at, finished_at, \
     (SELECT status FROM container_health WHERE container_id = containers.id)";

fn from_row(r: &Row) -> rusqlite::Result<ContainerRow> {
    let config: String = r.get(4)?;
    Ok(ContainerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        image_name: r.get(3)?,
        // A row is only ever written from a serialised ContainerConfig.
        config: serde_json::from_str(&config).unwrap_or_default(),
        state: State::parse(&r.get::<_, String>(5)?),
        owner: ProcessToken {
            pid: r.get::<_, i64>(6)? as u32,
            start_time: r.get::<_, i64>(7)? as u64,
        },
        pid: r.get(8)?,
        exit_code: r.get(9)?,
        oom_killed: r.get(10)?,
        error: r.get(11)?,
        restart_count: r.get(12)?,
        stop_requested: r.get(13)?,
        created_at: r.get(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
        health: r.get::<_, Option<String>>(17)?.unwrap_or_default(),
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<ContainerRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// Every container, newest first (as `ps` lists them).
pub fn all(conn: &Connection) -> Result<Vec<ContainerRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM containers ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Resolves a full ID, a name (with or without '/') or a unique ID prefix,
/// in Docker's order of precedence.
pub fn resolve(conn: &Connection, name_or_id: &str) -> Result<ContainerRow> {
    let key = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
    if key.is_empty() {
        return Err(no_such_container(name_or_id));
    }
    if let Some(row) = get(conn, key)? {
        return Ok(row);
    }
    if let Some(row) = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM containers WHERE name = ?1"),
            [key],
            from_row,
        )
        .optional()?
    {
        return Ok(row);
    }
    if key.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM containers WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2"
        ))?;
        let rows: Vec<ContainerRow> = stmt
            .query_map([key.to_ascii_lowercase()], from_row)?
            .collect::<Result<_, _>>()?;
        match rows.len() {
            1 => return Ok(rows.into_iter().next().unwrap_or_else(|| unreachable!())),
            0 => {}
            _ => {
                return Err(Error::invalid(format!(
                    "multiple IDs found with provided prefix: {name_or_id}"
                )));
            }
        }
    }
    Err(no_such_container(name_or_id))
}

pub fn no_such_container(name: &str) -> Error {
    Error::not_found(format!("No such container: {name}"))
}

pub fn insert(conn: &Connection, row: &ContainerRow) -> Result<()> {
    let config = serde_json::to_string(&row.config)
        .map_err(|e| Error::internal(format!("encode container config: {e}")))?;
    let taken: Option<String> = conn
        .query_row(
            "SELECT id FROM containers WHERE name = ?1",
            [&row.name],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = taken {
        return Err(name_in_use(&row.name, &other));
    }
    conn.execute(
        "INSERT INTO containers (id, name, image_id, image_name, config, state, owner_pid, owner_start, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            row.id,
            row.name,
            row.image_id,
            row.image_name,
            config,
            row.state.as_str(),
            row.owner.pid as i64,
            row.owner.start_time as i64,
            row.created_at
        ],
    )?;
    Ok(())
}

pub fn name_in_use(name: &str, id: &str) -> Error {
    Error::conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

pub fn set_state(
    conn: &Connection,
    id: &str,
    state: State,
    owner: Option<ProcessToken>,
) -> Result<()> {
    let owner = owner.unwrap_or(ProcessToken {
        pid: 0,
        start_time: 0,
    });
    conn.execute(
        "UPDATE containers SET state = ?2, owner_pid = ?3, owner_start = ?4 WHERE id = ?1",
        params![
            id,
            state.as_str(),
            owner.pid as i64,
            owner.start_time as i64
        ],
    )?;
    Ok(())
}

/// The container runs: its init's host pid and the start time.
pub fn set_running(conn: &Connection, id: &str, pid: i32) -> Result<()> {
    conn.execute(
        "UPDATE containers SET state = 'running', pid = ?2, started_at = ?3, error = '',
                exit_code = 0, oom_killed = 0 WHERE id = ?1",
        params![id, pid, crate::now_nanos()],
    )?;
    Ok(())
}

/// How a run ended, recorded in one statement.
#[derive(Clone, Debug, Default)]
pub struct Exit {
    pub code: i32,
    pub oom_killed: bool,
    pub error: String,
}

pub fn set_exited(conn: &Connection, id: &str, exit: &Exit) -> Result<()> {
    crate::networks::leases::release(conn, id)?;
    conn.execute(
        "UPDATE containers SET state = 'exited', pid = 0, owner_pid = 0, owner_start = 0,
                exit_code = ?2, oom_killed = ?3, error = ?4, finished_at = ?5 WHERE id = ?1",
        params![
            id,
            exit.code,
            exit.oom_killed,
            exit.error,
            crate::now_nanos()
        ],
    )?;
    Ok(())
}

/// A start that failed before the process ran: the container keeps its
/// previous state (created, or exited) with the error and Docker's code.
pub fn set_start_failed(conn: &Connection, id: &str, back_to: State, exit: &Exit) -> Result<()> {
    crate::networks::leases::release(conn, id)?;
    conn.execute(
        "UPDATE containers SET state = ?2, pid = 0, owner_pid = 0, owner_start = 0,
                exit_code = ?3, error = ?4 WHERE id = ?1",
        params![id, back_to.as_str(), exit.code, exit.error],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM containers WHERE id = ?1", [id])?;
    Ok(())
}

/// How many containers use an image (`rmi` refuses to delete those).
pub fn using_image(conn: &Connection, image_id: &str) -> Result<Vec<(String, State)>> {
    let mut stmt = conn.prepare_cached("SELECT id, state FROM containers WHERE image_id = ?1")?;
    let rows = stmt.query_map([image_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            State::parse(&r.get::<_, String>(1)?),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The size of a container's image (its "virtual" size less the layer).
pub fn image_size_of(conn: &Connection, id: &str) -> Result<i64> {
    Ok(conn
        .query_row(
            "SELECT i.size FROM images i JOIN containers c ON c.image_id = i.id WHERE c.id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

pub fn set_stop_requested(conn: &Connection, id: &str) -> Result<()> {
    conn.execute(
        "UPDATE containers SET stop_requested = 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// The container that has `name`, if any.
pub fn id_with_name(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_name(conn: &Connection, id: &str, name: &str) -> Result<()> {
    conn.execute(
        "UPDATE containers SET name = ?2 WHERE id = ?1",
        params![id, name],
    )?;
    Ok(())
}

pub fn set_config(conn: &Connection, id: &str, config: &ContainerConfig) -> Result<()> {
    let text = serde_json::to_string(config)
        .map_err(|e| Error::internal(format!("encode container config: {e}")))?;
    conn.execute(
        "UPDATE containers SET config = ?2 WHERE id = ?1",
        params![id, text],
    )?;
    Ok(())
}

/// A policy restart is coming: the count, and the code it exited with.
pub fn set_restarting(conn: &Connection, id: &str, restarts: i64, code: i32) -> Result<()> {
    crate::networks::leases::release(conn, id)?;
    conn.execute(
        "UPDATE containers SET restart_count = ?2, state = 'starting', pid = 0, exit_code = ?3
         WHERE id = ?1",
        params![id, restarts, code],
    )?;
    Ok(())
}

/// A restart the policy asked for after the monitor that would have done
/// it died: counted as the monitor counts its own.
pub fn count_restart(conn: &Connection, id: &str, restarts: i64) -> Result<()> {
    conn.execute(
        "UPDATE containers SET restart_count = ?2 WHERE id = ?1",
        params![id, restarts],
    )?;
    Ok(())
}

/// A monitor takes the container to start it: it owns it now, and an
/// earlier explicit stop no longer holds back its restart policy (Docker
/// forgets "manually stopped" at every start).
pub fn claim_for_start(conn: &Connection, id: &str, owner: ProcessToken) -> Result<()> {
    set_state(conn, id, State::Starting, Some(owner))?;
    conn.execute(
        "UPDATE containers SET stop_requested = 0 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}
