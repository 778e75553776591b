//! berth-runc runs every valid config runc runs: the defects a generic-
//! generator pass found (seccomp ordering, no mount namespace, root
//! propagation, masked and /proc symlinks, lifecycle errors), each as a
//! regression test named after it and compared with Debian's runc.
//! runc_flags_and_fields.rs has the second pass: exec flags and fields.

mod support;

use std::time::Duration;

use support::runc::{Runc, prerequisites, run_bundle, run_in, without_time};

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

/// Unmounts what a container without a mount namespace left mounted in
/// ours (runc leaves them too): everything below `dir`, deepest first.
fn unmount_below(dir: &std::path::Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| std::path::Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount")
            .args(["-l", &p])
            .status();
    }
}

#[test]
fn no_mount_namespace() {
    let test = "no_mount_namespace";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let without_mnt = |c: &mut serde_json::Value| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "mount");
    };
    // As a generator writes it (masked and read-only paths): both refuse,
    // with runc's reason.
    for rt in [&runc, &berth] {
        let (code, _, err) = run_in(rt, "nm1", &["true"], &without_mnt);
        assert_ne!(code, 0, "{}: {err}", rt.bin.display());
        assert!(
            err.contains("unable to restrict sys entries without a private MNT namespace"),
            "{}: {err}",
            rt.bin.display()
        );
    }
    // Without them: both run it, in a chroot, sharing the runtime's mounts.
    let plain = |c: &mut serde_json::Value| {
        without_mnt(c);
        c["linux"]["maskedPaths"] = serde_json::json!([]);
        c["linux"]["readonlyPaths"] = serde_json::json!([]);
        c["root"]["readonly"] = false.into();
    };
    let mut results = Vec::new();
    for rt in [&runc, &berth] {
        let b = rt.bundle(
            &[
                "sh",
                "-c",
                "ls /bin/busybox && echo $(id -u) && test -e /proc/self/status && echo proc",
            ],
            "nm2",
        );
        let root = b.path().to_path_buf();
        let out = run_bundle(rt, "nm2", b, &plain);
        unmount_below(&root);
        results.push(out);
    }
    assert_eq!(results[0].0, 0, "runc: {:?}", results[0]);
    assert_eq!(
        (results[1].0, &results[1].1),
        (results[0].0, &results[0].1),
        "{}",
        results[1].2
    );
}

#[test]
fn rootfs_propagation_shared_or_rshared() {
    let test = "rootfs_propagation_shared_or_rshared";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let probe = [
        "sh",
        "-c",
        "awk '$5==\"/\" {print $7}' /proc/self/mountinfo; echo ran",
    ];
    for (propagation, root_shows) in [
        ("shared", "shared:"),
        ("rshared", "shared:"),
        ("unbindable", "unbindable"),
        ("runbindable", "unbindable"),
        ("private", "-"),
        ("rslave", "-"),
    ] {
        let change = |c: &mut serde_json::Value| {
            c["linux"]["rootfsPropagation"] = propagation.into();
        };
        let theirs = run_in(&runc, "rp1", &probe, &change);
        let ours = run_in(&berth, "rp1", &probe, &change);
        // Wherever runc runs it, berth-runc does (runc 1.1 cannot bind an
        // unbindable root onto itself; berth-runc applies it after the pivot).
        if theirs.0 == 0 {
            assert_eq!(
                ours.0, 0,
                "{propagation}: runc ran it; berth-runc: {}",
                ours.2
            );
        }
        assert_eq!(ours.0, 0, "{propagation}: {}", ours.2);
        assert!(ours.1.ends_with("ran\n"), "{propagation}: {ours:?}");
        // The root has what was asked (runc 1.2 applies it after pivot_root;
        // Debian's runc 1.1 leaves the root private).
        let shown = ours.1.lines().next().unwrap_or_default();
        assert!(
            shown.starts_with(root_shows),
            "{propagation}: / shows {shown:?}"
        );
    }
}

#[test]
fn masked_paths_that_are_symlinks_mask_their_target() {
    let test = "masked_paths_that_are_symlinks_mask_their_target";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let mut seen = Vec::new();
    for rt in [&runc, &berth] {
        let b = rt.bundle(
            &[
                "sh",
                "-c",
                "wc -c < /etc/passwd; ls -l /etc/plink | cut -c1",
            ],
            "ms1",
        );
        // Followed inside the root, as runc does: the target is masked,
        // not the link.
        std::os::unix::fs::symlink("/etc/passwd", b.path().join("rootfs/etc/plink")).unwrap();
        // A dangling link masks nothing, silently.
        std::os::unix::fs::symlink("/nonexistent", b.path().join("rootfs/etc/dangling")).unwrap();
        let out = run_bundle(rt, "ms1", b, &|c| {
            let paths = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            paths.push("/etc/plink".into());
            paths.push("/etc/dangling".into());
        });
        seen.push(out);
    }
    assert_eq!(seen[0].0, 0, "runc: {:?}", seen[0]);
    assert_eq!(seen[0].1, "0\nl\n", "runc masks the target: {:?}", seen[0]);
    assert_eq!(
        (seen[1].0, &seen[1].1),
        (seen[0].0, &seen[0].1),
        "{}",
        seen[1].2
    );
}

#[test]
fn proc_or_sys_as_symlinks_in_the_rootfs() {
    let test = "proc_or_sys_as_symlinks_in_the_rootfs";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    for dir in ["proc", "sys"] {
        for rt in [&runc, &berth] {
            let b = rt.bundle(&["true"], "ps1");
            let target = b.path().join("rootfs").join(dir);
            std::fs::remove_dir_all(&target).unwrap();
            std::os::unix::fs::symlink("/tmp", &target).unwrap();
            let (code, _, err) = run_bundle(rt, "ps1", b, &|_| {});
            // logrus quotes the message in its text format.
            let err = err.replace("\\\"", "\"");
            assert_ne!(code, 0, "{}: /{dir} a symlink", rt.bin.display());
            let fs = if dir == "proc" { "proc" } else { "sysfs" };
            assert!(
                err.contains(&format!(
                    "filesystem \"{fs}\" must be mounted on ordinary directory"
                )),
                "{}: {err}",
                rt.bin.display()
            );
        }
    }
}

#[test]
fn lifecycle_errors_as_runc_reports_them() {
    let test = "lifecycle_errors_as_runc_reports_them";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let mut results: Vec<Vec<(String, i32, String)>> = Vec::new();
    for rt in [&runc, &berth] {
        let b = rt.bundle(&["sleep", "100"], "lc1");
        let mut seen = Vec::new();
        let mut step = |name: &str, args: &[&str]| {
            let out = rt.run(args);
            seen.push((
                name.to_string(),
                out.status.code().unwrap_or(-1),
                without_time(String::from_utf8_lossy(&out.stderr).trim_end()),
            ));
        };
        rt.ok(&[
            "run",
            "--detach",
            "--bundle",
            b.path().to_str().unwrap(),
            "lc1",
        ]);
        step("delete running", &["delete", "lc1"]);
        step("kill KILL", &["kill", "lc1", "KILL"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rt.state("lc1")["status"] != "stopped" {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        step("kill stopped", &["kill", "lc1", "TERM"]);
        step("kill --all stopped", &["kill", "--all", "lc1", "TERM"]);
        step("kill unknown", &["kill", "nosuch"]);
        step("delete unknown", &["delete", "nosuch"]);
        step("delete --force unknown", &["delete", "--force", "nosuch"]);
        step("kill empty", &["kill", ""]);
        step("delete empty", &["delete", ""]);
        step("state unknown", &["state", "nosuch"]);
        step("json", &["--log-format", "json", "delete", "nosuch"]);
        let log = b.path().join("runtime.log");
        step(
            "log file",
            &[
                "--log",
                log.to_str().unwrap(),
                "--log-format",
                "json",
                "kill",
                "nosuch",
            ],
        );
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        seen.push((
            "log file line".into(),
            0,
            without_time(logged.lines().last().unwrap_or_default()),
        ));
        rt.ok(&["delete", "lc1"]);
        results.push(seen);
    }
    for (theirs, ours) in results[0].iter().zip(&results[1]) {
        assert_eq!(theirs, ours, "runc vs berth-runc");
    }
}
