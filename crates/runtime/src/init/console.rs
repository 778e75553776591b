//! The terminal: a pty from the container's own devpts, its master sent to
//! the caller's console socket, its slave made the process's stdio and
//! controlling terminal.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{self as rfs, FileType};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use rustix::pty::OpenptFlags;

use super::Failure;

/// Unix98 pty slaves are char devices with majors 136..=143.
fn is_pty_slave(fd: &OwnedFd) -> bool {
    rfs::fstat(fd).is_ok_and(|st| {
        FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
            && (136..=143).contains(&rfs::major(st.st_rdev))
    })
}

/// Creates the pty, hands the master to `socket` and makes the slave our
/// terminal. `size` is (rows, columns).
pub fn setup(socket: &OwnedFd, size: Option<(u16, u16)>) -> Result<(), Failure> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| Failure::new("open /dev/ptmx", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| Failure::new("unlock pty", e))?;
    // TIOCGPTPEER opens the slave through the master: no path lookup that a
    // container could redirect.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .map_err(|e| Failure::new("open pty slave", e))?;
    if !is_pty_slave(&slave) {
        return Err(Failure::msg(
            "open pty slave",
            "the peer is not a pty slave device",
        ));
    }
    if let Some((rows, cols)) = size {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = rustix::termios::tcsetwinsize(&slave, ws);
    }
    send_fd(socket, &master)?;
    drop(master);
    // A new session (it may exist already), so the pty can become ours.
    rustix::process::setsid().ok();
    dup_to_stdio(&slave)?;
    rustix::process::ioctl_tiocsctty(&slave)
        .map_err(|e| Failure::new("make the pty the controlling terminal", e))?;
    Ok(())
}

fn dup_to_stdio(fd: &OwnedFd) -> Result<(), Failure> {
    rustix::stdio::dup2_stdin(fd).map_err(|e| Failure::new("dup pty to stdin", e))?;
    rustix::stdio::dup2_stdout(fd).map_err(|e| Failure::new("dup pty to stdout", e))?;
    rustix::stdio::dup2_stderr(fd).map_err(|e| Failure::new("dup pty to stderr", e))?;
    Ok(())
}

/// Sends one fd over a unix socket (SCM_RIGHTS), with the name runc sends.
pub fn send_fd(socket: &impl AsFd, fd: &OwnedFd) -> Result<(), Failure> {
    let fds = [fd.as_fd()];
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    let name = b"/dev/ptmx";
    rustix::net::sendmsg(
        socket,
        &[std::io::IoSlice::new(name)],
        &mut control,
        SendFlags::empty(),
    )
    .map_err(|e| Failure::new("send the pty master to the console socket", e))?;
    Ok(())
}
