//! Starting a monitor from the CLI and reading what it reports.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::Engine;
use crate::error::{Error, ErrorKind, Result};

/// What a monitor reported (see `protocol.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorStatus {
    Created(i32),
    Started(i32),
    /// The start failed: why, as an engine error kind, and the message.
    Failed(ErrorKind, String),
    /// The monitor ended without a word.
    Gone,
}

/// The status line for a failure.
pub(crate) fn failure_line(e: &Error) -> String {
    let kind = serde_json::to_string(&e.kind).unwrap_or_default();
    format!(
        "error {} {}\n",
        kind.trim_matches('"'),
        e.message.replace('\n', " ")
    )
}

pub struct MonitorHandle {
    child: Child,
    status: BufReader<ChildStdout>,
}

impl MonitorHandle {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn next_status(&mut self) -> MonitorStatus {
        let mut line = String::new();
        match self.status.read_line(&mut line) {
            Ok(0) | Err(_) => MonitorStatus::Gone,
            Ok(_) => parse_status(line.trim_end()),
        }
    }

    /// Reads until the container started (or the start failed).
    pub fn wait_started(&mut self) -> Result<i32> {
        loop {
            match self.next_status() {
                MonitorStatus::Created(_) => continue,
                MonitorStatus::Started(pid) => return Ok(pid),
                MonitorStatus::Failed(kind, message) => {
                    return Err(start_error(kind, message));
                }
                MonitorStatus::Gone => {
                    return Err(Error::internal(
                        "the container's monitor exited before the container started",
                    ));
                }
            }
        }
    }
}

/// A start failure as an engine error.
pub fn start_error(kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message)
}

fn parse_status(line: &str) -> MonitorStatus {
    let mut words = line.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("created"), Some(pid), _) => MonitorStatus::Created(pid.parse().unwrap_or(0)),
        (Some("started"), Some(pid), _) => MonitorStatus::Started(pid.parse().unwrap_or(0)),
        (Some("error"), Some(kind), message) => MonitorStatus::Failed(
            serde_json::from_str(&format!("\"{kind}\"")).unwrap_or(ErrorKind::Internal),
            message.unwrap_or_default().to_string(),
        ),
        _ => MonitorStatus::Gone,
    }
}

impl Engine {
    /// Starts `berth __monitor ID` for a created or exited container.
    /// `wait_attach`: the monitor starts the container only once a client
    /// attached (or the caller went away).
    pub fn spawn_monitor(&self, id: &str, wait_attach: bool) -> Result<MonitorHandle> {
        // Before the monitor copies the host's mounts.
        if let Some(row) = self.db.read(|c| crate::containers::record::get(c, id))? {
            self.mount_shareable_shm(&row)?;
            self.mount_device_volumes(&row)?;
        }
        // Started from a sealed view of the binary (see berth_runtime::sealed):
        // the container's init is cloned from the monitor.
        let binary = self
            .binary
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("/proc/self/exe"));
        let sealed = berth_runtime::sealed::sealed_binary_at(&binary).map_err(|e| {
            Error::internal(format!("seal the berth binary {}: {e}", binary.display()))
        })?;
        let exe = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&sealed));
        let mut cmd = Command::new(exe);
        cmd.env(berth_runtime::sealed::SEALED_ENV, "1");
        cmd.arg("--root")
            .arg(&self.paths.root)
            .arg("--run-root")
            .arg(&self.run_root)
            .arg("__monitor")
            .arg(id);
        if wait_attach {
            cmd.arg("--wait-attach");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::internal(format!("start the container's monitor: {e}")))?;
        drop(sealed);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::internal("monitor stdout"))?;
        Ok(MonitorHandle {
            child,
            status: BufReader::new(stdout),
        })
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        // The monitor lives on; reap it if it already ended so no zombie
        // lingers while this process runs.
        let _ = self.child.try_wait();
    }
}
