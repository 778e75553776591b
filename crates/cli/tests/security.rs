//! Regression tests for the holes a container-security review found, each
//! named after it: nothing of the caller's (its stdio, its terminal, its
//! binary) reaches a container through exec; the store's modes do not
//! follow the caller's umask and the spec is never read back from a file;
//! processes start with default signal dispositions; nothing is mounted
//! inside /proc; `cp` resolves host paths on the host.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Store, container_store};

/// A static program that pushes a command into each of its stdio fds'
/// terminal input (TIOCSTI) and into /dev/tty, printing what happened.
const TIOCSTI_PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
static void push(const char *name, int fd) {
    const char *cmd = "touch /tmp/injected\n";
    int ok = 1;
    for (const char *p = cmd; *p; p++) {
        if (ioctl(fd, TIOCSTI, p) < 0) { ok = 0; break; }
    }
    dprintf(3, "%s %s\n", name, ok ? "injected" : strerrorname_np(errno));
}
int main(void) {
    int out = open("/tmp/probe.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 3);
    push("fd0", 0);
    push("fd1", 1);
    push("fd2", 2);
    int tty = open("/dev/tty", O_RDWR);
    if (tty < 0) dprintf(3, "tty %s\n", strerrorname_np(errno));
    else push("tty", tty);
    return 0;
}
"#;

fn compile(dir: &Path, name: &str, source: &str) -> Option<std::path::PathBuf> {
    if !support::runc::have("cc") {
        support::skip(
            name,
            "no C compiler to build the static probe (apt-get install gcc)",
        );
        return None;
    }
    let src = dir.join(format!("{name}.c"));
    let bin = dir.join(name);
    std::fs::write(&src, source).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

/// `berth ARGS` with stdin from `input` and stdout and stderr appended to `log`.
fn with_files(store: &Store, args: &[&str], input: &Path, log: &Path) -> std::process::ExitStatus {
    let log_file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
        .unwrap();
    store
        .command(args)
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .status()
        .unwrap()
}

#[test]
fn exec_never_hands_the_callers_stdio_to_the_container() {
    let Some(store) = container_store("exec_never_hands_the_callers_stdio_to_the_container") else {
        return;
    };
    store.ok(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]);
    let input = store.dir.path().join("secret-input");
    std::fs::write(&input, "echo from-the-host-file\n").unwrap();
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = store.dir.path().join("host.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    // `-i -t` on a file is refused before anything runs (docker's "the
    // input device is not a TTY"), so nothing of the caller's can reach
    // the container that way.
    let refused = with_files(
        &store,
        &["exec", "-i", "-t", "ctr", "touch", "/tmp/ran"],
        &input,
        &log,
    );
    assert_eq!(refused.code(), Some(1), "exec -i -t on a file");
    let (code, _, _) = store.outcome(&["exec", "ctr", "test", "-e", "/tmp/ran"]);
    assert_eq!(code, 1, "the refused exec ran nothing");
    let modes: &[&[&str]] = &[&[], &["-i"], &["-t"], &["-d"], &["-d", "-i"]];
    for (n, mode) in modes.iter().enumerate() {
        let script = format!(
            "r0=$(readlink /proc/$$/fd/0); r1=$(readlink /proc/$$/fd/1); r2=$(readlink /proc/$$/fd/2); \
             printf '%s\\n' \"$r0\" \"$r1\" \"$r2\" > /tmp/fds-{n}; \
             echo \"$$ $(cut -d' ' -f6 /proc/$$/stat)\" >> /tmp/fds-{n}; \
             chmod 4777 /proc/$$/fd/1 2>/dev/null; echo overwritten > /proc/$$/fd/0 2>/dev/null; true"
        );
        let mut args = vec!["exec"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["ctr", "sh", "-c", &script]);
        let status = with_files(&store, &args, &input, &log);
        assert!(status.success(), "exec {mode:?}: {status}");
        if mode.contains(&"-d") {
            std::thread::sleep(Duration::from_millis(500));
        }
        let seen = store.ok(&["exec", "ctr", "cat", &format!("/tmp/fds-{n}")]);
        let lines: Vec<&str> = seen.lines().collect();
        assert_eq!(lines.len(), 4, "exec {mode:?}: {seen}");
        for fd in &lines[..3] {
            assert!(
                fd.starts_with("pipe:[")
                    || fd.starts_with("socket:[")
                    || fd.starts_with("/dev/pts/"),
                "exec {mode:?}: an fd of the exec'd process is {fd:?}, not one berth made"
            );
        }
        // Its own session: the shell is the session leader.
        let (pid, sid) = lines[3].split_once(' ').unwrap();
        assert_eq!(pid, sid, "exec {mode:?}: not in a session of its own");
    }
    // Nothing reached the host's files.
    assert_eq!(
        std::fs::read_to_string(&input).unwrap(),
        "echo from-the-host-file\n"
    );
    assert_eq!(
        std::fs::metadata(&input).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o7777,
        0o600
    );
}

#[test]
fn tiocsti_from_an_exec_reaches_no_host_terminal() {
    let test = "tiocsti_from_an_exec_reaches_no_host_terminal";
    let Some(store) = container_store(test) else {
        return;
    };
    let Some(probe) = compile(store.dir.path(), "tiocsti", TIOCSTI_PROBE) else {
        return;
    };
    store.ok(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]);
    store.ok(&["cp", probe.to_str().unwrap(), "ctr:/bin/tiocsti"]);
    for mode in [&[][..], &["-d"][..], &["-i"][..]] {
        // A terminal of the host, as an administrator's shell would have.
        let master =
            rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
                .unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::File::options()
            .read(true)
            .write(true)
            .open(name.to_string_lossy().as_ref())
            .unwrap();
        let mut args = vec!["exec"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["ctr", "/bin/tiocsti"]);
        let status = store
            .command(&args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .status()
            .unwrap();
        assert!(status.success(), "exec {mode:?}: {status}");
        std::thread::sleep(Duration::from_millis(if mode.is_empty() {
            100
        } else {
            800
        }));
        let report = store.ok(&["exec", "ctr", "cat", "/tmp/probe.out"]);
        for line in report.lines() {
            assert!(!line.ends_with("injected"), "exec {mode:?}: {report}");
        }
        assert!(report.contains("fd0 ENOTTY"), "exec {mode:?}: {report}");
        assert!(
            report.contains("tty ENXIO"),
            "exec {mode:?}: no controlling terminal: {report}"
        );
        // Nothing waits in the host terminal's input.
        rustix::fs::fcntl_setfl(&slave, rustix::fs::OFlags::NONBLOCK).unwrap();
        let mut buf = [0u8; 64];
        match rustix::io::read(&slave, &mut buf) {
            Err(rustix::io::Errno::AGAIN) => {}
            other => panic!("exec {mode:?}: the host terminal got input: {other:?} {buf:?}"),
        }
        drop(master);
    }
}

#[test]
fn exec_is_cloned_from_the_sealed_binary() {
    let Some(store) = container_store("exec_is_cloned_from_the_sealed_binary") else {
        return;
    };
    store.ok(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]);
    // Every exec'd process is a clone of the monitor until it execs: what
    // /proc/PID/exe shows then is the monitor's binary, which must be a
    // read-only view, not berth's file on the host's writable root (which
    // a container could reopen for writing once no berth runs it:
    // CVE-2019-5736).
    let (_, monitor) = store.init_and_monitor("ctr");
    let exe = std::fs::File::open(format!("/proc/{monitor}/exe")).unwrap();
    let fs = rustix::fs::fstatvfs(&exe).unwrap();
    assert!(
        fs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        "the monitor runs from a read-only view of berth's binary"
    );
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&exe)
        ))
        .expect_err("the monitor's binary must not open for writing");
    assert!(matches!(err.raw_os_error(), Some(26) | Some(30)), "{err}");
    // And the exec path goes through the monitor, not through this CLI:
    // the exec'd process's parent is the monitor.
    let parent = store.ok(&["exec", "ctr", "sh", "-c", "cut -d' ' -f4 /proc/$$/stat"]);
    assert_eq!(
        parent.trim(),
        "0",
        "the exec'd process's parent is outside the container"
    );
    store.ok(&["exec", "-d", "ctr", "sleep", "30"]);
    std::thread::sleep(Duration::from_millis(300));
    let children =
        std::fs::read_to_string(format!("/proc/{monitor}/task/{monitor}/children")).unwrap();
    assert_eq!(
        children.split_whitespace().count(),
        2,
        "the monitor is the parent of the init and of the exec: {children}"
    );
}

/// `berth ARGS` under `umask`.
fn with_umask(store: &Store, umask: &str, args: &[&str]) {
    let mut cmd = store.command(&[]);
    let program = cmd.get_program().to_owned();
    let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(program)
        .args(args);
    for (k, v) in envs {
        match v {
            Some(v) => {
                cmd.env(k, v);
            }
            None => {
                cmd.env_remove(k);
            }
        }
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "umask {umask} berth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Paths under `dir` that others may write, or read though they hold
/// store data (everything but image and container file content, whose
/// modes are the image's).
fn too_open(dir: &Path, rel: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir.join(rel)) else {
        return;
    };
    for e in entries.flatten() {
        let rel = rel.join(e.file_name());
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let content = matches!(
            parts
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["snapshots", _, "fs", ..]
                | ["containers", _, "diff" | "work" | "init" | "rootfs", ..]
                | ["volumes", _, "_data", ..]
        );
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.file_type().is_symlink() || content {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let volume_dir = parts.len() == 3 && parts[0] == "volumes" && parts[2] == "_data";
        let public_file = parts
            .last()
            .is_some_and(|n| ["hostname", "hosts", "resolv.conf"].contains(&n.as_str()));
        if mode & 0o002 != 0 || (meta.is_file() && !public_file && mode & 0o004 != 0 && !volume_dir)
        {
            out.push(format!("{} {:o}", rel.display(), mode));
        }
        if meta.is_dir() {
            too_open(dir, &rel, out);
        }
    }
}

#[test]
fn store_modes_do_not_follow_the_umask() {
    for umask in ["000", "077"] {
        let Some(store) = container_store("store_modes_do_not_follow_the_umask") else {
            return;
        };
        with_umask(
            &store,
            umask,
            &[
                "run",
                "-d",
                "--name",
                "ctr",
                "-e",
                "SECRET=x",
                "busybox",
                "sh",
                "-c",
                "echo out; sleep 600",
            ],
        );
        with_umask(&store, umask, &["exec", "ctr", "true"]);
        with_umask(&store, umask, &["logs", "ctr"]);
        with_umask(&store, umask, &["commit", "ctr", "img:1"]);
        with_umask(&store, umask, &["volume", "create", "vol"]);
        let mut problems = Vec::new();
        too_open(&store.root, Path::new(""), &mut problems);
        too_open(&store.run, Path::new(""), &mut problems);
        assert!(
            problems.is_empty(),
            "umask {umask}: too open: {problems:#?}"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&store.root), 0o710, "umask {umask}");
        assert_eq!(mode(&store.run), 0o700, "umask {umask}");
        assert_eq!(mode(&store.root.join("berth.db")), 0o600, "umask {umask}");
        let id = store.ok(&["inspect", "-f", "{{.Id}}", "ctr"]);
        let log = store
            .root
            .join(format!("containers/{0}/{0}-json.log", id.trim()));
        assert_eq!(mode(&log), 0o640, "umask {umask}");
        store.assert_check_clean();
        // A mode made wider behind berth's back is reported, and repaired.
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = store.run(&["system", "check"]);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success()
                && report.contains("-json.log: mode 0644 is wider than berth sets (0640)"),
            "{report}"
        );
        store.ok(&["system", "check", "--repair"]);
        store.assert_check_clean();
        assert_eq!(mode(&log), 0o640);
    }
}

#[test]
fn start_never_reads_the_spec_back_from_a_file() {
    let Some(store) = container_store("start_never_reads_the_spec_back_from_a_file") else {
        return;
    };
    let id = store.ok(&["create", "--name", "ctr", "busybox", "echo", "as-created"]);
    let dir = store.root.join("containers").join(id.trim());
    // Whatever another user could have left in the container's directory,
    // the spec comes from the store.
    std::fs::write(
        dir.join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["echo","edited"],"cwd":"/"},"root":{"path":"rootfs"}}"#,
    )
    .unwrap();
    store.ok(&["start", "ctr"]);
    assert_eq!(store.ok(&["wait", "ctr"]).trim(), "0");
    assert_eq!(store.ok(&["logs", "ctr"]), "as-created\n");
}

#[test]
fn processes_start_with_default_signal_dispositions() {
    let Some(store) = container_store("processes_start_with_default_signal_dispositions") else {
        return;
    };
    let status = store.ok(&["run", "--rm", "busybox", "cat", "/proc/self/status"]);
    assert!(
        status.contains("SigIgn:\t0000000000000000"),
        "pid 1: {status}"
    );
    assert!(
        status.contains("SigBlk:\t0000000000000000"),
        "pid 1: {status}"
    );
    store.ok(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]);
    let status = store.ok(&["exec", "ctr", "cat", "/proc/self/status"]);
    assert!(
        status.contains("SigIgn:\t0000000000000000"),
        "exec: {status}"
    );
    assert!(
        status.contains("SigBlk:\t0000000000000000"),
        "exec: {status}"
    );
    // With SIGPIPE ignored, `yes` would write into a closed pipe forever.
    let mut child = store
        .command(&["exec", "ctr", "sh", "-c", "yes | head -c 100000 | wc -c"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "yes | head never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mounts_inside_proc_are_refused() {
    let Some(store) = container_store("mounts_inside_proc_are_refused") else {
        return;
    };
    let host = store.dir.path().join("h");
    std::fs::create_dir(&host).unwrap();
    let bind = format!("{}:/proc/sys", host.display());
    for args in [
        vec!["run", "--rm", "-v", &bind, "busybox", "true"],
        vec![
            "run",
            "--rm",
            "-v",
            "/proc/sysrq-trigger",
            "busybox",
            "true",
        ],
        vec![
            "run",
            "--rm",
            "--tmpfs",
            "/proc/../proc/x",
            "busybox",
            "true",
        ],
    ] {
        let (code, _, err) = store.outcome(&args);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(
            err.contains("cannot be mounted because it is inside /proc"),
            "{args:?}: {err}"
        );
    }
    // An image's VOLUME there too.
    let holder = store.ok(&["create", "busybox", "true"]);
    store.ok(&[
        "commit",
        "--change",
        "VOLUME /proc/sys",
        holder.trim(),
        "vol:proc",
    ]);
    let (code, _, err) = store.outcome(&["run", "--rm", "vol:proc", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("inside /proc"), "{err}");
    // Nothing was left behind by the refusals.
    assert!(
        store
            .ok(&["ps", "-a", "-q", "--filter", "ancestor=vol:proc"])
            .is_empty()
    );
}

#[test]
fn cp_of_a_relative_host_path_into_a_running_container() {
    let Some(store) = container_store("cp_of_a_relative_host_path_into_a_running_container") else {
        return;
    };
    store.ok(&["run", "-d", "--name", "ctr", "busybox", "sleep", "600"]);
    let cwd = store.dir.path().join("work");
    std::fs::create_dir_all(cwd.join("rel")).unwrap();
    std::fs::write(cwd.join("rel/file"), "relative\n").unwrap();
    let out = store
        .command(&["cp", "rel/file", "ctr:/"])
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(store.ok(&["exec", "ctr", "cat", "/file"]), "relative\n");
    let out = store
        .command(&["cp", "ctr:/file", "back"])
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(cwd.join("back")).unwrap(),
        "relative\n"
    );
}

/// `--privileged` gives the container every device node of the host (as
/// docker's does; docker itself cannot run a privileged container on this
/// VM, which lacks CAP_SYS_RESOURCE, so the host's /dev is the reference),
/// and a default container none beyond docker's defaults.
#[test]
fn privileged_gives_every_host_device() {
    let Some(store) = container_store("privileged_gives_every_host_device") else {
        return;
    };
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        use std::os::unix::fs::FileTypeExt;
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let t = meta.file_type();
            if t.is_dir() {
                if !["pts", "shm", "fd", "mqueue"].contains(&name.as_str()) {
                    walk(&e.path(), out);
                }
            } else if (t.is_char_device() || t.is_block_device())
                // Every container's console and ptmx are its own.
                && name != "console"
                && name != "ptmx"
            {
                out.push(e.path().to_string_lossy().into_owned());
            }
        }
    }
    let mut host = Vec::new();
    walk(std::path::Path::new("/dev"), &mut host);
    assert!(!host.is_empty());
    let script = "find /dev \\( -type c -o -type b \\) | sort";
    let inside = store.ok(&["run", "--rm", "--privileged", "busybox", "sh", "-c", script]);
    let inside: Vec<&str> = inside.lines().collect();
    let missing: Vec<&String> = host
        .iter()
        .filter(|h| !inside.contains(&h.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "host devices missing in a privileged container: {missing:?}"
    );
    let default = store.ok(&["run", "--rm", "busybox", "sh", "-c", script]);
    let expected = [
        "/dev/full",
        "/dev/null",
        "/dev/ptmx",
        "/dev/random",
        "/dev/tty",
        "/dev/urandom",
        "/dev/zero",
    ];
    for d in default.lines() {
        assert!(
            expected.contains(&d) || d.starts_with("/dev/pts/"),
            "a default container has {d}"
        );
    }
}
