//! `berth daemon` driven by the real docker CLI (v28) over its unix socket,
//! on the same store as the daemonless berth CLI: the seed's session, a
//! pull from a local registry, containers both CLIs see, logs/exec/wait/
//! inspect, containers that outlive a kill -9 of the daemon, and API
//! version negotiation and error statuses over raw HTTP. Each test has its
//! own store and its own daemon. Real namespaces, overlayfs and cgroups;
//! root only.

mod support;

use std::time::{Duration, Instant};

use support::Store;
use support::berth_daemon::{BerthDaemon, header};
use support::pty::Pty;
use support::registry::{Registry, RegistryAuth};

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Whether `REPOSITORY TAG` is a row of an `images` table.
fn has_image(images: &str, repo: &str, tag: &str) -> bool {
    images.lines().skip(1).any(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some(repo) && words.next() == Some(tag)
    })
}

/// The row of a `ps` table whose NAMES column is `name`.
fn ps_row<'t>(ps: &'t str, name: &str) -> Option<&'t str> {
    ps.lines()
        .skip(1)
        .find(|l| l.split_whitespace().last() == Some(name))
}

/// The NAMES column of a `ps` table.
fn ps_names(ps: &str) -> Vec<&str> {
    ps.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last())
        .collect()
}

/// Sorted lines (IDs from `ps -q`).
fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[test]
fn seed_session_through_docker_cli() {
    let test = "seed_session_through_docker_cli";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    let images = daemon.ok(&["images"]);
    assert!(images.starts_with("REPOSITORY"), "{images}");
    assert!(has_image(&images, "busybox", "latest"), "{images}");

    let (code, out, err) = daemon.outcome(&["run", "busybox", "echo", "hello"]);
    assert_eq!((code, out.as_str()), (0, "hello\n"), "stderr: {err}");

    let mut pty = Pty::spawn(daemon.command(&["run", "-it", "--name", "b1", "busybox", "sh"]));
    pty.expect("# ", Duration::from_secs(20));
    pty.send("echo hi-from-pty; tty\n");
    pty.expect("hi-from-pty\r\n", Duration::from_secs(20));
    pty.expect("/dev/pts/", Duration::from_secs(20));
    pty.send("exit 3\n");
    assert_eq!(pty.wait(Duration::from_secs(20)), 3, "{}", pty.output());

    let ps = daemon.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE"), "{ps}");
    assert_eq!(ps.lines().count(), 1, "nothing runs:\n{ps}");
    let ps_a = daemon.ok(&["ps", "-a"]);
    assert!(ps_a.starts_with("CONTAINER ID   IMAGE"), "{ps_a}");
    assert_eq!(ps_a.lines().count(), 3, "{ps_a}");
    let b1 = ps_row(&ps_a, "b1").unwrap_or_else(|| panic!("no b1 row:\n{ps_a}"));
    assert!(b1.contains("Exited (3)"), "{ps_a}");
    assert!(ps_a.contains("Exited (0)"), "the echo container:\n{ps_a}");

    let docker_ids = daemon.ok(&["ps", "-a", "-q"]);
    assert!(
        docker_ids
            .lines()
            .all(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{docker_ids}"
    );
    assert_eq!(
        sorted_lines(&docker_ids),
        sorted_lines(&store.ok(&["ps", "-a", "-q"])),
        "docker and berth list the same containers"
    );

    let image = daemon.ok(&["commit", "b1", "busybox:0.1"]);
    assert!(image.trim().starts_with("sha256:"), "{image}");
    let images = daemon.ok(&["images"]);
    assert!(has_image(&images, "busybox", "0.1"), "{images}");

    let host = store.dir().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("x"), "from the host\n").unwrap();
    let bind = format!("{}:/ctr", host.display());
    assert_eq!(
        daemon.ok(&["run", "-v", &bind, "busybox", "cat", "/ctr/x"]),
        "from the host\n"
    );

    assert_eq!(daemon.ok(&["rm", "b1"]), "b1\n");
    let id = daemon.ok(&["run", "-d", "--name", "long", "busybox", "sleep", "1000"]);
    let id = id.trim();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(ps_row(&daemon.ok(&["ps"]), "long").is_some());
    assert_eq!(daemon.ok(&["rm", "-f", "long"]), "long\n");
    assert!(ps_row(&daemon.ok(&["ps", "-a"]), "long").is_none());

    let outcome = daemon.outcome(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(
        outcome,
        (7, "out\n".to_string(), "err\n".to_string()),
        "stdout and stderr kept apart, exit code passed on"
    );
    store.assert_check_clean();
}

#[test]
fn pull_from_local_registry_through_docker_cli() {
    let test = "pull_from_local_registry_through_docker_cli";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(registry) = Registry::start(test, None, RegistryAuth::None) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let repo = format!("{}/lib/busybox", registry.host());
    let image = format!("{repo}:1");
    store.ok(&["tag", "busybox", &image]);
    store.ok(&["push", &image]);
    // Untagged again, so the pull is what makes the tag.
    store.ok(&["rmi", &image]);
    assert!(!has_image(&daemon.ok(&["images"]), &repo, "1"));

    let pulled = daemon.ok(&["pull", &image]);
    assert!(
        pulled.lines().any(|l| {
            l.contains("Status: Downloaded newer image") || l.contains("Image is up to date")
        }),
        "{pulled}"
    );
    let images = daemon.ok(&["images"]);
    assert!(has_image(&images, &repo, "1"), "{images}");
    assert_eq!(
        daemon.ok(&["run", "--rm", &image, "echo", "pulled"]),
        "pulled\n"
    );
    store.assert_check_clean();
}

#[test]
fn berth_and_docker_cli_see_the_same_containers() {
    let test = "berth_and_docker_cli_see_the_same_containers";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    store.ok(&[
        "run",
        "-d",
        "--name",
        "made-by-berth",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ps = daemon.ok(&["ps"]);
    assert!(ps_names(&ps).contains(&"made-by-berth"), "{ps}");
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Running}}", "made-by-berth"]),
        "true\n"
    );

    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "made-by-docker",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ps = store.ok(&["ps"]);
    assert!(ps_names(&ps).contains(&"made-by-docker"), "{ps}");

    assert_eq!(
        daemon.ok(&["stop", "-t", "1", "made-by-berth"]),
        "made-by-berth\n"
    );
    let ps_a = store.ok(&["ps", "-a"]);
    let row =
        ps_row(&ps_a, "made-by-berth").unwrap_or_else(|| panic!("no made-by-berth row:\n{ps_a}"));
    assert!(row.contains("Exited ("), "{ps_a}");
    let ps = daemon.ok(&["ps"]);
    assert_eq!(ps_names(&ps), ["made-by-docker"], "{ps}");

    assert_eq!(daemon.ok(&["rm", "-f", "made-by-berth"]), "made-by-berth\n");
    assert_eq!(
        store.ok(&["rm", "-f", "made-by-docker"]),
        "made-by-docker\n"
    );
    assert_eq!(daemon.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(store.ok(&["ps", "-a", "-q"]), "");
    store.assert_check_clean();
}

#[test]
fn logs_exec_wait_inspect_through_docker_cli() {
    let test = "logs_exec_wait_inspect_through_docker_cli";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "lg",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1000",
    ]);
    wait_for("`one` in the logs", || {
        !daemon.ok(&["logs", "lg"]).is_empty()
    });
    assert_eq!(daemon.ok(&["logs", "lg"]), "one\n");
    assert_eq!(daemon.ok(&["exec", "lg", "echo", "in-exec"]), "in-exec\n");
    let (code, _, err) = daemon.outcome(&["exec", "lg", "sh", "-c", "exit 5"]);
    assert_eq!(code, 5, "exec passes the exit code on; stderr: {err}");
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.Config.Image}}", "lg"]),
        "busybox\n"
    );
    assert_eq!(daemon.ok(&["kill", "lg"]), "lg\n");
    assert_eq!(daemon.ok(&["wait", "lg"]), "137\n");
    assert_eq!(daemon.ok(&["rm", "lg"]), "lg\n");

    // Docker's name rule wants two characters at least.
    let (code, _, err) = daemon.outcome(&["create", "--name", "l", "busybox"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Invalid container name (l)"), "{err}");

    let (code, _, err) = daemon.outcome(&["logs", "nosuch"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No such container: nosuch"), "{err}");
    store.assert_check_clean();
}

#[test]
fn containers_outlive_a_killed_daemon() {
    let test = "containers_outlive_a_killed_daemon";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(mut daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    daemon.ok(&[
        "run", "-d", "--name", "survivor", "busybox", "sleep", "1000",
    ]);
    let pid: u32 = store
        .ok(&["inspect", "-f", "{{.State.Pid}}", "survivor"])
        .trim()
        .parse()
        .expect("a pid");
    assert!(alive(pid));

    daemon.kill9();
    assert_eq!(
        store.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "survivor running\n",
        "the container outlives the daemon"
    );
    assert!(alive(pid), "the container's process outlives the daemon");

    daemon.restart();
    let ps = daemon.ok(&["ps"]);
    let row = ps_row(&ps, "survivor").unwrap_or_else(|| panic!("no survivor row:\n{ps}"));
    assert!(row.contains(" Up "), "{ps}");
    assert_eq!(
        daemon
            .ok(&["inspect", "-f", "{{.State.Pid}}", "survivor"])
            .trim(),
        pid.to_string(),
        "the same process"
    );
    daemon.ok(&["exec", "survivor", "true"]);
    assert_eq!(daemon.ok(&["rm", "-f", "survivor"]), "survivor\n");
    wait_for("the container's process to be gone", || !alive(pid));
    assert_eq!(store.ok(&["ps", "-a", "-q"]), "");
    store.assert_check_clean();
}

/// A monitor killed while nobody asks the daemon anything: the daemon's
/// watch notices within seconds, records the exit and applies the restart
/// policy, and `docker events` shows it (die, then start).
#[test]
fn the_daemon_restarts_a_container_whose_monitor_died() {
    let test = "the_daemon_restarts_a_container_whose_monitor_died";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    daemon.ok(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--name",
        "phoenix",
        "busybox",
        "sleep",
        "1000",
    ]);
    let (init, monitor) = store.init_and_monitor("phoenix");

    let mut events = daemon
        .command(&[
            "events",
            "--filter",
            "container=phoenix",
            "--format",
            "{{.Action}}",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker events");
    let stdout = events.stdout.take().expect("events stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The subscription is live once the stream has started.
    std::thread::sleep(Duration::from_millis(500));
    let killed = std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while !(seen.contains(&"die".to_string()) && seen.contains(&"start".to_string())) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(action) => seen.push(action),
            Err(_) => break,
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    assert_eq!(
        seen,
        ["die", "start"],
        "the daemon noticed the dead monitor by itself\n{}",
        daemon.log_tail()
    );
    assert!(!alive(init), "the old init died with its monitor");
    assert_eq!(
        daemon.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "phoenix"
        ]),
        "1 running\n"
    );
    daemon.ok(&["rm", "-f", "phoenix"]);
    store.assert_check_clean();
}

#[test]
fn version_negotiation_and_errors() {
    let test = "version_negotiation_and_errors";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    let (status, headers, body) = daemon.request_full("GET", "/_ping", None);
    assert_eq!(status, 200);
    assert_eq!(body, b"OK");
    assert_eq!(header(&headers, "Api-Version"), Some("1.50"), "{headers:?}");
    assert_eq!(
        daemon.ok(&["version", "--format", "{{.Server.APIVersion}}"]),
        "1.50\n"
    );

    let (status, body) = daemon.request("GET", "/v1.99/version", None);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("is too new"), "{text}");

    let (status, body) = daemon.request("GET", "/v1.23/version", None);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("is too old"), "{text}");

    let (status, body) = daemon.request("GET", "/v1.24/version", None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let version = json(&body);
    assert!(version["ApiVersion"].is_string(), "{version}");

    let (status, body) = daemon.request("GET", "/containers/nosuch/json", None);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let error = json(&body);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("No such container: nosuch")),
        "{error}"
    );

    let (status, body) = daemon.request("POST", "/containers/create", Some(b"{".as_slice()));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(json(&body)["message"].is_string());

    let (status, body) = daemon.request("GET", "/v1.50/info", None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let info = json(&body);
    assert!(info["Containers"].is_u64(), "{info}");
}

/// The rest of an everyday session through the docker CLI: `logs -f`,
/// `exec -it`, `attach` and detach, `cp` both ways, `stats`, `events`,
/// `save | load`, volumes, `system df`/`prune`, `update`, `rename`, `top`,
/// `diff`, `export`, `pause`.
#[test]
fn wider_session_through_docker_cli() {
    let test = "wider_session_through_docker_cli";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let t0 = daemon.ok(&["version", "-f", "{{.Server.Version}}"]);
    assert!(!t0.trim().is_empty());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();

    // logs -f follows until the container ends.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo a; sleep 1; echo b",
    ]);
    let follow = daemon.ok(&["logs", "-f", "talker"]);
    assert_eq!(follow, "a\nb\n");
    assert_eq!(daemon.ok(&["wait", "talker"]), "0\n");

    // exec -it on a pty; attach and detach with ctrl-p ctrl-q.
    daemon.ok(&["run", "-dit", "--name", "shell", "busybox", "sh"]);
    let mut pty = Pty::spawn(daemon.command(&["exec", "-it", "shell", "sh"]));
    pty.expect("# ", Duration::from_secs(20));
    pty.send("echo in-exec-tty; exit 4\n");
    pty.expect("in-exec-tty", Duration::from_secs(20));
    assert_eq!(pty.wait(Duration::from_secs(20)), 4, "{}", pty.output());
    let mut pty = Pty::spawn(daemon.command(&["attach", "shell"]));
    std::thread::sleep(Duration::from_millis(300));
    pty.send("echo attached-here\n");
    pty.expect("attached-here", Duration::from_secs(20));
    pty.send("\x10\x11");
    // docker's CLI ends `attach` on a detach with this error and 1 (its
    // `run -it` with 0).
    assert_eq!(pty.wait(Duration::from_secs(20)), 1, "{}", pty.output());
    pty.expect("read escape sequence", Duration::from_secs(5));
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Running}}", "shell"]),
        "true\n",
        "detaching leaves the container running"
    );

    // cp both ways, diff, export, top, stats, pause, update, rename.
    let host = store.dir().join("cp-src");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("sub/f"), "from-host\n").unwrap();
    daemon.ok(&["cp", host.to_str().unwrap(), "shell:/tmp/in"]);
    assert_eq!(
        daemon.ok(&["exec", "shell", "cat", "/tmp/in/sub/f"]),
        "from-host\n"
    );
    let out = store.dir().join("cp-out");
    std::fs::create_dir_all(&out).unwrap();
    daemon.ok(&["cp", "shell:/tmp/in/sub/f", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("f")).unwrap(),
        "from-host\n"
    );
    let (code, _, err) = daemon.outcome(&["cp", "shell:/nosuch", out.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("Could not find the file /nosuch"), "{err}");
    let diff = daemon.ok(&["diff", "shell"]);
    assert!(diff.lines().any(|l| l == "A /tmp/in/sub/f"), "{diff}");
    let export = daemon.command(&["export", "shell"]).output().unwrap();
    assert!(export.status.success());
    let tar = String::from_utf8_lossy(&export.stdout);
    assert!(tar.contains("tmp/in/sub/f"), "export holds the new file");
    let top = daemon.ok(&["top", "shell"]);
    assert!(top.starts_with("UID"), "{top}");
    assert!(top.lines().count() >= 2, "{top}");
    let stats = daemon.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "shell",
    ]);
    assert!(stats.starts_with("shell "), "{stats}");
    daemon.ok(&["pause", "shell"]);
    assert!(
        daemon
            .ok(&["ps", "--format", "{{.Status}}"])
            .contains("(Paused)")
    );
    daemon.ok(&["unpause", "shell"]);
    daemon.ok(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "shell",
    ]);
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "shell"]),
        "67108864\n"
    );
    daemon.ok(&["rename", "shell", "shell2"]);
    assert_eq!(store.ok(&["ps", "--format", "{{.Names}}"]), "shell2\n");
    daemon.ok(&["rm", "-f", "shell2", "talker"]);

    // events saw it all, in order.
    // A second on: `until` is whole seconds, the events are not.
    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let events = daemon.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &now,
        "--filter",
        "container=talker",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    for want in ["create", "start", "die", "destroy"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }

    // save | load, volumes, system df and prune.
    let saved = daemon.command(&["save", "busybox"]).output().unwrap();
    assert!(saved.status.success());
    let loaded = support::run_with_stdin(daemon.command(&["load"]), &saved.stdout);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&loaded.stdout),
        "Loaded image: busybox:latest\n"
    );
    daemon.ok(&["volume", "create", "vol1"]);
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "-v",
            "vol1:/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/x; cat /data/x"
        ]),
        "kept\n"
    );
    assert!(store.ok(&["volume", "ls", "-q"]).contains("vol1"));
    let df = daemon.ok(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
    daemon.ok(&["run", "--name", "leftover", "busybox", "true"]);
    let prune = daemon.ok(&["system", "prune", "-f"]);
    assert!(prune.contains("Deleted Containers"), "{prune}");
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
    daemon.ok(&["volume", "rm", "vol1"]);
    store.assert_check_clean();
}

/// The run options of the CLI-parity work reach the engine through the
/// API too (the docker CLI sends them in HostConfig and Config): groups,
/// sysctls, OOM score, health checks, log drivers, volume options, and a
/// driver berth lacks refused with a 400 naming it.
#[test]
fn run_options_and_health_through_docker_cli() {
    let test = "run_options_and_health_through_docker_cli";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let out = daemon.ok(&[
        "run",
        "--rm",
        "--group-add",
        "1234",
        "--sysctl",
        "kernel.shmmax=65536",
        "--oom-score-adj",
        "300",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        "id; cat /proc/sys/kernel/shmmax /proc/self/oom_score_adj",
    ]);
    assert_eq!(
        out,
        // The primary group is among the supplementary ones, as docker's.
        "uid=65534(nobody) gid=65534(nobody) groups=1234,65534(nobody)\n65536\n300\n"
    );
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "true",
        "--health-interval",
        "200ms",
        "busybox",
        "sleep",
        "600",
    ]);
    wait_for("the container to be healthy", || {
        daemon.ok(&["inspect", "-f", "{{.State.Health.Status}}", "hc"]) == "healthy\n"
    });
    assert!(
        daemon
            .ok(&["ps", "--format", "{{.Status}}"])
            .contains("(healthy)")
    );
    assert_eq!(
        daemon.ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]),
        "hc\n"
    );
    assert_eq!(
        store.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "hc"]),
        "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":200000000}\n"
    );
    daemon.ok(&["rm", "-f", "hc"]);
    daemon.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "-v",
            "tv:/t",
            "busybox",
            "sh",
            "-c",
            "df -k /t | tail -1 | awk '{print $2}'"
        ]),
        "1024\n"
    );
    daemon.ok(&["volume", "rm", "tv"]);
    assert_eq!(
        daemon.ok(&[
            "run",
            "--rm",
            "--log-driver",
            "none",
            "busybox",
            "echo",
            "hi"
        ]),
        "hi\n"
    );
    let err = daemon.fails(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert!(
        err.contains("logging driver \"syslog\" is not available in berth"),
        "{err}"
    );
}
