//! Errors that name the operation and the cgroup file, and small file helpers.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes a cgroup file. (`create` only matters for a fake cgroupfs; cgroupfs
/// itself refuses to create files, so a missing control file still fails.)
pub fn write(path: &Path, value: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    f.write_all(value.as_bytes())
        .map_err(|e| Error::io("write", path, e))
}

pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
}

/// Reads a number, treating "max" as `None`.
pub fn read_u64(path: &Path) -> Result<Option<u64>> {
    let s = read(path)?;
    let s = s.trim();
    if s == "max" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| Error::Invalid(format!("{}: not a number: {s:?}", path.display())))
}

/// Reads `key value` lines (memory.stat, cpu.stat, memory.events).
pub fn read_keyed(path: &Path) -> Result<Vec<(String, u64)>> {
    Ok(read(path)?
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

/// Best-effort signal to a pid (it may have exited meanwhile).
pub fn signal(pid: i32, signal: i32) {
    if let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(pid),
        rustix::process::Signal::from_named_raw(signal),
    ) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}
