//! The channel between the runtime and the process it clones: a seqpacket
//! socket pair carrying small JSON messages, so an error in the container's
//! init reaches the caller as a message naming the step and the path, never
//! as a closed pipe.

use std::os::fd::OwnedFd;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, InitFailure, InitStep, Result};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Msg {
    /// Parent -> child: namespaces, maps and cgroups are in place; go on.
    /// Carries the runtime-spec state (for the in-container hooks).
    Go { state: String },
    /// Parent -> child: the child is in its cgroups and the prestart and
    /// createRuntime hooks have run (the child may prepare its rootfs before).
    Continue,
    /// Child -> parent: set up and waiting (create: on the exec fifo).
    Ready,
    /// Child -> parent: the pid of a process it started (exec).
    Pid(i32),
    /// Child -> parent: a step failed (`step` names it for people, `kind`
    /// and `errno` for programs).
    Failed {
        step: String,
        message: String,
        kind: InitStep,
        errno: Option<i32>,
    },
}

impl Msg {
    /// A failure report as the runtime's error.
    pub fn failure_error(
        step: String,
        message: String,
        kind: InitStep,
        errno: Option<i32>,
    ) -> Error {
        let mut e = Error::system(format!("{step}: {message}"));
        e.init = Some(InitFailure { step: kind, errno });
        e
    }
}

pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (runtime end, child end). Both close on exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::system(format!("create sync socket pair: {e}")))?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg)
            .map_err(|e| Error::system(format!("encode sync message: {e}")))?;
        match rustix::net::send(&self.fd, &data, SendFlags::NOSIGNAL) {
            Ok(_) => Ok(()),
            // The other side is gone: it may have said why before going
            // (a child that failed while this side was busy).
            Err(e @ (rustix::io::Errno::PIPE | rustix::io::Errno::CONNRESET)) => {
                match self.recv() {
                    Ok(Some(Msg::Failed {
                        step,
                        message,
                        kind,
                        errno,
                    })) => Err(Msg::failure_error(step, message, kind, errno)),
                    _ => Err(Error::system(format!("send sync message: {e}"))),
                }
            }
            Err(e) => Err(Error::system(format!("send sync message: {e}"))),
        }
    }

    /// The next message, or `None` when the other end closed (for exec: the
    /// process exec'd, closing its close-on-exec end).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut flags = RecvFlags::empty();
        loop {
            match rustix::net::recv(&self.fd, &mut buf[..], flags) {
                Ok((0, _)) => return Ok(None),
                // The other side went away with a message of ours unread
                // (it failed before reading it): the kernel reports that
                // first, and its last message may still be queued for us.
                Err(rustix::io::Errno::CONNRESET) if flags.is_empty() => {
                    flags = RecvFlags::DONTWAIT;
                    continue;
                }
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::CONNRESET) => return Ok(None),
                Ok((n, _)) => {
                    return serde_json::from_slice(&buf[..n])
                        .map(Some)
                        .map_err(|e| Error::system(format!("decode sync message: {e}")));
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::system(format!("receive sync message: {e}"))),
            }
        }
    }

    /// Waits for a specific message; a failure report becomes the error.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Msg::Failed {
                step,
                message,
                kind,
                errno,
            }) => Err(Msg::failure_error(step, message, kind, errno)),
            Some(other) => Err(Error::system(format!(
                "unexpected sync message {other:?} (wanted {want:?})"
            ))),
            None => Err(Error::system(format!(
                "container init exited before sending {want:?}"
            ))),
        }
    }
}
