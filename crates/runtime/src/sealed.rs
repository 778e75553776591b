//! Keeping the runtime binary out of the container's reach.
//!
//! The container's init and every exec'd process are clones of the runtime:
//! until they call execve, /proc/<pid>/exe inside the container's pid
//! namespace points at berth's binary on the host. A process in the container
//! could open it (CVE-2019-5736) and, once no berth runs, write to it. So
//! before entering a container the runtime re-executes itself from a detached,
//! read-only bind mount of its own binary: the same file, reachable only
//! through a mount that refuses writes (EROFS) and that no path names.
//!
//! Cost: one open_tree, one mount_setattr and one execveat (no copy).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use rustix::mount::OpenTreeFlags;

use crate::sys;

/// Set in the environment of the re-executed runtime.
pub const SEALED_ENV: &str = "_BERTH_RUNTIME_SEALED";

/// A read-only, detached view of this process's binary, for starting a
/// sealed copy of it directly (exec `/proc/self/fd/N` with [`SEALED_ENV`]
/// set), which saves the re-exec of [`ensure_sealed`].
pub fn sealed_binary() -> std::io::Result<std::os::fd::OwnedFd> {
    sealed_binary_at(std::path::Path::new("/proc/self/exe"))
}

/// A read-only, detached view of the binary at `path`.
pub fn sealed_binary_at(path: &std::path::Path) -> std::io::Result<std::os::fd::OwnedFd> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    sys::mount_setattr_readonly(&tree)?;
    Ok(tree)
}

/// Re-executes the current process from a read-only view of its binary,
/// unless it already runs from one. Returns only if sealing is impossible
/// (then the error says why); on success the process image is replaced.
pub fn ensure_sealed() -> std::io::Result<()> {
    if std::env::var_os(SEALED_ENV).is_some() {
        // Executed through /proc/self/fd/N, the kernel named us "N": take
        // argv[0]'s name back so ps, top and pgrep show "berth".
        if let Some(name) = std::env::args_os()
            .next()
            .as_deref()
            .map(std::path::Path::new)
            .and_then(|p| p.file_name())
            .and_then(|n| CString::new(n.as_bytes()).ok())
        {
            let _ = rustix::thread::set_name(&name);
        }
        return Ok(());
    }
    let tree = sealed_binary()?;
    let argv: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.push(CString::new(format!("{SEALED_ENV}=1")).unwrap_or_default());
    Err(sys::execveat_fd(&tree, &argv, &env))
}
