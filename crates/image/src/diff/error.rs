//! What can go wrong turning an upper directory into a layer. Every variant
//! names the path in the upper directory and what was being done to it.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A system call on the upper directory failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Writing the tar stream to the caller's writer failed.
    #[error("write layer tar (at {}): {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The upper directory holds something a layer cannot express.
    #[error("{op} {}: {reason}", path.display())]
    Unsupported {
        op: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// An entry changed between two looks at it: the container was running
    /// and writing while it was committed.
    #[error("read {}: {what} while the layer was being written (pause the container to commit it)", path.display())]
    Changed { path: PathBuf, what: String },
}

/// For callers that deal in the crate's error: system-call and write failures
/// stay I/O errors with their path, the rest are invalid input.
impl From<DiffError> for crate::Error {
    fn from(e: DiffError) -> crate::Error {
        match e {
            DiffError::Io { op, path, source } => crate::Error::Io { op, path, source },
            DiffError::Write { path, source } => crate::Error::Io {
                op: "write layer tar at",
                path,
                source,
            },
            other @ (DiffError::Unsupported { .. } | DiffError::Changed { .. }) => {
                crate::Error::Invalid(other.to_string())
            }
        }
    }
}
