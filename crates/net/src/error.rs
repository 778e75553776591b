//! Errors that keep what was being done, on what, and the kernel's errno.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a netlink request: `op` names it (`create bridge
    /// berth0`), `errno` is the kernel's answer.
    #[error("{op}: {}", io::Error::from_raw_os_error(*errno))]
    Netlink { op: String, errno: i32 },
    /// A system call or file operation failed.
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// A reply this crate cannot read (a kernel or crate mismatch).
    #[error("{op}: {message}")]
    Protocol { op: String, message: String },
    /// nft refused a ruleset.
    #[error("{op}: nft: {stderr}")]
    Nft { op: String, stderr: String },
    /// Something that does not exist (a link by name).
    #[error("{0}")]
    NotFound(String),
}

impl Error {
    pub fn io(op: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// The errno, where the failure has one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
