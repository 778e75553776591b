//! The engine's error: a kind shared by every front door (mapped once to exit
//! codes in the CLI and to HTTP statuses in the API) and a message that names
//! the operation, the object and the path.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    Conflict,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
    Unsupported,
    Internal,
}

#[derive(Debug)]
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
    pub fn not_found(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, m)
    }
    pub fn invalid(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, m)
    }
    pub fn internal(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, m)
    }
    pub fn unsupported(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unsupported, m)
    }
    /// Prefixes the message with what was being done.
    pub fn context(self, what: impl fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<berth_registry::Error> for Error {
    fn from(e: berth_registry::Error) -> Error {
        use berth_registry::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::Unauthorized => ErrorKind::PermissionDenied,
            K::Invalid | K::InvalidArgument => ErrorKind::InvalidArgument,
            K::Unavailable => ErrorKind::Unavailable,
            K::Unsupported => ErrorKind::Unsupported,
        };
        Error::new(kind, e.message)
    }
}

impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Error {
        use berth_image::Error as E;
        let kind = match &e {
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                ErrorKind::PermissionDenied
            }
            E::Io { .. } => ErrorKind::Internal,
            E::BlobNotFound(_) => ErrorKind::NotFound,
            E::Invalid(_)
            | E::DigestMismatch { .. }
            | E::SizeMismatch { .. }
            | E::LimitExceeded(_) => ErrorKind::InvalidArgument,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<berth_image::reference::ReferenceError> for Error {
    fn from(e: berth_image::reference::ReferenceError) -> Error {
        Error::invalid(e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::internal(format!("metadata database: {e}"))
    }
}

/// Attaches an operation and path to I/O errors.
pub trait IoContext<T> {
    fn ctx(self, op: &str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Internal,
            };
            Error::new(kind, format!("{op} {}: {e}", path.display()))
        })
    }
}

impl From<berth_runtime::Error> for Error {
    fn from(e: berth_runtime::Error) -> Error {
        use berth_runtime::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::AlreadyExists => ErrorKind::AlreadyExists,
            K::State => ErrorKind::Conflict,
            K::Invalid => ErrorKind::InvalidArgument,
            K::Unsupported => ErrorKind::Unsupported,
            K::System => ErrorKind::Internal,
        };
        Error::new(kind, e.message)
    }
}
