//! `berth-runc`: runc's command line over berth-runtime, as containerd's runc
//! shim and dockerd call it. Same binary as `berth`, chosen by argv[0].
//!
//! Errors are logrus-shaped lines as runc's: on stderr, or with `--log FILE`
//! in the file (where containerd reads the last one) with the bare message
//! on stderr; `--log-format json` for JSON lines.

mod cli;
mod commands;
mod shape;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Whether this invocation is the runtime: invoked as `berth-runc` (or
/// `runc` if someone links it so), with `BERTH_RUNC=1`, or as `berth` with
/// a command line only runc's can be (see shape).
pub fn invoked_as_runc() -> bool {
    let named = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_os_string()))
        .is_some_and(|n| n == "berth-runc" || n == "runc");
    named
        || std::env::var_os("BERTH_RUNC").is_some_and(|v| v == "1")
        || shape::is_runc_command_line(&std::env::args().skip(1).collect::<Vec<_>>())
}

pub fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-runc: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(1);
        }
    };
    let log = args.log.clone();
    let json = args.log_format == "json";
    // runc's exec reports "exec failed: …" with 255, so that a caller can
    // tell the runtime's failure from the process's own exit status.
    let exec = matches!(args.command, cli::Command::Exec(_));
    match commands::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) if exec => {
            report(log.as_deref(), json, &format!("exec failed: {e:#}"));
            ExitCode::from(255)
        }
        Err(e) => {
            report(log.as_deref(), json, &format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// Reports an error as runc does: a logrus line (text or JSON) on stderr,
/// or, with `--log FILE`, the line in the file (where containerd reads the
/// last one) and the bare message on stderr.
fn report(log: Option<&Path>, json: bool, message: &str) {
    let line = berth_runtime::log::line(json, "error", message);
    let Some(path) = log else {
        eprintln!("{line}");
        return;
    };
    eprintln!("{message}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
