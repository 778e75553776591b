//! Network namespaces as file descriptors, and running work inside one
//! without moving any of the caller's threads.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use crate::error::{Error, Result};

/// An open network namespace (`/proc/<pid>/ns/net`, a bind-mounted one, or
/// the caller's own).
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
}

impl NetNs {
    pub fn open(path: &Path) -> Result<NetNs> {
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(
            |e| {
                Error::io(
                    format!("open network namespace {}", path.display()),
                    e.into(),
                )
            },
        )?;
        Ok(NetNs { fd })
    }

    /// The calling thread's own.
    pub fn current() -> Result<NetNs> {
        NetNs::open(Path::new("/proc/thread-self/ns/net"))
    }

    /// (device, inode): the namespace's identity, to compare two.
    pub fn id(&self) -> Result<(u64, u64)> {
        let st = rustix::fs::fstat(&self.fd)
            .map_err(|e| Error::io("stat network namespace", e.into()))?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Runs `f` on a new thread that has entered this namespace; the thread
    /// ends with `f`, so no thread of the caller ever changes namespace.
    /// Netlink sockets and /proc/sys/net files opened by `f` belong to this
    /// namespace; processes it spawns start in it.
    pub fn within<R: Send>(&self, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        std::thread::scope(|s| {
            s.spawn(|| {
                rustix::thread::move_into_link_name_space(
                    self.fd.as_fd(),
                    Some(LinkNameSpaceType::Network),
                )
                .map_err(|e| Error::io("enter network namespace", e.into()))?;
                f()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::Protocol {
                    op: "network namespace worker".into(),
                    message: "panicked".into(),
                })
            })
        })
    }
}

/// The calling thread inside another network namespace until dropped
/// (`NetNs::enter`); then back in the one it came from.
#[must_use = "the thread leaves the namespace when this is dropped"]
pub struct Entered {
    previous: OwnedFd,
}

impl NetNs {
    /// Moves the calling thread (only it) into this namespace until the
    /// guard is dropped. For a process that must not start threads (the
    /// monitor clones containers and refuses to while it has more than
    /// one); anyone else can use `within`.
    pub fn enter(&self) -> Result<Entered> {
        let previous = NetNs::current()?.fd;
        rustix::thread::move_into_link_name_space(
            self.fd.as_fd(),
            Some(LinkNameSpaceType::Network),
        )
        .map_err(|e| Error::io("enter network namespace", e.into()))?;
        Ok(Entered { previous })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // Coming back cannot fail for a namespace this thread was in; if it
        // did, staying in a container's namespace must not go unnoticed.
        if let Err(e) = rustix::thread::move_into_link_name_space(
            self.previous.as_fd(),
            Some(LinkNameSpaceType::Network),
        ) {
            panic!("return to the previous network namespace: {e}");
        }
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
