//! Registry errors: what went wrong, with the operation and the URL or object
//! named, and a kind the engine maps to its own (and so to exit codes).

/// What kind of failure, for callers that react differently (retry, 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The repository, tag, manifest or blob does not exist.
    NotFound,
    /// Credentials missing or refused.
    Unauthorized,
    /// The registry sent something that breaks the protocol or fails
    /// verification (digest, size, syntax).
    Invalid,
    /// Network trouble or a server error that retries did not cure.
    Unavailable,
    /// Bad input from the caller (a reference, a config file).
    InvalidArgument,
    /// Something berth does not do.
    Unsupported,
    /// An answer over the size berth accepts for it.
    TooLarge,
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
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unauthorized, message)
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Prefixes the message with what was being done.
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

/// Describes a reqwest error with its causes (reqwest's own Display hides
/// the interesting part, e.g. "connection refused", in the source chain).
pub fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
