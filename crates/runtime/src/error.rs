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

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
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
