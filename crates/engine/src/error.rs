//! The engine's error: a kind shared by every front door (mapped once, here,
//! to Docker's exit codes, and in the API to HTTP statuses), a message that
//! names the operation, the object and the path, and the error it came from
//! (so the errno survives). Callers decide on the kind, never on the text.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    Conflict,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
    Unsupported,
    Internal,
    /// The container's command does not exist (Docker exits 127).
    CommandNotFound,
    /// The container's command exists but cannot be run (Docker exits 126).
    CommandNotExecutable,
}

/// What kind of object an error is about, where that matters to a caller
/// (a missing image is pulled by `run`; a missing container is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Image,
    Container,
    Exec,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub subject: Option<Subject>,
    /// The underlying error (an `io::Error` keeps its errno).
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Docker's exit codes, decided here and nowhere else.
impl ErrorKind {
    /// `run`, `create` and `start`: berth's own errors exit 125; the
    /// container's command not found 127, not executable 126.
    pub fn run_exit_code(self) -> u8 {
        match self {
            ErrorKind::CommandNotFound => 127,
            ErrorKind::CommandNotExecutable => 126,
            _ => 125,
        }
    }

    /// `exec`, once the container was found running: any failure to
    /// start the process is 126, a command not found included (docker's
    /// CLI decides so for exec; the differential test pins it).
    pub fn exec_start_exit_code(self) -> u8 {
        126
    }

    /// Every other command (and `exec` before it reached the container).
    pub fn command_exit_code(self) -> u8 {
        1
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            subject: None,
            source: None,
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
    /// Says what kind of object the error is about.
    pub fn about(self, subject: Subject) -> Error {
        Error {
            subject: Some(subject),
            ..self
        }
    }
    /// Keeps `source` as the cause (its errno, its own chain).
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error {
            source: Some(Box::new(source)),
            ..self
        }
    }
    /// Prefixes the message with what was being done.
    pub fn context(self, what: impl fmt::Display) -> Error {
        Error {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
    /// The errno of the system call that failed, if one did.
    pub fn errno(&self) -> Option<i32> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && let Some(n) = io.raw_os_error()
            {
                return Some(n);
            }
            if let Some(rt) = e.downcast_ref::<berth_runtime::Error>()
                && let Some(n) = rt.init.and_then(|i| i.errno)
            {
                return Some(n);
            }
            next = e.source();
        }
        None
    }
    /// A "No such image" error.
    pub fn is_missing_image(&self) -> bool {
        self.kind == ErrorKind::NotFound && self.subject == Some(Subject::Image)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<berth_registry::Error> for Error {
    fn from(e: berth_registry::Error) -> Error {
        use berth_registry::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::Unauthorized => ErrorKind::PermissionDenied,
            K::Invalid | K::InvalidArgument | K::TooLarge => ErrorKind::InvalidArgument,
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
        Error::internal(format!("metadata database: {e}")).with_source(e)
    }
}

/// Attaches an operation and path to I/O errors.
pub trait IoContext<T> {
    fn ctx(self, op: &str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

impl Error {
    /// An I/O error with the operation and path, keeping the errno.
    pub(crate) fn io(op: &str, path: &std::path::Path, e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("{op} {}: {e}", path.display())).with_source(e)
    }
}

impl From<berth_runtime::Error> for Error {
    fn from(e: berth_runtime::Error) -> Error {
        use berth_runtime::ErrorKind as K;
        use berth_runtime::InitStep as S;
        let kind = match (e.init, e.kind) {
            // What the container's process reported, by step and errno.
            (Some(init), _) => match (init.step, init.errno) {
                (S::FindProgram | S::Exec, Some(libc::ENOENT)) => ErrorKind::CommandNotFound,
                (S::FindProgram | S::Exec, _) => ErrorKind::CommandNotExecutable,
                (S::Cwd | S::User, _) => ErrorKind::InvalidArgument,
                (S::Setup, _) => ErrorKind::Internal,
            },
            (None, K::NotFound) => ErrorKind::NotFound,
            (None, K::AlreadyExists) => ErrorKind::AlreadyExists,
            (None, K::State) => ErrorKind::Conflict,
            (None, K::Invalid) => ErrorKind::InvalidArgument,
            (None, K::Unsupported) => ErrorKind::Unsupported,
            (None, K::System) => ErrorKind::Internal,
        };
        Error::new(kind, e.message.clone()).with_source(e)
    }
}
