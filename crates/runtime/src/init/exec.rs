//! The last steps before the user's program runs: finding it, the working
//! directory (verified), the environment, closing every inherited fd, and
//! execve.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};

use super::Failure;
use crate::error::InitStep;
use crate::sys;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `name` the way runc (and Go's exec.LookPath) does: a name with a
/// slash is used as given; otherwise each $PATH entry is tried. Errors read
/// `exec: "top": executable file not found in $PATH`.
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, Failure> {
    find(name, env).map_err(|f| f.at(InitStep::FindProgram))
}

fn find(name: &str, env: &[String]) -> Result<PathBuf, Failure> {
    let not_found = || Failure {
        errno: Some(libc::ENOENT),
        ..Failure::msg(
            format!("exec: {name:?}"),
            "executable file not found in $PATH",
        )
    };
    if name.is_empty() {
        return Err(Failure {
            errno: Some(libc::ENOENT),
            ..Failure::msg("exec", "no command given (process.args is empty)")
        });
    }
    if name.contains('/') {
        return match is_executable(Path::new(name)) {
            Ok(()) => Ok(PathBuf::from(name)),
            Err((errno, e)) => Err(Failure {
                errno: Some(errno),
                ..Failure::msg(format!("exec: {name:?}"), &e)
            }),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if is_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(not_found())
}

/// Ok, or (errno, Go's wording) for why `path` cannot be run.
fn is_executable(path: &Path) -> Result<(), (i32, String)> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => (libc::ENOENT, "no such file or directory".to_string()),
        _ => (e.raw_os_error().unwrap_or(libc::EIO), e.to_string()),
    })?;
    if meta.is_dir() {
        return Err((libc::EISDIR, "is a directory".into()));
    }
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err((libc::EACCES, "permission denied".into()));
    }
    Ok(())
}

/// Changes to `cwd` resolved strictly inside the root (no magic links such as
/// /proc/self/fd/N, no escape), then checks where the kernel says we are.
pub fn chdir_verified(cwd: &Path) -> Result<(), Failure> {
    chdir(cwd).map_err(|f| f.at(InitStep::Cwd))
}

fn chdir(cwd: &Path) -> Result<(), Failure> {
    let step = || {
        format!(
            "chdir to cwd {:?} set in config.json",
            cwd.display().to_string()
        )
    };
    if !cwd.is_absolute() {
        return Err(Failure::msg(
            step(),
            "the working directory must be absolute",
        ));
    }
    match chdir_in_root(cwd, &step) {
        // A seccomp profile older than openat2 refuses it (EPERM), an old
        // kernel lacks it (ENOSYS): the classic call, verified below.
        Err(f) if matches!(f.errno, Some(libc::EPERM | libc::ENOSYS)) => {
            rustix::process::chdir(cwd).map_err(|e| Failure::errno(step(), e))?;
        }
        other => other?,
    }
    // getcwd prefixes "(unreachable)" to a directory outside our root
    // (a magic link to a host directory, say).
    let now = rustix::process::getcwd(Vec::new()).map_err(|e| Failure::errno(step(), e))?;
    if !now.to_bytes().starts_with(b"/") {
        return Err(Failure::msg(
            step(),
            "the working directory is outside the container root",
        ));
    }
    Ok(())
}

/// The working directory resolved by the kernel strictly inside the root
/// (no magic links such as /proc/self/fd/N, no escape).
fn chdir_in_root(cwd: &Path, step: &dyn Fn() -> String) -> Result<(), Failure> {
    let rel = cwd.strip_prefix("/").unwrap_or(cwd);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let root = rfs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::errno(step(), e))?;
    let dir = rfs::openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| Failure::errno(step(), e))?;
    rustix::process::fchdir(&dir).map_err(|e| Failure::errno(step(), e))
}

/// Marks every fd except stdio (and the `keep` range, for LISTEN_FDS-style
/// preserved fds) close-on-exec, resets signals, runs `last` (the seccomp
/// filter, when it goes last), then execs. Returns only on failure.
pub fn exec(
    program: &Path,
    args: &[String],
    env: &[String],
    keep_extra: u32,
    last: impl FnOnce() -> Result<(), Failure>,
) -> Failure {
    let to_c = |s: &str| {
        CString::new(s.as_bytes())
            .map_err(|_| Failure::msg("exec", "an argument contains a NUL byte"))
    };
    let prog = match CString::new(program.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return Failure::msg("exec", "the program path contains a NUL byte"),
    };
    let argv: Result<Vec<CString>, Failure> = args.iter().map(|a| to_c(a)).collect();
    let env = one_per_name(env);
    let envp: Result<Vec<CString>, Failure> = env.iter().map(|e| to_c(e)).collect();
    let (argv, envp) = match (argv, envp) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(f), _) | (_, Err(f)) => return f,
    };
    // Nothing of the runtime survives into the container: every fd above
    // stdio (and preserved fds) is closed on exec.
    if let Err(e) = close_inherited(3 + keep_extra) {
        return Failure::new("close inherited file descriptors", e);
    }
    // The program starts with every signal at its default action and none
    // blocked, whatever the runtime had (Rust ignores SIGPIPE; an ignored
    // disposition survives execve).
    sys::reset_signals();
    if let Err(f) = last() {
        return f;
    }
    let err = sys::execve(&prog, &argv, &envp);
    Failure {
        errno: err.raw_os_error(),
        ..Failure::new(format!("exec {:?}", program.display().to_string()), err)
    }
    .at(InitStep::Exec)
}

/// Every fd from `first` up close-on-exec: close_range, or where a seccomp
/// profile (or an old kernel) refuses it, each fd listed in /proc/self/fd.
fn close_inherited(first: u32) -> std::io::Result<()> {
    match sys::close_range(first, true) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ENOSYS | libc::EINVAL)
            ) => {}
        other => return other,
    }
    let dir = rfs::open(
        "/proc/self/fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let listing = rustix::fs::Dir::read_from(&dir)?;
    let mut fds = Vec::new();
    for entry in listing {
        let entry = entry?;
        if let Some(fd) = entry
            .file_name()
            .to_str()
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|fd| *fd >= first)
        {
            fds.push(fd as i32);
        }
    }
    for fd in fds {
        sys::set_cloexec(fd);
    }
    Ok(())
}

/// One entry per variable name, the last value given winning, in the
/// place of the first (runc sets them in order, as `setenv` would).
fn one_per_name(env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for e in env {
        let name = e.split('=').next().unwrap_or_default();
        match out.iter_mut().find(|x| x.split('=').next() == Some(name)) {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_value_of_a_variable_wins() {
        let env: Vec<String> = ["A=1", "MY_VAR=from_spec", "B=2", "MY_VAR=from_cli"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(super::one_per_name(&env), ["A=1", "MY_VAR=from_cli", "B=2"]);
    }
}
