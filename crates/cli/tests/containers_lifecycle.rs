//! The container commands one by one, with Docker's flags, output and exit
//! codes. Root only (real namespaces, overlayfs and cgroups).

mod support;

use std::time::Duration;

use support::Store;
use support::pty::Pty;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

fn code(store: &Store, args: &[&str]) -> (i32, String, String) {
    let out = store.run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_as_docker() {
    let Some(store) = prerequisites("exit_codes_as_docker") else {
        return;
    };
    assert_eq!(
        code(&store, &["run", "--rm", "busybox", "sh", "-c", "exit 42"]).0,
        42
    );
    let (c, _, err) = code(&store, &["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains("\"nosuchcommand\": executable file not found in $PATH"),
        "{err}"
    );
    let (c, _, err) = code(&store, &["run", "--rm", "busybox", "/etc"]);
    assert_eq!(c, 126, "{err}");
    let (c, _, err) = code(&store, &["run", "--rm", "nosuchimage"]);
    assert_eq!(c, 125, "{err}");
    assert!(
        err.contains("Unable to find image 'nosuchimage:latest' locally"),
        "{err}"
    );
    let (c, _, err) = code(&store, &["run", "--bogus-flag", "busybox"]);
    assert_eq!(c, 125, "{err}");
    let (c, _, err) = code(
        &store,
        &["run", "--rm", "-u", "nobody-here", "busybox", "id"],
    );
    assert_eq!(c, 125, "{err}");
    assert!(err.contains("unable to find user nobody-here"), "{err}");
    let (c, _, err) = code(&store, &["run", "--name", "x", "busybox", "true"]);
    assert_eq!(c, 125);
    assert!(err.contains("Invalid container name (x)"), "{err}");
    // A failed start leaves the container created, with the error recorded.
    let (c, _, _) = code(&store, &["run", "--name", "broken", "busybox", "nosuch"]);
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
    let (c, _, err) = code(&store, &["create", "--name", "web", "busybox", "true"]);
    assert_eq!(c, 125);
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
        err.contains("bridge networking is not available yet"),
        "{err}"
    );
    // Labels and filters.
    store.ok(&[
        "run", "--name", "labelled", "-l", "tier=web", "busybox", "true",
    ]);
    assert_eq!(
        code(
            &store,
            &["run", "--name", "plain", "busybox", "sh", "-c", "exit 3"]
        )
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
    assert_eq!(code(&store, &["exec", "box", "sh", "-c", "exit 9"]).0, 9);
    assert_eq!(code(&store, &["exec", "box", "nosuch"]).0, 127);
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
fn volumes_cp_diff_export() {
    let Some(store) = prerequisites("volumes_cp_diff_export") else {
        return;
    };
    store.ok(&["volume", "create", "shared"]);
    store.ok(&[
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "shared:/data:ro",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let (c, _, err) = code(
        &store,
        &[
            "run",
            "--rm",
            "-v",
            "shared:/data:ro",
            "busybox",
            "touch",
            "/data/g",
        ],
    );
    assert_eq!(c, 1, "{err}");
    assert_eq!(store.ok(&["volume", "ls", "-q"]), "shared\n");
    let mountpoint = store.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "shared"]);
    assert!(
        mountpoint.trim().ends_with("volumes/shared/_data"),
        "{mountpoint}"
    );

    store.ok(&[
        "run",
        "--name",
        "work",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo new > /root/new; rm /etc/group; mkdir -p /opt/x",
    ]);
    let diff = store.ok(&["diff", "work"]);
    for line in [
        "C /etc",
        "D /etc/group",
        "A /opt",
        "A /opt/x",
        "C /root",
        "A /root/new",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line} in\n{diff}");
    }
    assert!(
        !diff.contains("/etc/hostname"),
        "berth's mount points are not changes:\n{diff}"
    );
    let host_file = store.dir.path().join("in.txt");
    std::fs::write(&host_file, "copied in\n").unwrap();
    store.ok(&["cp", host_file.to_str().unwrap(), "work:/root/"]);
    let out_dir = store.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    store.ok(&["cp", "work:/root", out_dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("root/in.txt")).unwrap(),
        "copied in\n"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("root/new")).unwrap(),
        "new\n"
    );
    // A symlink inside the container cannot lead the copy out of it.
    let tar = store.command(&["export", "work"]).output().unwrap();
    assert!(tar.status.success());
    let list = String::from_utf8_lossy(&tar.stdout);
    assert!(
        list.contains("root/new") && list.contains("bin/busybox"),
        "export holds the merged root"
    );
    let volumes_before = store.ok(&["volume", "ls", "-q"]).lines().count();
    assert_eq!(volumes_before, 2, "shared and the anonymous /anon");
    store.ok(&["rm", "-v", "work"]);
    assert_eq!(
        store.ok(&["volume", "ls", "-q"]),
        "shared\n",
        "rm -v removed the anonymous volume only"
    );
    let err = store.fails(&["volume", "rm", "nosuch"]);
    assert!(err.contains("no such volume"), "{err}");
    store.ok(&["volume", "rm", "shared"]);
    // A new volume starts with what the image has at its mount point.
    assert_eq!(
        store
            .ok(&[
                "run",
                "--rm",
                "-v",
                "etcvol:/etc",
                "busybox",
                "cat",
                "/etc/passwd"
            ])
            .lines()
            .next(),
        Some("root:x:0:0:root:/root:/bin/sh")
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "etcvol:/mnt",
            "busybox",
            "sh",
            "-c",
            "echo changed > /mnt/group; cat /mnt/passwd | head -1"
        ]),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "etcvol:/etc",
            "busybox",
            "cat",
            "/etc/group"
        ]),
        "changed\n",
        "an existing volume is not filled again"
    );
    // Owners come along.
    store.ok(&[
        "run",
        "--name",
        "own",
        "busybox",
        "sh",
        "-c",
        "mkdir /owned && touch /owned/f && chown -R 65534:65534 /owned",
    ]);
    store.ok(&["commit", "own", "owned:1"]);
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "-v",
            "ownvol:/owned",
            "owned:1",
            "stat",
            "-c",
            "%u:%g",
            "/owned",
            "/owned/f"
        ]),
        "65534:65534\n65534:65534\n"
    );
}

#[test]
fn cp_is_confined_to_the_container() {
    let Some(store) = prerequisites("cp_is_confined_to_the_container") else {
        return;
    };
    store.ok(&[
        "run",
        "--name",
        "evil",
        "busybox",
        "sh",
        "-c",
        "ln -s /etc/shadow-of-host /root/escape; ln -s / /root/rootlink",
    ]);
    let out = store.dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    // The absolute symlink resolves inside the container's root.
    let err = store.fails(&[
        "cp",
        "evil:/root/rootlink/../../../../etc/hostname-nope",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("Could not find the file /root/rootlink/../../../../etc/hostname-nope"),
        "{err}"
    );
    store.ok(&[
        "cp",
        "evil:/root/rootlink/etc/passwd",
        out.to_str().unwrap(),
    ]);
    let copied = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert!(
        copied.starts_with("root:x:0:0:root:/root:/bin/sh"),
        "the container's passwd, not the host's: {copied}"
    );
    // Copying in through a symlink writes inside the container, not on the host.
    let src = store.dir.path().join("payload");
    std::fs::write(&src, "x").unwrap();
    let target = store.dir.path().join("host-target");
    store.ok(&[
        "run",
        "--name",
        "evil2",
        "busybox",
        "ln",
        "-s",
        target.to_str().unwrap(),
        "/root/out",
    ]);
    store.ok(&["cp", src.to_str().unwrap(), "evil2:/root/out"]);
    assert!(
        !target.exists(),
        "cp followed a container symlink onto the host"
    );
}

#[test]
fn many_layers_beyond_the_mount_option_limit() {
    let Some(store) = prerequisites("many_layers_beyond_the_mount_option_limit") else {
        return;
    };
    let Some(base) = support::busybox_tar() else {
        return;
    };
    // 150 layers over busybox: their directories' paths alone are over the
    // one page a classic `lowerdir=a:b:…` mount option may take.
    let mut layers = vec![base];
    layers.extend((0..150).map(|i| support::small_layer(&i.to_string())));
    let archive = support::docker_archive(&[support::TestImage::new(layers, "many:layers")]);
    let out = store.load_bytes(&archive);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = store.ok(&[
        "run",
        "--rm",
        "many:layers",
        "sh",
        "-c",
        "cat /etc/motd; ls / | grep -c '^data-'",
    ]);
    assert_eq!(
        shown, "layer 149\n150\n",
        "the top layer wins and every layer is there"
    );
}

#[test]
fn commit_options_and_determinism() {
    let Some(store) = prerequisites("commit_options_and_determinism") else {
        return;
    };
    store.ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "mkdir /app; echo v1 > /app/v; rm /etc/group",
    ]);
    let a = store.ok(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "first",
        "-c",
        "CMD [\"cat\", \"/app/v\"]",
        "src",
        "app:1",
    ]);
    let b = store.ok(&["commit", "src", "app:2"]);
    assert_ne!(a, b, "different configs (author, message, time)");
    let layers = |r: &str| store.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", r]);
    assert_eq!(
        layers("app:1"),
        layers("app:2"),
        "same content, same layer digest"
    );
    assert_eq!(
        store.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}",
            "app:1"
        ]),
        "Ann <ann@example.com>|first|[\"cat\",\"/app/v\"]\n"
    );
    assert_eq!(store.ok(&["run", "--rm", "app:1"]), "v1\n");
    let (c, _, _) = code(&store, &["run", "--rm", "app:2", "cat", "/etc/group"]);
    assert_eq!(c, 1, "the deletion was committed as a whiteout");
    let history = store.ok(&["history", "--format", "{{.Comment}}", "app:1"]);
    assert!(history.starts_with("first\n"), "{history}");
    let err = store.fails(&["rmi", "busybox"]);
    assert!(
        err.contains("container") && err.contains("is using its referenced image"),
        "{err}"
    );
}

#[test]
fn init_reaps_and_forwards_signals() {
    let test = "init_reaps_and_forwards_signals";
    // The init runs inside busybox: it must be a static build of berth (the
    // one scripts/build-release.sh makes, as CI's quickstart does).
    let static_berth = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/x86_64-unknown-linux-gnu/release/berth");
    if !static_berth.is_file() {
        return support::skip(test, "no static berth build (run scripts/build-release.sh)");
    }
    let Some(store) = prerequisites(test) else {
        return;
    };
    let dynamic = store.run(&["run", "--rm", "--init", "busybox", "true"]);
    let err = String::from_utf8_lossy(&dynamic.stderr);
    assert!(
        dynamic.status.code() == Some(125) && err.contains("is dynamically linked"),
        "the test binary is dynamic, and --init says why it cannot use it: {err}"
    );
    let code = |args: &[&str]| {
        let out = store
            .command(args)
            .env("BERTH_INIT_BINARY", &static_berth)
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
