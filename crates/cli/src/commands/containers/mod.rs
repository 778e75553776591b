//! Container commands.

pub mod attach;
pub mod commit;
pub mod exec;
pub mod files;
pub mod lifecycle;
pub mod logs;
pub mod options;
pub mod port;
pub mod ps;
pub mod rename;
pub mod run;
pub mod stats;
pub mod top;
pub mod update;
pub mod volume;

use std::fmt;

/// An error with the exit code Docker gives it (125 for `run`'s own errors,
/// 126 cannot execute, 127 not found).
#[derive(Debug)]
pub struct ExitError {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

/// `run`/`create`/`start` failures: 127 and 126 from a failed start, else 125.
pub fn run_error(e: impl Into<anyhow::Error>) -> anyhow::Error {
    let e: anyhow::Error = e.into();
    if e.downcast_ref::<ExitError>().is_some() {
        return e;
    }
    let code = match e.downcast_ref::<berth_engine::Error>() {
        Some(e) => e.kind.run_exit_code(),
        None => 125,
    };
    // docker's CLI decides `run`'s code on these words too.
    let text = crate::output::describe(&e);
    let code = match code {
        125 if text.contains("executable file not found")
            || text.contains("no such file or directory") =>
        {
            127
        }
        125 if text.contains("permission denied") || text.contains("is a directory") => 126,
        c => c,
    };
    ExitError {
        code,
        message: crate::output::describe(&e),
    }
    .into()
}
