//! `--init`: a minimal init for a container's pid 1, as Docker's
//! docker-init (tini) is: the container's command runs as its child; signals
//! sent to the init are forwarded to it; orphaned processes are reaped; the
//! init exits with the command's status (128 + signal when killed).
//!
//! berth's own binary serves, bind-mounted read-only at /sbin/docker-init and
//! chosen by that name: it is static, so it runs in any image.

use std::ffi::CString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use rustix::process::{Pid, Signal, WaitOptions};

use crate::sys;

/// Whether this process was started as the container init.
pub fn invoked_as_init() -> bool {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n == "docker-init" || n == "berth-init")
        })
        .unwrap_or(false)
}

/// Runs `docker-init [--] CMD [ARG…]`; returns the exit status.
pub fn main() -> i32 {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("docker-init: usage: docker-init [--] COMMAND [ARG...]");
        return 1;
    };
    if let Err(e) = sys::block_all_signals() {
        eprintln!("docker-init: block signals: {e}");
        return 1;
    }
    // The command runs with every signal unblocked (the mask is inherited
    // across fork and exec, so std's spawn would pass ours on).
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let name = program.to_string_lossy().into_owned();
    let path = match crate::init::exec::find_executable(&name, &env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("docker-init: {}: {}", e.step, e.message);
            return 127;
        }
    };
    let to_c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).unwrap_or_default();
    let argv: Vec<CString> = std::iter::once(program.as_os_str())
        .chain(rest.iter().map(|a| a.as_os_str()))
        .map(to_c)
        .collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let child_pid = match sys::clone(0) {
        Ok(sys::Forked::Child) => {
            sys::unblock_all_signals();
            let e = sys::execve(&to_c(path.as_os_str()), &argv, &envp);
            eprintln!("docker-init: exec {}: {e}", path.display());
            sys::exit_now(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
        Ok(sys::Forked::Parent(pid)) => pid,
        Err(e) => {
            eprintln!("docker-init: fork: {e}");
            return 1;
        }
    };
    let Some(child_pid) = Pid::from_raw(child_pid) else {
        return 1;
    };
    loop {
        let signal = match sys::next_signal() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if signal == libc::SIGCHLD {
            // Reap every child that ended: ours and orphans alike.
            while let Ok(Some((pid, status))) = rustix::process::waitpid(None, WaitOptions::NOHANG)
            {
                if pid == child_pid {
                    if let Some(code) = status.exit_status() {
                        return code;
                    }
                    if let Some(sig) = status.terminating_signal() {
                        return 128 + sig;
                    }
                }
            }
        } else if let Some(sig) = Signal::from_named_raw(signal) {
            let _ = rustix::process::kill_process(child_pid, sig);
        }
    }
}
