//! Runtime errors. Messages follow runc's where containerd or dockerd match on
//! them ("container with id exists", "does not exist", "not running"), and
//! otherwise name the step and the path.

use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    /// The container is in the wrong state for the operation.
    State,
    Invalid,
    Unsupported,
    System,
}

/// The step of a container process's set-up that failed, as the process
/// reports it (with the errno) across the sync socket: callers decide on
/// types, never on message text (Docker's exit codes 126 and 127 come from
/// `FindProgram` and `Exec`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InitStep {
    /// Finding the program: the path given, or a `$PATH` lookup.
    FindProgram,
    /// `execve` of the program found.
    Exec,
    /// The working directory (`process.cwd`).
    Cwd,
    /// The user and its groups.
    User,
    /// Anything else (mounts, namespaces, limits, hooks, ...).
    #[default]
    Setup,
}

/// What a container process reported when its set-up failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitFailure {
    pub step: InitStep,
    pub errno: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Set when the failure happened inside the container's process.
    pub init: Option<InitFailure>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            init: None,
        }
    }
    pub fn invalid(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, m)
    }
    pub fn state(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::State, m)
    }
    pub fn system(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::System, m)
    }
    pub fn unsupported(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unsupported, m)
    }
    pub fn io(op: &str, path: &Path, e: std::io::Error) -> Error {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::System
        };
        Error::new(kind, format!("{op} {}: {e}", path.display()))
    }
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
            init: self.init,
        }
    }
}

impl From<berth_cgroups::Error> for Error {
    fn from(e: berth_cgroups::Error) -> Error {
        let kind = match &e {
            berth_cgroups::Error::Unsupported(_) => ErrorKind::Unsupported,
            berth_cgroups::Error::Invalid(_) => ErrorKind::Invalid,
            berth_cgroups::Error::Io { .. } => ErrorKind::System,
        };
        Error::new(kind, format!("cgroup: {e}"))
    }
}

pub trait IoContext<T> {
    fn ctx(self, op: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, op: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e.into()))
    }
}
