//! The receiving end of a console socket: the pty master that a container's
//! init sends (SCM_RIGHTS) when its process has a terminal.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use crate::error::{Error, Result};

/// Accepts one connection on `listener` and returns the fd sent on it.
pub fn receive_pty_master(listener: &UnixListener) -> Result<OwnedFd> {
    let (conn, _) = listener
        .accept()
        .map_err(|e| Error::system(format!("accept on the console socket: {e}")))?;
    receive_pty_master_from(&conn)
}

/// The fd sent on a connected socket (one end of a socket pair whose other
/// end was given to the runtime as `console`).
pub fn receive_pty_master_from(conn: &impl AsFd) -> Result<OwnedFd> {
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 64];
    rustix::net::recvmsg(
        conn,
        &mut [std::io::IoSliceMut::new(&mut name)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| Error::system(format!("receive the pty master: {e}")))?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(Error::system("the console socket carried no pty master"))
}
