//! `exec`: another process in a running container. As Docker's API has it,
//! an exec is created (recorded in the store, with an ID), then started:
//! the container's monitor starts it (see `monitor::exec`) and relays its
//! stdio to the caller; its exit code is recorded when it ends.

use serde::{Deserialize, Serialize};

use super::attach::MonitorStream;
use super::exec_record as record;
use super::lifecycle::not_running;
use super::record::{ContainerRow, State};
use crate::Engine;
use crate::error::{Error, Result, Subject};
use crate::monitor::protocol::{Hello, Op};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    /// `KEY=VALUE`, over the container's environment.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub privileged: bool,
    /// The process's stdin stays open for the client (`-i`); otherwise it
    /// reads end-of-file at once.
    pub open_stdin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecState {
    Created,
    Running,
    Exited,
}

#[derive(Clone, Debug)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub request: ExecRequest,
    pub state: ExecState,
    pub pid: i32,
    pub exit_code: Option<i32>,
    pub created_at: i64,
}

#[derive(Clone, Debug, Default)]
pub struct ExecStartOptions {
    /// Start it and return: its output is discarded.
    pub detach: bool,
    /// The terminal's (rows, columns), for a tty.
    pub size: Option<(u16, u16)>,
}

impl Engine {
    /// Records an exec in a running container; returns its ID.
    pub fn create_exec(&self, container: &str, request: &ExecRequest) -> Result<String> {
        let row = self.container(container)?;
        match row.state {
            State::Running => {}
            State::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    row.id
                )));
            }
            _ => return Err(not_running(&row)),
        }
        if request.args.is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        for e in &request.env {
            if e.split('=').next().is_none_or(str::is_empty) {
                return Err(Error::invalid(format!(
                    "invalid environment variable: {e:?}"
                )));
            }
        }
        let id = super::names::new_id()?;
        self.db.write_relaxed(|c| {
            record::insert(c, &id, &row.id, request)?;
            let action = format!("exec_create: {}", request.args.join(" "));
            crate::store::event_log::record(
                c,
                &crate::events::container_event(&row, &action).with("execID", id.clone()),
            )
        })?;
        self.events_changed();
        Ok(id)
    }

    /// Starts an exec; its stdio (unless detached) come over the stream,
    /// which ends with the process's exit code.
    pub fn start_exec(&self, exec_id: &str, options: &ExecStartOptions) -> Result<MonitorStream> {
        let (rec, row) = self.exec_startable(exec_id)?;
        let hello = Hello {
            stdin: rec.request.open_stdin && !options.detach,
            stdout: true,
            stderr: true,
            exec_id: Some(exec_id.to_string()),
            detach: options.detach,
            size: options.size,
            ..Hello::new(Op::Exec)
        };
        self.connect_monitor(&row, &hello)
    }

    /// An exec and its container, if the exec could start now: not run
    /// yet, its container running and not paused. (The daemon asks before
    /// it hands the connection over, while an error can still be a status.)
    pub fn exec_startable(&self, exec_id: &str) -> Result<(ExecRecord, ContainerRow)> {
        let rec = self.exec_record(exec_id)?;
        if rec.state != ExecState::Created {
            return Err(Error::conflict(format!(
                "Error: Exec command {exec_id} has already run"
            )));
        }
        let row = self.container(&rec.container_id)?;
        if row.state == State::Paused {
            return Err(Error::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                row.id
            )));
        }
        if !row.state.is_live() {
            return Err(not_running(&row));
        }
        Ok((rec, row))
    }

    pub fn exec_record(&self, exec_id: &str) -> Result<ExecRecord> {
        self.db.read(|c| record::get(c, exec_id))?.ok_or_else(|| {
            Error::not_found(format!("No such exec instance: {exec_id}")).about(Subject::Exec)
        })
    }

    /// A container's execs, oldest first.
    pub fn container_execs(&self, container_id: &str) -> Result<Vec<ExecRecord>> {
        self.db.read(|c| record::of_container(c, container_id))
    }

    /// Sets the terminal size of a running exec.
    pub fn resize_exec(&self, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
        let rec = self.exec_record(exec_id)?;
        let row = self.container(&rec.container_id)?;
        let hello = Hello {
            exec_id: Some(exec_id.to_string()),
            size: Some((rows, cols)),
            ..Hello::new(Op::Resize)
        };
        self.connect_monitor(&row, &hello).map(|_| ())
    }
}

/// The monitor records how an exec ended.
pub(crate) fn record_exit(engine: &Engine, exec_id: &str, code: i32) -> Result<()> {
    engine.db.write_relaxed(|c| {
        record::set_exited(c, exec_id, code)?;
        if let Some(rec) = record::get(c, exec_id)?
            && let Some(row) = super::record::get(c, &rec.container_id)?
        {
            crate::store::event_log::record(
                c,
                &crate::events::container_event(&row, "exec_die")
                    .with("execID", exec_id)
                    .with("exitCode", code.to_string()),
            )?;
        }
        Ok(())
    })?;
    engine.events_changed();
    Ok(())
}
