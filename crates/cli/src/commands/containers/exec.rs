//! `exec`: without a tty the process gets this CLI's own stdio; with `-t`
//! it gets a pty whose master this CLI relays to the terminal.
//!
//! After the exec this process's children belong to the container's pid
//! namespace, and the kernel refuses new threads in that state, so the relay
//! is a single-threaded poll loop.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;

use anyhow::{Context, Result, anyhow};
use berth_engine::Engine;
use berth_engine::containers::exec::ExecRequest;
use rustix::event::{PollFd, PollFlags};

use super::ExitError;
use crate::cli::ExecArgs;

pub fn run(engine: &Engine, a: ExecArgs) -> Result<u8> {
    let (container, command) = a
        .container_and_command
        .split_first()
        .ok_or_else(|| anyhow!("exec: no container"))?;
    let request = ExecRequest {
        args: command.to_vec(),
        env: a.env.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        privileged: a.privileged,
    };
    let exec_error = |e: berth_engine::Error| -> anyhow::Error {
        let code = match e.kind {
            berth_engine::ErrorKind::NotFound | berth_engine::ErrorKind::Conflict
                if !e.message.contains("exec") =>
            {
                1
            }
            _ => berth_engine::containers::monitor::protocol::start_failure_code(&e.message),
        };
        ExitError {
            code: code as u8,
            message: e.message,
        }
        .into()
    };
    if !a.tty {
        // The process inherits stdin only with -i.
        if !a.interactive {
            let null = std::fs::File::open("/dev/null")?;
            rustix::stdio::dup2_stdin(&null)?;
        }
        let (_, code) = engine
            .exec_in_container(container, &request, None, a.detach)
            .map_err(exec_error)?;
        return Ok(code.unwrap_or(0).clamp(0, 255) as u8);
    }
    let dir = tempfile::Builder::new()
        .prefix("exec-")
        .tempdir_in(engine.run_root())
        .context("create a directory for the console socket")?;
    let socket = dir.path().join("console.sock");
    let listener =
        UnixListener::bind(&socket).with_context(|| format!("bind {}", socket.display()))?;
    let (pid, _) = engine
        .exec_in_container(container, &request, Some(socket), true)
        .map_err(exec_error)?;
    let master = berth_runtime::console_socket::receive_pty_master(&listener)?;
    if a.detach {
        return Ok(0);
    }
    let code = relay_pty(master, a.interactive, pid)?;
    Ok(code.clamp(0, 255) as u8)
}

/// Restores the terminal when dropped.
struct Terminal(Option<rustix::termios::Termios>);

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

fn write_all(fd: impl AsFd, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match rustix::io::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Terminal <-> pty master until the process exits and its output is read.
fn relay_pty(master: OwnedFd, interactive: bool, pid: i32) -> Result<i32> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _terminal = Terminal(match rustix::termios::tcgetattr(&stdin) {
        Ok(saved) if interactive => {
            let mut raw = saved.clone();
            raw.make_raw();
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
            Some(saved)
        }
        _ => None,
    });
    if let Ok(ws) = rustix::termios::tcgetwinsize(&stdout) {
        let _ = rustix::termios::tcsetwinsize(&master, ws);
    }
    let raw_pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| anyhow!("bad pid {pid}"))?;
    let pidfd = rustix::process::pidfd_open(raw_pid, rustix::process::PidfdFlags::empty())?;
    let mut stdin_open = interactive;
    let mut exited = false;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![
            PollFd::new(&master, PollFlags::IN),
            PollFd::new(
                &pidfd,
                if exited {
                    PollFlags::empty()
                } else {
                    PollFlags::IN
                },
            ),
        ];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        match rustix::event::poll(&mut fds, if exited { Some(&timeout) } else { None }) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(anyhow!("poll: {e}")),
        }
        let master_ready = !fds[0].revents().is_empty();
        let pid_ready = !fds[1].revents().is_empty();
        let stdin_ready = stdin_open && !fds[2].revents().is_empty();
        drop(fds);
        if master_ready {
            match rustix::io::read(&master, &mut buf) {
                Ok(0) | Err(rustix::io::Errno::IO) => break,
                Ok(n) => {
                    if !write_all(&stdout, &buf[..n]) {
                        break;
                    }
                }
                Err(_) => {}
            }
        } else if exited {
            // Exited and nothing more to read.
            break;
        }
        if stdin_ready {
            match rustix::io::read(&stdin, &mut buf) {
                Ok(0) | Err(rustix::io::Errno::IO) => stdin_open = false,
                Ok(n) => {
                    write_all(&master, &buf[..n]);
                }
                Err(_) => {}
            }
        }
        if pid_ready {
            exited = true;
        }
    }
    Ok(berth_runtime::container::wait_exit(pid)?)
}
