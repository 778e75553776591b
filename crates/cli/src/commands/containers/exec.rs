//! `exec`: without a tty the process gets this CLI's own stdio; with `-t`
//! it gets a pty whose master this CLI relays to the terminal.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use anyhow::{Context, Result};
use berth_engine::Engine;
use berth_engine::containers::exec::ExecRequest;

use super::ExitError;
use crate::cli::ExecArgs;

pub fn run(engine: &Engine, a: ExecArgs) -> Result<u8> {
    let request = ExecRequest {
        args: a.command.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        privileged: a.privileged,
    };
    let exec_error = |e: berth_engine::Error| -> anyhow::Error {
        let code = berth_engine::containers::monitor::protocol::start_failure_code(&e.message);
        ExitError {
            code: code as u8,
            message: e.message,
        }
        .into()
    };
    if !a.tty {
        // The process inherits stdin only with -i.
        if !a.interactive && !a.detach {
            let null = std::fs::File::open("/dev/null")?;
            rustix::stdio::dup2_stdin(&null)?;
        }
        let (_, code) = engine
            .exec_in_container(&a.container, &request, None, a.detach)
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
        .exec_in_container(&a.container, &request, Some(socket), true)
        .map_err(exec_error)?;
    let master = berth_runtime::console_socket::receive_pty_master(&listener)?;
    if a.detach {
        return Ok(0);
    }
    let code = relay_pty(master, a.interactive, pid)?;
    Ok(code.clamp(0, 255) as u8)
}

/// Terminal <-> pty master until the process exits.
fn relay_pty(master: OwnedFd, interactive: bool, pid: i32) -> Result<i32> {
    let saved = rustix::termios::tcgetattr(std::io::stdin()).ok();
    if let Some(saved) = &saved
        && interactive
    {
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &raw,
        );
    }
    if let Ok(ws) = rustix::termios::tcgetwinsize(std::io::stdout()) {
        let _ = rustix::termios::tcsetwinsize(&master, ws);
    }
    let mut to_pty = std::fs::File::from(master.try_clone()?);
    let mut from_pty = std::fs::File::from(master);
    if interactive {
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || to_pty.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let out = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdout = std::io::stdout();
        while let Ok(n) = from_pty.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    });
    let code = berth_runtime::container::wait_exit(pid)?;
    let _ = out.join();
    if let Some(saved) = &saved {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            saved,
        );
    }
    Ok(code)
}
