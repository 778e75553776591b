//! Config areas the differential tests do not reach: hooks, the console
//! socket, domainname, extra devices, user namespaces, joining namespaces by
//! path, --no-pivot and annotations.

mod support;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use support::runc::{Runc, prerequisites};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn all_six_hooks_run_with_the_state() {
    if !prerequisites("all_six_hooks_run_with_the_state") {
        return;
    }
    let rt = Runc::berth("hooks");
    let out = tempfile::tempdir().expect("tempdir");
    let mut b = rt.bundle(&["sleep", "1000"], "h1");
    let host = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", out.path().display())]});
    // startContainer runs inside the container: its files go to a bind mount.
    b.config["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/hooks", "type": "bind", "source": out.path(), "options": ["rbind", "rw"]}));
    b.config["hooks"] = serde_json::json!({
        "prestart": [host("prestart")],
        "createRuntime": [host("createRuntime")],
        "createContainer": [host("createContainer")],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /hooks/startContainer.json"]}],
        "poststart": [host("poststart")],
        "poststop": [host("poststop")]
    });
    b.save();
    let bundle = b.path().to_str().unwrap_or_default().to_string();
    rt.ok(&["create", "--bundle", &bundle, "h1"]);
    for hook in ["prestart", "createRuntime", "createContainer"] {
        let state = json(
            &std::fs::read_to_string(out.path().join(format!("{hook}.json")))
                .unwrap_or_else(|e| panic!("{hook} did not run: {e}")),
        );
        assert_eq!(state["id"], "h1", "{hook}");
        assert_eq!(state["status"], "creating", "{hook}");
        assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{hook}");
    }
    assert!(
        !out.path().join("startContainer.json").exists(),
        "startContainer waits for start"
    );
    rt.ok(&["start", "h1"]);
    for _ in 0..100 {
        if out.path().join("poststart.json").exists()
            && out.path().join("startContainer.json").exists()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        json(&std::fs::read_to_string(out.path().join("startContainer.json")).unwrap_or_default())
            ["id"],
        "h1"
    );
    assert_eq!(
        json(&std::fs::read_to_string(out.path().join("poststart.json")).unwrap_or_default())["status"],
        "running"
    );
    rt.ok(&["delete", "--force", "h1"]);
    assert_eq!(
        json(&std::fs::read_to_string(out.path().join("poststop.json")).unwrap_or_default())["status"],
        "stopped"
    );

    // A failing createRuntime hook fails create, naming the hook, leaving nothing.
    let mut b = rt.bundle(&["true"], "h2");
    b.config["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
    b.save();
    let err = rt.fails(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "h2",
    ]);
    assert!(
        err.contains("createRuntime hook #0") && err.contains("nope"),
        "{err}"
    );
    assert!(rt.ok(&["list", "-q"]).trim().is_empty());
}

/// Receives the pty master the runtime sends on the console socket.
fn receive_fd(listener: &UnixListener) -> OwnedFd {
    berth_runtime::console_socket::receive_pty_master(listener).expect("receive the pty master")
}

#[test]
fn terminal_through_the_console_socket() {
    if !prerequisites("terminal_through_the_console_socket") {
        return;
    }
    let rt = Runc::berth("console");
    let mut b = rt.bundle(&["sh", "-c", "tty; stty size; echo console-ok"], "t1");
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["consoleSize"] = serde_json::json!({"height": 30, "width": 100});
    b.save();
    let sock = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let bundle = b.path().to_str().unwrap_or_default().to_string();
    let sock_arg = sock.to_str().unwrap_or_default().to_string();
    let creator = std::thread::spawn({
        let rt_bin = rt.bin.clone();
        let root = rt.root.path().to_path_buf();
        move || {
            support::runc::run_to_files(
                std::process::Command::new(rt_bin)
                    .arg("--root")
                    .arg(root)
                    .args([
                        "create",
                        "--bundle",
                        &bundle,
                        "--console-socket",
                        &sock_arg,
                        "t1",
                    ]),
            )
        }
    });
    let master = receive_fd(&listener);
    let out = creator.join().expect("create thread");
    assert!(
        out.status.success(),
        "create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.ok(&["start", "t1"]);
    let mut text = String::new();
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 1024];
    while !text.contains("console-ok") {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(
        text.contains("/dev/pts/0") && text.contains("30 100") && text.contains("console-ok"),
        "{text:?}"
    );
    rt.ok(&["delete", "--force", "t1"]);
    // Without a console socket, a terminal is refused up front.
    let err = rt.fails(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "t2",
    ]);
    assert!(err.contains("console socket"), "{err}");
}

#[test]
fn domainname_devices_and_annotations() {
    if !prerequisites("domainname_devices_and_annotations") {
        return;
    }
    let rt = Runc::berth("devices");
    let mut b = rt.bundle(&["sh", "-c", "cat /proc/sys/kernel/domainname; ls -l /dev/testnull | cut -c1; echo x > /dev/testnull && echo wrote; sleep 1000"], "d1");
    b.config["domainname"] = "example.test".into();
    b.config["linux"]["devices"] = serde_json::json!([{"path": "/dev/testnull", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0}]);
    b.config["linux"]["resources"]["devices"].as_array_mut().expect("rules").push(serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}));
    b.config["annotations"] = serde_json::json!({"org.example.key": "value"});
    b.save();
    let log = b.path().join("out.log");
    let out_file = std::fs::File::create(&log).expect("create");
    let status = rt
        .command(&[
            "run",
            "-d",
            "--bundle",
            b.path().to_str().unwrap_or_default(),
            "d1",
        ])
        .stdout(out_file)
        .status()
        .expect("run");
    assert!(status.success());
    let state = rt.state("d1");
    assert_eq!(state["annotations"]["org.example.key"], "value");
    for _ in 0..100 {
        if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("wrote")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        "example.test\nc\nwrote\n"
    );
    rt.ok(&["delete", "--force", "d1"]);
}

#[test]
fn user_namespace_with_id_maps() {
    if !prerequisites("user_namespace_with_id_maps") {
        return;
    }
    let rt = Runc::berth("userns");
    let mut b = rt.bundle(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox | awk '{print $3}'; touch /tmp/x && echo writable"], "u1");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({"type": "user"}));
    b.config["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["root"]["readonly"] = false.into();
    // The rootfs belongs to host root, which is nobody in the namespace;
    // let the container's root write /tmp (mode 1777 already allows it).
    b.save();
    let out = rt.run(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "u1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[2], "0", "root inside");
    assert_eq!(lines[3], "65534", "host root's files are nobody's inside");
    assert_eq!(lines[4], "writable");
}

#[test]
fn joining_another_containers_network_namespace_and_no_pivot() {
    if !prerequisites("joining_another_containers_network_namespace_and_no_pivot") {
        return;
    }
    let rt = Runc::berth("join");
    let a = rt.bundle(&["sleep", "1000"], "a1");
    rt.ok(&[
        "run",
        "-d",
        "--bundle",
        a.path().to_str().unwrap_or_default(),
        "a1",
    ]);
    let pid = rt.state("a1")["pid"].as_i64().unwrap_or(0);
    let their_net = std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .expect("ns")
        .display()
        .to_string();
    let mut b = rt.bundle(&["readlink", "/proc/self/ns/net"], "b1");
    for ns in b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
    {
        if ns["type"] == "network" {
            ns["path"] = format!("/proc/{pid}/ns/net").into();
        }
    }
    b.save();
    let out = rt.ok(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "b1",
    ]);
    assert_eq!(out.trim(), their_net, "b1 is in a1's network namespace");
    rt.ok(&["delete", "--force", "a1"]);
}

#[test]
fn default_seccomp_profile_denies_the_boundary_crossing_calls() {
    if !prerequisites("default_seccomp_profile_denies_the_boundary_crossing_calls") {
        return;
    }
    let probe_dir = tempfile::tempdir().expect("tempdir");
    let Some(_) = support::probe::compile_probe(probe_dir.path()) else {
        return;
    };
    let docker_caps = support::DOCKER_CAPS.map(String::from);
    let profile =
        serde_json::to_value(berth_runtime::seccomp::default_profile(&docker_caps)).expect("json");
    let script = "/probe/probe; ls / > /dev/null && echo ls-ok; sh -c 'echo child-ok' & wait; grep Seccomp: /proc/self/status";
    let mut outputs = Vec::new();
    let reference = Runc::reference("default_seccomp_profile");
    for rt in std::iter::once(Runc::berth("seccomp-default")).chain(reference) {
        let mut b = rt.bundle(&["sh", "-c", script], "s1");
        b.config["linux"]["seccomp"] = profile.clone();
        b.config["process"]["capabilities"] = serde_json::json!({"bounding": docker_caps, "effective": docker_caps, "permitted": docker_caps});
        b.config["process"]["noNewPrivileges"] = false.into();
        b.config["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/probe", "type": "bind", "source": probe_dir.path(), "options": ["rbind", "ro"]}));
        b.save();
        let out = rt.run(&[
            "run",
            "--bundle",
            b.path().to_str().unwrap_or_default(),
            "s1",
        ]);
        assert!(
            out.status.success(),
            "{}: {}",
            rt.bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let berth = &outputs[0];
    for want in [
        "keyctl EPERM",
        "unshare-user EPERM",
        "mount EPERM",
        "bpf EPERM",
        "io_uring_setup EPERM",
        "socket-vsock EPERM",
        "ls-ok",
        "child-ok",
        "Seccomp:\t2",
    ] {
        assert!(berth.contains(want), "expected {want:?} in\n{berth}");
    }
    if let Some(runc) = outputs.get(1) {
        assert_eq!(berth, runc, "runc applies berth's profile the same way");
    }
}

#[test]
fn the_runtime_binary_cannot_be_written_through_the_container() {
    if !prerequisites("the_runtime_binary_cannot_be_written_through_the_container") {
        return;
    }
    let rt = Runc::berth("sealed");
    let b = rt.bundle(&["sleep", "1000"], "x1");
    rt.ok(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap_or_default(),
        "x1",
    ]);
    let pid = rt.state("x1")["pid"].as_i64().unwrap_or(0);
    // What a process in the container could grab: the init's exe, while the
    // init is still the runtime (before it execs the user's program).
    let exe = std::fs::File::open(format!("/proc/{pid}/exe")).expect("open the init's exe");
    rt.ok(&["start", "x1"]);
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            == "sleep"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Reopening it for writing, as CVE-2019-5736 did: refused by the mount.
    let reopened = std::fs::OpenOptions::new().write(true).open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&exe)
    ));
    let err = reopened.expect_err("the runtime binary must not be writable through the container");
    // EROFS from the sealed mount; ETXTBSY when the kernel checks that the
    // binary is running first (it is, when other berth processes run it).
    assert!(
        matches!(err.raw_os_error(), Some(30) | Some(26)),
        "EROFS or ETXTBSY, not {err}"
    );
    // Either way, what the container can reach is a read-only mount.
    let fs = rustix::fs::fstatvfs(&exe).expect("statvfs of the init's exe");
    assert!(
        fs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        "the init's binary lies on a read-only mount (sealed)"
    );
    rt.ok(&["delete", "--force", "x1"]);
}

#[test]
fn preserved_fds_reach_the_container_and_nothing_else_does() {
    if !prerequisites("preserved_fds_reach_the_container_and_nothing_else_does") {
        return;
    }
    let rt = Runc::berth("preserve");
    let b = rt.bundle(
        &[
            "sh",
            "-c",
            "cat <&3; (cat <&4) 2>/dev/null && echo fd4-open || echo fd4-closed",
        ],
        "p1",
    );
    let secret = b.path().join("passed.txt");
    std::fs::write(&secret, "passed through fd 3\n").expect("write");
    // The shell opens fd 3 and 4, then runs the runtime asking to keep one.
    let line = format!(
        "exec 3<{} 4<{}; exec {} --root {} run --preserve-fds 1 --bundle {} p1",
        secret.display(),
        secret.display(),
        rt.bin.display(),
        rt.root.path().display(),
        b.path().display()
    );
    let out = support::runc::run_to_files(std::process::Command::new("sh").args(["-c", &line]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text, "passed through fd 3\nfd4-closed\n",
        "fd 3 kept, fd 4 (not asked for) closed"
    );
}
