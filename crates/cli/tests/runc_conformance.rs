//! berth-runc runs every valid config runc runs: the defects a generic-
//! generator pass found, each as a regression test named after it and
//! compared with Debian's runc where runc has an answer.

mod support;

use std::time::Duration;

use support::runc::{Bundle, Runc, prerequisites};

/// Runs `args` in a bundle changed by `change` under `rt`: (exit code,
/// stdout, stderr).
fn run_in(
    rt: &Runc,
    id: &str,
    args: &[&str],
    change: &dyn Fn(&mut serde_json::Value),
) -> (i32, String, String) {
    let b = rt.bundle(args, id);
    run_bundle(rt, id, b, change)
}

fn run_bundle(
    rt: &Runc,
    id: &str,
    mut b: Bundle,
    change: &dyn Fn(&mut serde_json::Value),
) -> (i32, String, String) {
    change(&mut b.config);
    b.save();
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), id]);
    let _ = rt.run(&["delete", "--force", id]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A profile written before openat2, close_range and clone3 existed: they
/// are refused (EPERM), everything else allowed.
fn old_profile(nnp: bool) -> impl Fn(&mut serde_json::Value) {
    move |c: &mut serde_json::Value| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{
                "names": ["openat2", "close_range", "clone3", "faccessat2", "pidfd_open"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1
            }]
        });
        c["process"]["noNewPrivileges"] = nnp.into();
    }
}

#[test]
fn syscalls_after_the_seccomp_filter_is_installed() {
    let test = "syscalls_after_the_seccomp_filter_is_installed";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    for nnp in [true, false] {
        for (cwd, args) in [("/", ["echo", "started"]), ("/tmp", ["pwd", "-P"])] {
            let change = |c: &mut serde_json::Value| {
                old_profile(nnp)(c);
                c["process"]["cwd"] = cwd.into();
            };
            let theirs = run_in(&runc, "sc1", &args, &change);
            let ours = run_in(&berth, "sc1", &args, &change);
            assert_eq!(theirs.0, 0, "runc runs it (nnp {nnp}): {theirs:?}");
            assert_eq!(
                (ours.0, ours.1.as_str()),
                (theirs.0, theirs.1.as_str()),
                "nnp {nnp}, cwd {cwd}: {}",
                ours.2
            );
        }
    }
}

#[test]
fn a_failure_nobody_waits_for_reaches_stderr_and_the_log() {
    let test = "a_failure_nobody_waits_for_reaches_stderr_and_the_log";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    // execve itself refused, with no_new_privs: the failure comes after
    // `start` returned, when no berth-runc listens any more.
    let mut b = berth.bundle(&["echo", "never"], "lost1");
    b.config["process"]["noNewPrivileges"] = true.into();
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.save();
    let log = b.path().join("runc.log");
    let stderr = b.path().join("init.stderr");
    let status = berth
        .command(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            b.path().to_str().unwrap(),
            "lost1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    berth.ok(&["start", "lost1"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while berth.state("lost1")["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline, "the init did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        said.contains("berth-runc: container init: exec")
            && said.contains("Operation not permitted"),
        "stderr: {said:?}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(logged.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("exec"), "{logged}");
    berth.ok(&["delete", "lost1"]);
}
