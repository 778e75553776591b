//! `berth-runc`: runc's command line over berth-runtime, as containerd's runc
//! shim and dockerd call it. Same binary as `berth`, chosen by argv[0].
//!
//! Errors are logrus-shaped lines as runc's: on stderr, or with `--log FILE`
//! in the file (where containerd reads the last one) with the bare message
//! on stderr; `--log-format json` for JSON lines.

mod cli;
mod commands;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Whether this invocation is the runtime (`berth-runc`, or `runc` if someone
/// links it so).
pub fn invoked_as_runc() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_os_string()))
        .is_some_and(|n| n == "berth-runc" || n == "runc")
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
    match commands::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report(log.as_deref(), json, &e.to_string());
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
