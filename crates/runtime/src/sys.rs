//! The only `unsafe` in berth-runtime: the few system calls with no safe
//! wrapper. Each block says why it is sound.
//!
//! Everything else (mounts, namespaces, credentials, capabilities, ptys,
//! signals) goes through rustix's safe API.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;

/// Result of a clone: in the parent, the child's pid; in the child, `None`.
pub enum Forked {
    Parent(i32),
    Child,
}

/// `clone(2)` without `CLONE_VM`: a fork that can also create namespaces.
///
/// Only called from single-threaded processes (the runtime never starts a
/// thread), so the child owns a consistent copy of every lock and allocator
/// state and may keep running ordinary Rust code until it execs or exits.
pub fn clone(flags: i32) -> io::Result<Forked> {
    // SAFETY: a raw clone with a NULL stack duplicates the calling (single)
    // thread like fork(2); no pointers are passed to the kernel.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// As [`clone`], but the child starts inside the cgroup v2 directory `cgroup`
/// (`clone3` with `CLONE_INTO_CGROUP`, Linux 5.7+): no `cgroup.procs`
/// write, so no wait on the global cgroup lock (see berth-cgroups'
/// placement). ENOSYS, E2BIG or EINVAL mean the kernel cannot.
pub fn clone_into_cgroup(flags: i32, cgroup: std::os::fd::BorrowedFd<'_>) -> io::Result<Forked> {
    // libc's own constant is a c_int too narrow for it.
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = libc::clone_args {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        // No stack: the child continues on (a copy of) ours, like fork.
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: std::os::fd::AsRawFd::as_raw_fd(&cgroup) as u64,
    };
    // SAFETY: `args` is a valid clone_args of the size passed and outlives
    // the call; without CLONE_VM and with no stack this duplicates the
    // calling (single) thread like fork(2), as in `clone` above.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// `execve(2)`; returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], env: &[CString]) -> io::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated arrays of pointers to
    // NUL-terminated strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// `_exit(2)`: leaves without running destructors or atexit handlers (a
/// forked child must not flush the parent's buffers twice).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor from `first` up (`close_range(2)`), or marks them
/// close-on-exec when `cloexec`.
pub fn close_range(first: u32, cloexec: bool) -> io::Result<()> {
    let flags: libc::c_uint = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range takes integers only.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Marks fd number `fd` close-on-exec (fds listed in /proc/self/fd, where
/// close_range is refused).
pub fn set_cloexec(fd: i32) {
    // SAFETY: fcntl on an integer fd; a number that is not an open fd
    // (the listing's own, closed since) fails harmlessly with EBADF.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// `unshare(CLONE_NEWCGROUP)`.
pub fn unshare_cgroup_namespace() -> io::Result<()> {
    // SAFETY: unsharing the cgroup namespace affects no file descriptors or
    // memory; the caller is single-threaded.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }
        .map_err(io::Error::from)
}

/// `unshare(CLONE_NEWIPC)`.
pub fn unshare_ipc_namespace() -> io::Result<()> {
    // SAFETY: unsharing the IPC namespace affects no file descriptors or
    // memory (SysV segments already attached stay attached); the caller is
    // single-threaded.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWIPC) }
        .map_err(io::Error::from)
}

/// `unshare(CLONE_NEWTIME)`: the namespace is for this process's children
/// until it joins it through `/proc/self/ns/time_for_children`.
pub fn unshare_time_namespace() -> io::Result<()> {
    // SAFETY: unsharing the time namespace affects no file descriptors or
    // memory; the caller is single-threaded.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWTIME) }
        .map_err(io::Error::from)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level)`: this
/// process's I/O class and level, inherited across execve.
pub fn set_io_priority(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    let value = ((class << 13) | level) as libc::c_long;
    // SAFETY: ioprio_set takes three integers and touches no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            value,
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `personality(persona)`: the execution domain the next execve keeps.
pub fn set_personality(persona: u64) -> io::Result<()> {
    // SAFETY: personality(2) takes a plain integer and changes only how
    // this process's later execve and uname behave.
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `unshare(CLONE_NEWNS)`: a mount namespace of this process's own (the
/// engine's monitor mounts a container's root there, out of the host's view).
pub fn unshare_mount_namespace() -> io::Result<()> {
    // SAFETY: unsharing the mount namespace affects no file descriptors or
    // memory; the callers are single-threaded.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
        .map_err(io::Error::from)
}

/// Sets IFF_UP on the loopback interface of the current network namespace
/// (runc does the same for a new network namespace).
pub fn loopback_up() -> io::Result<()> {
    let sock = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: `ifreq` is plain old data, zeroed is a valid value; the name is
    // NUL-terminated within IFNAMSIZ; the ioctls read and write only `req`.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Installs a compiled seccomp BPF program (an array of 8-byte
/// `sock_filter`s) on the calling thread, as libseccomp's load does without
/// its no_new_privs default.
pub fn seccomp_set_filter(program: &[u8]) -> io::Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const u8,
    }
    if program.is_empty()
        || !program.len().is_multiple_of(8)
        || program.len() / 8 > u16::MAX as usize
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let prog = SockFprog {
        len: (program.len() / 8) as u16,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the
    // kernel copies the filter and reads nothing else.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const SockFprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `madvise(MADV_DONTNEED)` on a range that maps a file read-only and holds
/// no private (modified) pages: the pages leave this process's resident set
/// and come back from the page cache, unchanged, when touched again.
pub fn drop_clean_file_pages(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller passes a whole mapping it read from
    // /proc/self/smaps as read-only, file-backed and without anonymous
    // (copy-on-write) pages, so discarding its pages cannot change what
    // the memory reads: refaults read the same file contents.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // Fault pages back one at a time (no fault-around of 16 neighbours).
    // SAFETY: an access-pattern hint on the same range; changes no contents.
    unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_RANDOM) };
    Ok(())
}

/// Blocks every signal for this (single-threaded) process, so that
/// [`next_signal`] receives them; the previous mask is not needed again.
pub fn block_all_signals() -> io::Result<()> {
    // SAFETY: `set` is initialised by sigfillset before use; the mask
    // change affects only this thread, which is the process's only one.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Unblocks every signal (a child of the init, before it execs).
pub fn unblock_all_signals() {
    // SAFETY: an empty set, initialised by sigemptyset; affects only the
    // calling (single) thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Every signal back to its default action, and none blocked: what a
/// program expects to start with (a process about to execve).
pub fn reset_signals() {
    /// The kernel's `struct sigaction` (not the C library's, which differs
    /// in layout and refuses the real-time signals it reserves for itself).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installs the default action from a valid struct of the
        // kernel's layout and size (8-byte mask); no handler code runs,
        // and the old action is not asked for.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    unblock_all_signals();
}

/// Waits for the next blocked signal; its number.
pub fn next_signal() -> io::Result<i32> {
    // SAFETY: as above; `info` is written by the kernel.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let n = libc::sigwaitinfo(&set, &mut info);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n)
    }
}

/// Returns free memory at the top of the heap to the kernel.
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases memory malloc holds free.
    unsafe { libc::malloc_trim(0) };
}

/// `mount_setattr(2)` making a detached mount read-only.
pub fn mount_setattr_readonly(fd: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
    mount_setattr(fd, MOUNT_ATTR_RDONLY, 0, false)
}

/// `mount_setattr(2)` on the mount `fd` is (with `recursive`, and every
/// mount below it): attributes `set` and `clear`.
pub fn mount_setattr(
    fd: &impl std::os::fd::AsRawFd,
    set: u64,
    clear: u64,
    recursive: bool,
) -> io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a valid mount_attr for the call's duration, an empty path with
    // AT_EMPTY_PATH, and an fd we own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `execveat(fd, "", argv, env, AT_EMPTY_PATH)`; returns only on failure.
pub fn execveat_fd(fd: &impl std::os::fd::AsRawFd, argv: &[CString], env: &[CString]) -> io::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of NUL-terminated strings that outlive
    // the call; an empty path with AT_EMPTY_PATH on an fd we own.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_ptrs.as_ptr(),
            env_ptrs.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}
