//! The image crate's error: every variant names the operation and the object
//! (path, entry, digest) it concerns.

use std::io;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed on a path of ours.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Input (an archive, a layer, a document) is malformed or unsafe; the
    /// message names the entry or field.
    #[error("{0}")]
    Invalid(String),
    /// Content does not hash to the digest that names it.
    #[error("{what}: digest mismatch (expected {expected}, got {actual})")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    /// Content is not the size its descriptor claims.
    #[error("{what}: size mismatch (expected {expected} bytes, got {actual})")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    /// A configured limit (bytes or entries per layer) was exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// A blob is not in the content store.
    #[error("blob {0} not found in the content store")]
    BlobNotFound(Digest),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches the operation and path to an `io::Error`.
pub trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Error {
    /// Prefixes the message with context (`layer sha256:…: `) keeping the kind.
    pub fn within(self, context: &str) -> Error {
        match self {
            Error::Invalid(m) => Error::Invalid(format!("{context}: {m}")),
            Error::LimitExceeded(m) => Error::LimitExceeded(format!("{context}: {m}")),
            Error::DigestMismatch {
                what,
                expected,
                actual,
            } => Error::DigestMismatch {
                what: format!("{context}: {what}"),
                expected,
                actual,
            },
            Error::SizeMismatch {
                what,
                expected,
                actual,
            } => Error::SizeMismatch {
                what: format!("{context}: {what}"),
                expected,
                actual,
            },
            other => other,
        }
    }
}
