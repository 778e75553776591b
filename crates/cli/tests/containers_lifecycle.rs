//! The container commands one by one, with Docker's flags, output and exit
//! codes. Root only (real namespaces, overlayfs and cgroups).

mod support;

use std::time::Duration;

use support::Store;
use support::pty::Pty;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

#[test]
fn exit_codes_as_docker() {
    let Some(store) = prerequisites("exit_codes_as_docker") else {
        return;
    };
    assert_eq!(
        store
            .outcome(&["run", "--rm", "busybox", "sh", "-c", "exit 42"])
            .0,
        42
    );
    let (c, _, err) = store.outcome(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains("\"nosuchcommand\": executable file not found in $PATH"),
        "{err}"
    );
    let (c, _, err) = store.outcome(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(c, 126, "{err}");
    let (c, _, err) = store.outcome(&["run", "--rm", "nosuchimage"]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains("Unable to find image 'nosuchimage:latest' locally"),
        "{err}"
    );
    let (c, _, err) = store.outcome(&["run", "--bogus-flag", "busybox"]);
    assert_eq!(c, 125, "{err}");
    let (c, _, err) = store.outcome(&["run", "--rm", "-u", "nobody-here", "busybox", "id"]);
    assert_eq!(c, 125, "{err}");
    assert!(err.contains("unable to find user nobody-here"), "{err}");
    let (c, _, err) = store.outcome(&["run", "--name", "x", "busybox", "true"]);
    assert_eq!(c, 125);
    assert!(err.contains("Invalid container name (x)"), "{err}");
    // A failed start leaves the container created, with the error recorded.
    let (c, _, _) = store.outcome(&["run", "--name", "broken", "busybox", "nosuch"]);
    assert_eq!(c, 127);
    let state = store.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "broken",
    ]);
    assert_eq!(state, "created 127\n");
}

#[test]
fn names_ids_and_prefixes() {
    let Some(store) = prerequisites("names_ids_and_prefixes") else {
        return;
    };
    let id = store
        .ok(&["create", "--name", "web", "busybox", "true"])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let (c, _, err) = store.outcome(&["create", "--name", "web", "busybox", "true"]);
    // docker's `create` says 1 for what the engine refuses (`run`: 125).
    assert_eq!(c, 1);
    assert!(
        err.contains("Conflict. The container name \"/web\" is already in use by container"),
        "{err}"
    );
    for name in [&id[..], &id[..12], &id[..5], "web", "/web"] {
        assert_eq!(
            store.ok(&["inspect", "-f", "{{.Id}}", name]).trim(),
            id,
            "{name}"
        );
    }
    let generated = store.ok(&["create", "busybox", "true"]);
    let name = store.ok(&["inspect", "-f", "{{.Name}}", generated.trim()]);
    assert!(name.starts_with('/') && name.contains('_'), "{name}");
    store.ok(&["rename", "web", "site"]);
    assert_eq!(store.ok(&["inspect", "-f", "{{.Name}}", &id]), "/site\n");
    let err = store.fails(&["inspect", "nosuch"]);
    assert!(err.contains("No such object: nosuch"), "{err}");
    let err = store.fails(&["rm", "nosuch"]);
    assert!(err.contains("No such container: nosuch"), "{err}");
}

#[test]
fn create_start_stop_kill_pause_restart_wait() {
    let Some(store) = prerequisites("create_start_stop_kill_pause_restart_wait") else {
        return;
    };
    store.ok(&[
        "create",
        "--name",
        "svc",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; while true; do sleep 0.1; done",
    ]);
    assert!(
        store
            .ok(&["ps", "-a", "--format", "{{.Status}}"])
            .starts_with("Created")
    );
    assert_eq!(store.ok(&["start", "svc"]), "svc\n");
    assert_eq!(
        store.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "svc running\n"
    );
    store.ok(&["pause", "svc"]);
    assert!(
        store
            .ok(&["ps", "--format", "{{.Status}}"])
            .contains("(Paused)")
    );
    let err = store.fails(&["pause", "svc"]);
    assert!(err.contains("is already paused"), "{err}");
    let err = store.fails(&["kill", "svc"]);
    assert!(err.contains("is paused. Unpause the container"), "{err}");
    store.ok(&["unpause", "svc"]);
    let started = std::time::Instant::now();
    assert_eq!(store.ok(&["stop", "svc"]), "svc\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the trap ended it, no 10 s wait"
    );
    assert_eq!(
        store.ok(&["inspect", "-f", "{{.State.ExitCode}}", "svc"]),
        "7\n"
    );
    assert_eq!(store.ok(&["wait", "svc"]), "7\n");
    store.ok(&["restart", "svc"]);
    assert_eq!(store.ok(&["ps", "-q"]).lines().count(), 1);
    assert_eq!(store.ok(&["kill", "-s", "TERM", "svc"]), "svc\n");
    assert_eq!(store.ok(&["wait", "svc"]), "7\n");
    let err = store.fails(&["kill", "svc"]);
    assert!(err.contains("is not running"), "{err}");
    let err = store.fails(&["unpause", "svc"]);
    assert!(err.contains("is not paused"), "{err}");
    // rm refuses a running container without -f.
    store.ok(&["start", "svc"]);
    let err = store.fails(&["rm", "svc"]);
    assert!(
        err.contains("You cannot remove a running container"),
        "{err}"
    );
    store.ok(&["rm", "-f", "svc"]);
    assert_eq!(store.ok(&["ps", "-a", "-q"]), "");

    // start of several: the ones that started are printed, and only the
    // one that failed is named at the end (as docker).
    for (name, cmd) in [("sa", "true"), ("sb", "/nonexistent"), ("sc", "true")] {
        store.ok(&["create", "--name", name, "busybox", cmd]);
    }
    let out = store.run(&["start", "sa", "sb", "sc"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sa\nsc\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.trim_end().ends_with("failed to start containers: sb"),
        "only the failed container is named:\n{err}"
    );
    store.ok(&["rm", "-f", "sa", "sb", "sc"]);
}

#[test]
fn run_options_reach_the_process() {
    let Some(store) = prerequisites("run_options_reach_the_process") else {
        return;
    };
    let env_file = store.dir.path().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let out = store.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "-h",
        "myhost",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo $A $FROM_FILE; pwd; id -u; hostname; cat /etc/hostname",
    ]);
    assert_eq!(out, "1 yes\n/tmp\n65534\nmyhost\nmyhost\n");
    // Docker's defaults: 14 capabilities, seccomp filter, no new privileges off.
    let status = store.ok(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "-E",
        "^(CapEff|Seccomp|NoNewPrivs):",
        "/proc/self/status",
    ]);
    assert_eq!(
        status,
        "CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n"
    );
    let status = store.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "-E",
        "^(CapEff|NoNewPrivs):",
        "/proc/self/status",
    ]);
    assert_eq!(status, "CapEff:\t0000000000000001\nNoNewPrivs:\t1\n");
    let status = store.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(status, "Seccomp:\t0\n");
    // Network none: loopback only, and up.
    let links = store.ok(&["run", "--rm", "busybox", "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    let ping = store.ok(&[
        "run",
        "--rm",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "127.0.0.1",
    ]);
    assert!(ping.contains("1 packets received"), "{ping}");
    let host = store.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]);
    assert_eq!(host.trim(), rustix_hostname());
    let err = store.fails(&["run", "--rm", "--network", "bridge", "busybox", "true"]);
    assert!(
        err.contains("the default bridge is turned off (BERTH_BRIDGE=none)"),
        "{err}"
    );
    // Labels and filters.
    store.ok(&[
        "run", "--name", "labelled", "-l", "tier=web", "busybox", "true",
    ]);
    assert_eq!(
        store
            .outcome(&["run", "--name", "plain", "busybox", "sh", "-c", "exit 3"])
            .0,
        3
    );
    assert_eq!(
        store.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier=web",
            "--format",
            "{{.Names}}"
        ]),
        "labelled\n"
    );
    assert_eq!(
        store.ok(&["ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"]),
        "plain\n"
    );
    assert_eq!(
        store.ok(&["ps", "-a", "--filter", "name=lab", "--format", "{{.Names}}"]),
        "labelled\n"
    );
    assert_eq!(
        store
            .ok(&["ps", "-a", "--filter", "status=exited", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        store
            .ok(&["ps", "-a", "--filter", "ancestor=busybox", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(store.ok(&["ps", "-l", "--format", "{{.Names}}"]), "plain\n");
    assert_eq!(
        store.ok(&[
            "inspect",
            "-f",
            "{{.Config.Labels.tier}} {{.HostConfig.NetworkMode}}",
            "labelled"
        ]),
        "web none\n"
    );
}

fn rustix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn logs_with_tail_timestamps_and_follow() {
    let Some(store) = prerequisites("logs_with_tail_timestamps_and_follow") else {
        return;
    };
    // Pauses between writes: stdout and stderr are separate pipes, read in
    // whatever order they become ready.
    store.ok(&[
        "run",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three",
    ]);
    let out = store.run(&["logs", "talker"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nthree\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "two\n");
    assert_eq!(store.ok(&["logs", "--tail", "1", "talker"]), "three\n");
    let stamped = store.ok(&["logs", "-t", "--tail", "1", "talker"]);
    assert!(
        stamped.ends_with("Z three\n") && stamped.starts_with("20"),
        "{stamped}"
    );
    assert_eq!(
        store.ok(&["logs", "--since", "1h", "--tail", "1", "talker"]),
        "three\n"
    );
    assert_eq!(
        store.ok(&["logs", "--until", "2000-01-01T00:00:00Z", "talker"]),
        ""
    );
    let log = std::fs::read_to_string(
        store
            .ok(&["inspect", "-f", "{{.LogPath}}", "talker"])
            .trim(),
    )
    .unwrap();
    assert!(
        log.starts_with("{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\""),
        "{log}"
    );
    // -f returns when the container ends.
    store.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick $i; sleep 0.2; done",
    ]);
    let followed = store.ok(&["logs", "-f", "ticker"]);
    assert_eq!(followed, "tick 1\ntick 2\ntick 3\n");
}

#[test]
fn exec_attach_and_interactive_terminals() {
    let Some(store) = prerequisites("exec_attach_and_interactive_terminals") else {
        return;
    };
    store.ok(&[
        "run", "-d", "--name", "box", "-e", "BASE=1", "busybox", "sleep", "600",
    ]);
    assert_eq!(store.ok(&["exec", "box", "sh", "-c", "echo $BASE"]), "1\n");
    assert_eq!(
        store.ok(&[
            "exec",
            "-e",
            "X=2",
            "-w",
            "/etc",
            "-u",
            "nobody",
            "box",
            "sh",
            "-c",
            "echo $X $(pwd) $(id -u)"
        ]),
        "2 /etc 65534\n"
    );
    assert_eq!(store.outcome(&["exec", "box", "sh", "-c", "exit 9"]).0, 9);
    assert_eq!(
        store.outcome(&["exec", "box", "nosuch"]).0,
        126,
        "docker exec exits 126 for a command not found"
    );
    let piped = store.run_stdin(&["exec", "-i", "box", "cat"], b"through stdin\n");
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "through stdin\n");
    store.ok(&["exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(store.ok(&["exec", "box", "cat", "/tmp/d"]), "detached\n");
    let top = store.ok(&["top", "box"]);
    assert!(top.starts_with("UID") && top.contains("sleep 600"), "{top}");

    let mut pty = Pty::spawn(store.command(&["exec", "-it", "box", "sh"]));
    pty.expect("# ", Duration::from_secs(10));
    pty.send("tty; exit 4\n");
    assert_eq!(pty.wait(Duration::from_secs(10)), 4);
    assert!(pty.output().contains("/dev/pts/"), "{}", pty.output());

    // run -it, detach with ctrl-p ctrl-q, attach again, exit.
    let mut pty = Pty::spawn(store.command(&["run", "-it", "--name", "shell", "busybox", "sh"]));
    pty.expect("# ", Duration::from_secs(10));
    pty.send("echo before-detach\n");
    pty.expect("before-detach\r\n", Duration::from_secs(10));
    pty.send("\x10\x11");
    assert_eq!(pty.wait(Duration::from_secs(10)), 0);
    assert_eq!(
        store.ok(&["ps", "--filter", "name=shell", "--format", "{{.State}}"]),
        "running\n"
    );
    // attach detaches as docker's does: "read escape sequence", exit 1.
    let mut pty = Pty::spawn(store.command(&["attach", "shell"]));
    std::thread::sleep(Duration::from_millis(300));
    pty.send("\x10\x11");
    assert_eq!(pty.wait(Duration::from_secs(10)), 1, "{}", pty.output());
    assert!(
        pty.output().contains("read escape sequence"),
        "{}",
        pty.output()
    );
    let mut pty = Pty::spawn(store.command(&["attach", "shell"]));
    std::thread::sleep(Duration::from_millis(300));
    pty.send("echo after-attach; exit 6\n");
    assert_eq!(pty.wait(Duration::from_secs(10)), 6, "{}", pty.output());
    assert!(pty.output().contains("after-attach"), "{}", pty.output());
    // Other detach keys.
    let mut pty = Pty::spawn(store.command(&[
        "run",
        "-it",
        "--detach-keys",
        "ctrl-a,x",
        "--name",
        "shell2",
        "busybox",
        "sh",
    ]));
    pty.expect("# ", Duration::from_secs(10));
    pty.send("\x10\x11echo still-attached\n");
    pty.expect("still-attached\r\n", Duration::from_secs(10));
    pty.send("\x01x");
    assert_eq!(pty.wait(Duration::from_secs(10)), 0);
    let err = store.fails(&["run", "-it", "--detach-keys", "ctrl-1", "busybox", "true"]);
    assert!(err.contains("Unknown character: 'ctrl-1'"), "{err}");
    store.ok(&["rm", "-f", "box", "shell", "shell2"]);
}

#[test]
fn restart_policy_on_failure() {
    let Some(store) = prerequisites("restart_policy_on_failure") else {
        return;
    };
    store.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 1",
    ]);
    assert_eq!(store.ok(&["wait", "flaky"]), "1\n");
    // wait may return between runs; the policy allows two restarts.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = store.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}}",
            "flaky",
        ]);
        if state == "exited 2\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(store.ok(&["logs", "flaky"]), "try\ntry\ntry\n");
    let err = store.fails(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(
        err.contains("Conflicting options: --restart and --rm"),
        "{err}"
    );
}

#[test]
fn init_reaps_and_forwards_signals() {
    let test = "init_reaps_and_forwards_signals";
    let Some(store) = prerequisites(test) else {
        return;
    };
    // The init runs inside busybox: a dynamic binary cannot, and --init
    // says why. (berth itself is static: .cargo/config.toml.)
    let dynamic = store
        .command(&["run", "--rm", "--init", "busybox", "true"])
        .env("BERTH_INIT_BINARY", "/usr/bin/true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&dynamic.stderr);
    assert!(
        dynamic.status.code() == Some(125) && err.contains("is dynamically linked"),
        "a dynamic init binary is refused, saying why: {err}"
    );
    let code = |args: &[&str]| {
        let out = store
            .command(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // Without --init a shell is pid 1; with it, berth's init is.
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '"
        ]),
        "sh -c cat /proc/1/cmdline | tr '\\0' ' ' "
    );
    let (c, pid1) = code(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert_eq!(c, 0);
    assert!(pid1.starts_with("/sbin/docker-init -- sh -c"), "{pid1}");
    assert_eq!(
        code(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 5"]).0,
        5
    );
    // A plain `sleep` as pid 1 ignores SIGTERM; under the init it gets it.
    assert_eq!(
        code(&[
            "run", "-d", "--init", "--name", "sleeper", "busybox", "sleep", "600"
        ])
        .0,
        0
    );
    let started = std::time::Instant::now();
    store.ok(&["stop", "sleeper"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM reached sleep"
    );
    assert_eq!(
        store.ok(&["inspect", "-f", "{{.State.ExitCode}}", "sleeper"]),
        "143\n"
    );
}

/// The mount options of a container's root, as its monitor (which mounts
/// it in a namespace of its own) sees them.
fn root_mount_options(store: &Store, id: &str) -> String {
    let needle = format!("__monitor\0{id}");
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(&needle) {
            continue;
        }
        let info = std::fs::read_to_string(entry.path().join("mountinfo")).unwrap_or_default();
        let rootfs = store.root().join("containers").join(id).join("rootfs");
        if let Some(line) = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(rootfs.to_str().unwrap_or_default()))
        {
            return line.to_string();
        }
    }
    panic!("no monitor of {id} with its root mounted");
}

#[test]
fn rm_containers_skip_syncing_their_layer() {
    let Some(store) = prerequisites("rm_containers_skip_syncing_their_layer") else {
        return;
    };
    // `--rm`: the writable layer is thrown away with the container, so the
    // overlay is volatile (no sync of the upper file system on unmount).
    let rm = store.ok(&["run", "-d", "--rm", "busybox", "sleep", "100"]);
    let kept = store.ok(&["run", "-d", "busybox", "sleep", "100"]);
    let (rm, kept) = (rm.trim(), kept.trim());
    let rm_opts = root_mount_options(&store, rm);
    assert!(rm_opts.contains("volatile"), "{rm_opts}");
    let kept_opts = root_mount_options(&store, kept);
    assert!(!kept_opts.contains("volatile"), "{kept_opts}");
    store.ok(&["rm", "-f", rm, kept]);
    store.assert_check_clean();
}

#[test]
fn a_client_that_stops_reading_does_not_stall_the_container() {
    let Some(store) = prerequisites("a_client_that_stops_reading_does_not_stall_the_container")
    else {
        return;
    };
    store.ok(&[
        "run",
        "-d",
        "--name",
        "noisy",
        "busybox",
        "sh",
        "-c",
        "sleep 1; head -c 30000000 /dev/zero | tr '\\000' a; echo; echo done-writing",
    ]);
    // An attached client whose own reader never reads: its pipe fills, it
    // stops reading the monitor, and the monitor must drop it rather than
    // wait for it.
    let mut stuck = store
        .command(&["attach", "noisy"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let code = store.ok(&["wait", "noisy"]);
    let took = started.elapsed();
    assert_eq!(code.trim(), "0");
    assert!(
        took < Duration::from_secs(8),
        "the container waited for a client that does not read: {took:?}"
    );
    // Everything reached the log.
    assert_eq!(
        store.ok(&["logs", "--tail", "1", "noisy"]),
        "done-writing\n"
    );
    let _ = stuck.kill();
    let _ = stuck.wait();
}
