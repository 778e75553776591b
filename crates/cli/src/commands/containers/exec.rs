//! `exec`: the container's monitor starts the process (with pipes or a pty
//! of its own making: nothing of this CLI's reaches the container) and
//! relays its stdio here, as for an attach.

use anyhow::{Result, anyhow};
use berth_engine::Engine;
use berth_engine::containers::exec::{ExecRequest, ExecStartOptions};

use super::ExitError;
use super::attach::{self, AttachOptions, Ended};
use crate::cli::ExecArgs;

pub fn run(engine: &Engine, a: ExecArgs) -> Result<u8> {
    let (container, command) = a
        .container_and_command
        .split_first()
        .ok_or_else(|| anyhow!("exec: no container"))?;
    let detach_keys = attach::parse_detach_keys(a.detach_keys.as_deref())?;
    if !a.detach && a.tty && a.interactive {
        attach::require_terminal_stdin()?;
    }
    let request = ExecRequest {
        args: command.to_vec(),
        env: super::options::environment(&a.env_file, &a.env)?,
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        privileged: a.privileged,
        open_stdin: a.interactive,
    };
    // Before the container ran anything, errors are the command's (exit 1);
    // once the monitor tried, Docker's 126/127.
    let exec_id = engine.create_exec(container, &request)?;
    let opts = AttachOptions {
        stdin: a.interactive,
        stdout: true,
        stderr: true,
        tty: a.tty,
        sig_proxy: false,
        detach_keys,
    };
    let start = ExecStartOptions {
        detach: a.detach,
        size: if a.tty { attach::window_size() } else { None },
    };
    let stream = engine.start_exec(&exec_id, &start).map_err(|e| {
        if e.subject == Some(berth_engine::error::Subject::Exec) {
            ExitError {
                code: e.kind.exec_start_exit_code(),
                message: e.message,
            }
            .into()
        } else {
            anyhow::Error::from(e)
        }
    })?;
    if a.detach {
        return Ok(0);
    }
    Ok(match attach::relay(engine, stream, &opts, None)? {
        Ended::Exited(code) => code.clamp(0, 255) as u8,
        // As docker's exec (and attach): the detach is said, and is 1.
        Ended::Detached => {
            eprintln!("read escape sequence");
            1
        }
        Ended::Lost => engine
            .exec_record(&exec_id)
            .ok()
            .and_then(|r| r.exit_code)
            .unwrap_or(0)
            .clamp(0, 255) as u8,
    })
}
