//! The second conformance pass against Debian's runc: every `exec` flag,
//! recursive mount attributes, unknown capabilities, seccomp notification,
//! LSM labels, hooks' environment, time namespaces and personality, and a
//! runc command line reaching the binary under the name `berth`.

mod support;

use std::time::Duration;

use support::runc::{Runc, Step, prerequisites, run_bundle, run_in, step_of};

#[test]
fn every_exec_flag_as_runc() {
    let test = "every_exec_flag_as_runc";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let mut results: Vec<Vec<Step>> = Vec::new();
    for rt in [&runc, &berth] {
        let mut b = rt.bundle(&["sleep", "1000"], "ex1");
        b.config["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push("MY_VAR=from_spec".into());
        b.save();
        rt.ok(&[
            "run",
            "--detach",
            "--bundle",
            b.path().to_str().unwrap(),
            "ex1",
        ]);
        let mut seen = Vec::new();
        let mut step = |name: &str, args: &[&str]| {
            let mut full = vec!["exec"];
            full.extend_from_slice(args);
            seen.push(step_of(name, rt.run(&full)));
        };
        step("env from spec", &["ex1", "sh", "-c", "echo $MY_VAR"]);
        step(
            "--env wins",
            &[
                "--env",
                "MY_VAR=from_cli",
                "ex1",
                "sh",
                "-c",
                "echo $MY_VAR",
            ],
        );
        step(
            "-e twice",
            &["-e", "A=1", "-e", "A=2", "ex1", "sh", "-c", "echo $A"],
        );
        step("--user uid keeps gid", &["--user", "1000", "ex1", "id"]);
        step(
            "--user uid:gid -g",
            &["--user", "1000:1000", "-g", "10", "-g", "20", "ex1", "id"],
        );
        step("--user not a number", &["--user", "x", "ex1", "id"]);
        step("-g negative", &["-g", "-5", "ex1", "id"]);
        step(
            "--cap",
            &[
                "--cap",
                "CAP_SYS_ADMIN",
                "ex1",
                "grep",
                "Cap",
                "/proc/self/status",
            ],
        );
        step(
            "--cap unknown",
            &[
                "--cap",
                "CAP_BOGUS",
                "ex1",
                "grep",
                "CapEff",
                "/proc/self/status",
            ],
        );
        step(
            "--no-new-privs",
            &[
                "--no-new-privs",
                "ex1",
                "grep",
                "NoNewPrivs",
                "/proc/self/status",
            ],
        );
        step("--cwd", &["--cwd", "/etc", "ex1", "pwd"]);
        step("--apparmor", &["--apparmor", "berth-test", "ex1", "true"]);
        step(
            "--process-label",
            &[
                "--process-label",
                "system_u:system_r:container_t:s0",
                "ex1",
                "true",
            ],
        );
        step("unknown container", &["nosuch", "true"]);
        step("exit status", &["ex1", "sh", "-c", "exit 7"]);
        // --preserve-fds: fd 3 of the caller reaches the process.
        let preserved = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec 3</etc/hostname; exec "$@""#)
            .arg("sh")
            .arg(&rt.bin)
            .arg("--root")
            .arg(rt.root.path())
            .args([
                "exec",
                "--preserve-fds",
                "1",
                "ex1",
                "sh",
                "-c",
                "test -r /proc/self/fd/3 && ls /proc/self/fd | wc -l",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        seen.push(step_of("--preserve-fds", preserved));
        // --cgroup: into a sub-cgroup of the container's (made by the
        // caller, as containerd does).
        let subs: Vec<_> = super_cgroups(rt, "ex1")
            .into_iter()
            .map(|d| d.join("sub"))
            .collect();
        for d in &subs {
            std::fs::create_dir(d).unwrap();
        }
        let mut full = vec!["exec", "--cgroup", "memory:sub", "ex1", "sh", "-c"];
        full.push("grep :memory: /proc/self/cgroup | cut -d: -f3");
        let mut s = step_of("--cgroup memory:sub", rt.run(&full));
        s.2 = s.2.replace(&rt.cgroup_parent, "PARENT");
        seen.push(s);
        seen.push(step_of(
            "--cgroup unknown controller",
            rt.run(&["exec", "--cgroup", "bogus:sub", "ex1", "true"]),
        ));
        seen.push(step_of(
            "--cgroup malformed",
            rt.run(&["exec", "--cgroup", "memory:sub,cpu:/sub", "ex1", "true"]),
        ));
        // Paused: refused, unless --ignore-paused (which then waits for the
        // thaw, frozen with the container).
        rt.ok(&["pause", "ex1"]);
        seen.push(step_of("paused", rt.run(&["exec", "ex1", "true"])));
        let waiting = rt
            .command(&["exec", "--ignore-paused", "ex1", "echo", "thawed"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        rt.ok(&["resume", "ex1"]);
        seen.push(step_of(
            "--ignore-paused",
            waiting.wait_with_output().unwrap(),
        ));
        rt.ok(&["delete", "--force", "ex1"]);
        for d in subs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        results.push(seen);
    }
    for (theirs, ours) in results[0].iter().zip(&results[1]) {
        let name = &theirs.0;
        assert_eq!(
            (ours.1, &ours.2),
            (theirs.1, &theirs.2),
            "{name}: exit and stdout (runc vs berth-runc); stderr: {:?} vs {:?}",
            theirs.3,
            ours.3
        );
        if theirs.1 != 0 && !theirs.3.is_empty() {
            // Failures of the runtime: runc's shape, "exec failed: …".
            assert!(
                ours.3.starts_with("level=error msg=\"exec failed: "),
                "{name}: {:?}",
                ours.3
            );
        }
    }
    // Where the words are ours, they say what was wrong.
    let said = |name: &str| &results[1].iter().find(|s| s.0 == name).unwrap().3;
    for (name, words) in [
        ("--user not a number", "parsing x as int for uid failed"),
        (
            "-g negative",
            "additional-gids must be a positive number -5",
        ),
        (
            "--cap unknown",
            "ignoring unknown or unavailable capabilities: [CAP_BOGUS]",
        ),
        (
            "--apparmor",
            "apparmor profile \\\"berth-test\\\" is specified in config",
        ),
        ("--process-label", "selinux label is specified in config"),
        ("unknown container", "container does not exist"),
        ("--cgroup unknown controller", "unknown controller bogus"),
        (
            "paused",
            "cannot exec in a paused container (use --ignore-paused to override)",
        ),
    ] {
        assert!(said(name).contains(words), "{name}: {:?}", said(name));
    }
}

/// The host directories of container `id`'s cgroups under `rt`'s parent
/// (one per v1 hierarchy it has, or its v2 directory).
fn super_cgroups(rt: &Runc, id: &str) -> Vec<std::path::PathBuf> {
    rt.cgroup_dirs()
        .into_iter()
        .map(|d| d.join(id))
        .filter(|d| d.is_dir())
        .collect()
}

/// A directory with a tmpfs mounted below it, unmounted when dropped.
struct Nested {
    dir: tempfile::TempDir,
}

impl Nested {
    fn new() -> Nested {
        let dir = tempfile::Builder::new()
            .prefix("berth-rec-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(dir.path().join("sub"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs below {}", dir.path().display());
        Nested { dir }
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path().join("sub"))
            .status();
    }
}

#[test]
fn recursive_mount_attributes() {
    let test = "recursive_mount_attributes";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let vol = Nested::new();
    let probe = [
        "sh",
        "-c",
        "for d in /v /v/sub; do touch $d/w 2>/dev/null && echo $d rw || echo $d ro; rm -f $d/w; done; \
         awk '$5 ~ \"^/v\" {print $5, $6}' /proc/self/mountinfo",
    ];
    let mut cases = 0;
    for options in [
        &["rbind", "rro"][..],
        &["rbind", "ro"],
        &["bind", "rro"],
        &["rbind", "rro", "rrw"],
        &["rbind", "rnosuid", "rnodev", "rnoexec"],
        &["rbind", "rnosuid", "rsuid"],
        &["rbind", "rnoatime"],
        &["rbind", "rstrictatime"],
        &["rbind", "rrelatime"],
        &["rbind", "rnodiratime"],
        &["rbind", "rnosymfollow"],
        &["rbind", "rro", "rnoexec", "rnosymfollow"],
    ] {
        let change = |c: &mut serde_json::Value| {
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/v",
                "type": "bind",
                "source": vol.dir.path(),
                "options": options,
            }));
        };
        let theirs = run_in(&runc, "ra1", &probe, &change);
        let ours = run_in(&berth, "ra1", &probe, &change);
        assert_eq!(theirs.0, 0, "{options:?}: runc: {theirs:?}");
        assert_eq!(
            (ours.0, &ours.1),
            (theirs.0, &theirs.1),
            "{options:?}: {}",
            ours.2
        );
        cases += 1;
    }
    // The first case: the submount is read-only too.
    eprintln!("{cases} option sets, same as runc");
}

#[test]
fn an_unknown_capability_is_warned_about_and_left_out() {
    let test = "an_unknown_capability_is_warned_about_and_left_out";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let change = |c: &mut serde_json::Value| {
        for set in ["bounding", "effective", "permitted"] {
            let list = c["process"]["capabilities"][set].as_array_mut().unwrap();
            list.push("CAP_BERTH_FUTURE".into());
            list.push("CAP_SYS_ADMIN".into());
        }
    };
    let probe = ["grep", "CapEff", "/proc/self/status"];
    let theirs = run_in(&runc, "uc1", &probe, &change);
    let ours = run_in(&berth, "uc1", &probe, &change);
    assert_eq!(theirs.0, 0, "runc: {theirs:?}");
    assert_eq!((ours.0, &ours.1), (theirs.0, &theirs.1), "{}", ours.2);
    for (who, err) in [("runc", &theirs.2), ("berth-runc", &ours.2)] {
        assert!(
            err.contains("level=warning")
                && err.contains("ignoring unknown or unavailable capabilities: [CAP_BERTH_FUTURE]"),
            "{who}: {err}"
        );
    }
}

#[test]
fn seccomp_notify_is_refused_at_once() {
    let test = "seccomp_notify_is_refused_at_once";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    for rt in [&runc, &berth] {
        let b = rt.bundle(&["true"], "sn1");
        let listener = b.path().join("agent.sock");
        let change = |c: &mut serde_json::Value| {
            c["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": listener,
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
            });
        };
        let started = std::time::Instant::now();
        let (code, _, err) = run_bundle(rt, "sn1", b, &change);
        assert_ne!(code, 0, "{}: no agent listens", rt.bin.display());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} took {:?}",
            rt.bin.display(),
            started.elapsed()
        );
        if rt.bin == berth.bin {
            assert!(
                err.contains("SCMP_ACT_NOTIFY is not supported") && err.contains("listenerPath"),
                "{err}"
            );
        }
        // Nothing is left behind.
        assert_eq!(rt.ok(&["list", "-q"]).trim(), "", "{}", rt.bin.display());
    }
}

#[test]
fn lsm_labels_are_refused_where_they_cannot_be_applied() {
    let test = "lsm_labels_are_refused_where_they_cannot_be_applied";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    for (field, words) in [
        ("apparmorProfile", "apparmor profile"),
        ("selinuxLabel", "selinux label is specified in config"),
        ("mountLabel", "selinux label is specified in config"),
    ] {
        let change = |c: &mut serde_json::Value| {
            let value = if field == "apparmorProfile" {
                "berth-test"
            } else {
                "system_u:object_r:container_file_t:s0"
            };
            if field == "mountLabel" {
                c["linux"][field] = value.into();
            } else {
                c["process"][field] = value.into();
            }
        };
        let theirs = run_in(&runc, "ls1", &["true"], &change);
        let ours = run_in(&berth, "ls1", &["true"], &change);
        // Neither module is on this host: runc fails on each, and so does
        // berth-runc (before anything is set up).
        assert_ne!(theirs.0, 0, "{field}: runc: {theirs:?}");
        assert_ne!(ours.0, 0, "{field}: berth-runc ran it");
        assert!(ours.2.contains(words), "{field}: {}", ours.2);
    }
}

#[test]
fn hooks_get_their_env_and_start_container_reaches_running() {
    let test = "hooks_get_their_env_and_start_container_reaches_running";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let mut results = Vec::new();
    for rt in [&runc, &berth] {
        let mut b = rt.bundle(&["sleep", "100"], "hk1");
        let out = b.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let host_sh = |file: &str, env: Option<&[&str]>| {
            let mut h = serde_json::json!({
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("echo ${{HOOK_VAR:-unset}} ${{RUNTIME_VAR:-unset}} > {}/{file}", out.display())],
            });
            if let Some(env) = env {
                h["env"] = serde_json::json!(env);
            }
            h
        };
        // The startContainer hook writes in the container's root.
        b.config["root"]["readonly"] = false.into();
        b.config["hooks"] = serde_json::json!({
            // Run on the host: with env, exactly it; without, the runtime's.
            "createRuntime": [host_sh("create-runtime", Some(&["HOOK_VAR=given"])), host_sh("inherited", None)],
            // Run in the container, after start: its own env.
            "startContainer": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", "echo $HOOK_VAR > /start-container"],
                "env": ["HOOK_VAR=in-container"],
            }],
        });
        b.save();
        let status = rt
            .command(&[
                "run",
                "--detach",
                "--bundle",
                b.path().to_str().unwrap(),
                "hk1",
            ])
            .env("RUNTIME_VAR", "from-runtime")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{}", rt.bin.display());
        let state = rt.state("hk1")["status"].as_str().unwrap().to_string();
        let read =
            |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_else(|e| e.to_string());
        results.push((
            state,
            read(out.join("create-runtime")),
            read(out.join("inherited")),
            read(b.path().join("rootfs/start-container")),
        ));
        rt.ok(&["delete", "--force", "hk1"]);
    }
    assert_eq!(
        results[0],
        (
            "running".to_string(),
            "given unset\n".into(),
            "unset from-runtime\n".into(),
            "in-container\n".into()
        ),
        "runc"
    );
    assert_eq!(results[1], results[0], "berth-runc vs runc");
}

#[test]
fn invoked_through_a_symlink_canonicalised_to_berth() {
    let test = "invoked_through_a_symlink_canonicalised_to_berth";
    if !prerequisites(test) {
        return;
    }
    // What a harness that resolves the berth-runc symlink runs: the berth
    // binary itself, with runc's arguments.
    let rt = Runc::at(std::path::PathBuf::from(support::BERTH), test);
    let b = rt.bundle(&["sleep", "100"], "sy1");
    let log = b.path().join("runtime.log");
    rt.ok(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "sy1",
    ]);
    assert_eq!(rt.state("sy1")["status"], "created");
    // Verbs Docker has too: runc's, because --root holds this ID's state.
    rt.ok(&["start", "sy1"]);
    assert_eq!(rt.state("sy1")["status"], "running");
    assert_eq!(rt.ok(&["exec", "sy1", "echo", "in"]), "in\n");
    rt.ok(&["pause", "sy1"]);
    assert_eq!(rt.state("sy1")["status"], "paused");
    rt.ok(&["resume", "sy1"]);
    rt.ok(&["kill", "sy1", "KILL"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.state("sy1")["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.ok(&["delete", "sy1"]);
    // An unknown ID under a runtime root: runc's error, from runc's verbs.
    let err = rt.fails(&["delete", "sy1"]);
    assert!(err.contains("container does not exist"), "{err}");
    // Docker's command line is still Docker's (its own run root, not the
    // host's).
    let run_root = tempfile::tempdir().unwrap();
    let out = support::runc::run_to_files(
        rt.command(&["start", "sy1"])
            .env("BERTH_RUN_ROOT", run_root.path())
            .stdin(std::process::Stdio::null()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: sy1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn time_namespace_offsets_and_personality_apply() {
    let test = "time_namespace_offsets_and_personality_apply";
    if !prerequisites(test) {
        return;
    }
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        panic!("{test}: this kernel has no time namespaces (CONFIG_TIME_NS)");
    }
    let berth = Runc::berth(test);
    let change = |c: &mut serde_json::Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}));
        c["linux"]["timeOffsets"] = serde_json::json!({"boottime": {"secs": 86400}});
        c["linux"]["personality"] = serde_json::json!({"domain": "LINUX32"});
    };
    let host_uptime = || -> f64 {
        let s = std::fs::read_to_string("/proc/uptime").unwrap();
        s.split_whitespace().next().unwrap().parse().unwrap()
    };
    let before = host_uptime();
    let (code, out, err) = run_in(
        &berth,
        "tn1",
        &[
            "sh",
            "-c",
            "cut -d' ' -f1 /proc/uptime; uname -m; readlink /proc/self/ns/time",
        ],
        &change,
    );
    let after = host_uptime();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let inside: f64 = lines[0].parse().unwrap();
    // The boot clock is a day ahead of the host's.
    assert!(
        inside >= before + 86400.0 - 0.5 && inside <= after + 86400.0 + 0.5,
        "uptime inside {inside}, host {before}..{after}"
    );
    assert_eq!(lines[1], "i686", "LINUX32 personality");
    let host_ns = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(
        lines[2],
        host_ns.to_str().unwrap(),
        "a time namespace of its own"
    );
    // Offsets without a namespace to hold them are refused at once.
    let (code, _, err) = run_in(&berth, "tn2", &["true"], &|c| {
        c["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 1}});
    });
    assert_ne!(code, 0);
    assert!(
        err.contains("linux.timeOffsets need a new time namespace"),
        "{err}"
    );
}
