//! Ending a blocking follower from outside.
//!
//! `logs --follow` and `events` block on the kernel (inotify, a pidfd)
//! until something happens; a front door whose client went away must not
//! leave one waiting for the next log line or event, which may never come.
//! A [`Cancel`] is an eventfd the follower polls beside what it waits on:
//! the front door fires it (the daemon does when the response body is
//! dropped) and the follower returns at once.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::event::{EventfdFlags, PollFd, PollFlags};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Cancel {
    fd: Arc<OwnedFd>,
}

impl Cancel {
    pub fn new() -> Result<Cancel> {
        let fd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| Error::internal(format!("eventfd: {e}")))?;
        Ok(Cancel { fd: Arc::new(fd) })
    }

    /// Ends every follower polling this (now and later).
    pub fn cancel(&self) {
        // The counter only grows; a full counter (EAGAIN) is cancelled too.
        let _ = rustix::io::write(&*self.fd, &1u64.to_ne_bytes());
    }

    pub fn is_cancelled(&self) -> bool {
        let mut fds = [PollFd::new(&*self.fd, PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        rustix::event::poll(&mut fds, Some(&zero)).is_ok_and(|n| n > 0)
    }
}

impl AsFd for Cancel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_for_every_clone() {
        let c = Cancel::new().unwrap();
        let other = c.clone();
        assert!(!c.is_cancelled());
        other.cancel();
        assert!(c.is_cancelled());
        // Still cancelled: nothing reads the counter down.
        assert!(other.is_cancelled());
    }
}
