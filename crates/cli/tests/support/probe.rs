//! A static C program that tries the syscalls a default container must not
//! have, printing `name EPERM`-style lines (built with the system's cc).

use std::path::{Path, PathBuf};

use super::runc::have;

/// A static probe that tries syscalls a default container must not have.
const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
static void report(const char *name, long rc) {
    printf("%s %s\n", name, rc < 0 ? strerrorname_np(errno) : "allowed");
}
int main(void) {
    char buf[256] = {0};
    errno = 0; report("keyctl", syscall(SYS_keyctl, 1, 0));
    errno = 0; report("unshare-user", unshare(CLONE_NEWUSER));
    errno = 0; report("mount", mount("none", "/mnt", "tmpfs", 0, 0));
    errno = 0; report("bpf", syscall(SYS_bpf, 0, buf, 72));
    errno = 0; report("io_uring_setup", syscall(SYS_io_uring_setup, 1, buf));
    errno = 0; report("socket-vsock", socket(40, SOCK_STREAM, 0));
    return 0;
}
"#;

pub fn compile_probe(dir: &Path) -> Option<PathBuf> {
    if !have("cc") {
        super::skip(
            "runc_dockerd probe",
            "no C compiler to build the static syscall probe (apt-get install gcc)",
        );
        return None;
    }
    let src = dir.join("probe.c");
    let bin = dir.join("probe");
    std::fs::write(&src, PROBE_C).ok()?;
    let out = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "compile probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}
