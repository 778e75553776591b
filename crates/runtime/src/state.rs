//! A container's state on disk (`<root>/<id>/state.json`) and the status
//! derived from the live system.
//!
//! The file records what `create` decided (pid and its start time, bundle,
//! cgroup, namespaces to join for `exec`); the status is never stored but
//! computed: a dead (or reused) pid is `stopped`, a live init still waiting on
//! the exec fifo is `created`, a frozen cgroup is `paused`, else `running`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, IoContext, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// Start time of the init in clock ticks (detects pid reuse).
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 with nanoseconds.
    pub created: String,
    pub owner: String,
    pub cgroup_path: String,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The container was created with a new PID namespace (killing init kills all).
    #[serde(default)]
    pub own_pid_namespace: bool,
    /// runc's `--systemd-cgroup` etc. are not supported; kept for `state` output.
    #[serde(default)]
    pub oci_version: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// `^[\w+-\.]+$`, runc's container ID rule.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("container id cannot be empty"));
    }
    if id == "."
        || id == ".."
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))
    {
        return Err(Error::invalid(format!("invalid container ID format: {id}")));
    }
    Ok(())
}

impl State {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<State> {
        validate_id(id)?;
        let path = State::dir(root, id).join(STATE_FILE);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    // runc's words exactly: callers match on them.
                    "container does not exist",
                ));
            }
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::system(format!("{}: corrupt state: {e}", path.display())))
    }

    /// Writes the state atomically (temp file, fsync, rename).
    pub fn save(&self, root: &Path) -> Result<()> {
        let dir = State::dir(root, &self.id);
        let tmp = dir.join(".state.json.tmp");
        let data =
            serde_json::to_vec(self).map_err(|e| Error::system(format!("encode state: {e}")))?;
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::remove_file(&tmp);
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| f.write_all(&data))
                .ctx("write", &tmp)?;
        }
        std::fs::rename(&tmp, dir.join(STATE_FILE)).ctx("rename", &dir.join(STATE_FILE))
    }

    pub fn init_alive(&self) -> bool {
        process_start_time(self.pid) == Some(self.pid_start)
    }

    pub fn status(&self, root: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if State::dir(root, &self.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if let Ok(cg) = crate::container::cgroup_of(self)
            && cg.freezer_state().ok() == Some(berth_cgroups::FreezerState::Frozen)
        {
            return Status::Paused;
        }
        Status::Running
    }

    /// runc's `state` JSON.
    pub fn to_oci_json(&self, root: &Path) -> serde_json::Value {
        let status = self.status(root);
        let mut v = serde_json::json!({
            "ociVersion": if self.oci_version.is_empty() { "1.0.2" } else { &self.oci_version },
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::to_value(&self.annotations).unwrap_or_default();
        }
        v
    }
}

/// Start time (clock ticks since boot) of a live, non-zombie process.
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    after.split_whitespace().nth(19)?.parse().ok()
}
