//! Over 800 lines on purpose: one table of cases run once against each
//! engine (a private dockerd starts in seconds, so every case shares it),
//! and the counts it prints are the figures; split, each part
//! would start its own dockerd.
//!
//! Differential, table-driven: `run` flags beyond the seed's (namespaces,
//! groups, sysctls, OOM, block I/O, device rules, logging, volumes-from,
//! attach, cidfile, …), usage errors and exit codes, each run by the docker
//! CLI v28 against a private dockerd and by berth on the same busybox
//! image; stdout and exit codes must match (stderr where its words are the
//! interface). Root only; needs dockerd (apt-get install docker.io).
//!
//! Normalised before comparing: which namespaces are the host's (each
//! side's links are compared with this process's), container IDs.

mod support;

use std::process::{Command, Output};

use support::Store;
use support::differential::{Cli, Step, step};
use support::dockerd::Dockerd;

/// Namespace links printed by a container, as "host" or "private".
fn host_or_private((out, code): Step) -> Step {
    let shown = out
        .lines()
        .map(|l| {
            let (kind, link) = l.split_once(' ').unwrap_or((l, ""));
            let ours = std::fs::read_link(format!("/proc/self/ns/{kind}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{kind} {}", if ours == link { "host" } else { "private" })
        })
        .collect::<Vec<_>>()
        .join("\n");
    (shown, code)
}

const NAMESPACES: &str =
    "for n in cgroup ipc pid uts; do echo $n $(readlink /proc/self/ns/$n); done";

/// A block device of this host, for the throttling flags.
fn block_device() -> String {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| std::path::Path::new("/dev").join(n).exists())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    format!(
        "/dev/{}",
        names.first().expect("a block device in /sys/block")
    )
}

/// Every case: name and what it recorded.
fn cases(cli: &dyn Cli, dir: &std::path::Path) -> Vec<(String, Step)> {
    let mut log: Vec<(String, Step)> = Vec::new();
    let run = |flags: &[&str], script: &str| -> Step {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        step(cli, &args)
    };
    let code_only = |(_, code): Step| (String::new(), code);

    log.push((
        "group-add".into(),
        run(
            &[
                "--group-add",
                "1234",
                "--group-add",
                "nobody",
                "-u",
                "nobody",
            ],
            "id",
        ),
    ));
    log.push((
        "group-add unknown".into(),
        code_only(run(&["--group-add", "nosuchgroup"], "id")),
    ));
    log.push((
        "sysctl ipc".into(),
        run(
            &[
                "--sysctl",
                "kernel.shmmax=65536",
                "--sysctl",
                "kernel.msgmax=4096",
            ],
            "cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax",
        ),
    ));
    log.push((
        "sysctl net".into(),
        run(
            &["--sysctl", "net.ipv4.ip_forward=1"],
            "cat /proc/sys/net/ipv4/ip_forward",
        ),
    ));
    log.push((
        "sysctl not allowed".into(),
        code_only(run(&["--sysctl", "kernel.hostname=x"], "true")),
    ));
    log.push((
        "oom-score-adj".into(),
        run(&["--oom-score-adj", "500"], "cat /proc/self/oom_score_adj"),
    ));
    log.push((
        "oom-score-adj out of range".into(),
        code_only(run(&["--oom-score-adj", "2000"], "true")),
    ));
    log.push((
        "default namespaces".into(),
        host_or_private(run(&[], NAMESPACES)),
    ));
    log.push((
        "ipc host".into(),
        host_or_private(run(&["--ipc", "host"], NAMESPACES)),
    ));
    log.push((
        "pid host".into(),
        host_or_private(run(&["--pid", "host"], NAMESPACES)),
    ));
    log.push((
        "uts host".into(),
        host_or_private(run(&["--uts", "host"], NAMESPACES)),
    ));
    log.push((
        "uts host hostname".into(),
        run(&["--uts", "host"], "hostname"),
    ));
    log.push((
        "cgroupns private".into(),
        host_or_private(run(&["--cgroupns", "private"], NAMESPACES)),
    ));
    log.push((
        "cgroupns host".into(),
        host_or_private(run(&["--cgroupns", "host"], NAMESPACES)),
    ));
    log.push((
        "userns host".into(),
        host_or_private(run(&["--userns", "host"], NAMESPACES)),
    ));
    log.push((
        "ipc none".into(),
        run(
            &["--ipc", "none"],
            "test -d /dev/shm && echo shm || echo no-shm",
        ),
    ));
    log.push((
        "bad ipc".into(),
        code_only(run(&["--ipc", "bogus"], "true")),
    ));
    log.push((
        "bad pid".into(),
        code_only(run(&["--pid", "bogus"], "true")),
    ));
    log.push(("memory: swappiness, oom killer".into(), run(
        &["-m", "64m", "--memory-swappiness", "10", "--oom-kill-disable"],
        "cat /sys/fs/cgroup/memory/memory.swappiness; head -1 /sys/fs/cgroup/memory/memory.oom_control",
    )));
    log.push((
        "bad swappiness".into(),
        code_only(run(&["--memory-swappiness", "200"], "true")),
    ));
    let dev = block_device();
    log.push(("block I/O throttles".into(), run(
        &[
            "--device-read-bps", &format!("{dev}:1mb"),
            "--device-write-bps", &format!("{dev}:2mb"),
            "--device-read-iops", &format!("{dev}:100"),
            "--device-write-iops", &format!("{dev}:200"),
        ],
        "cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device",
    )));
    log.push((
        "bad throttle".into(),
        code_only(run(&["--device-read-iops", &format!("{dev}:1k")], "true")),
    ));
    log.push((
        "blkio weight (discarded where unsupported)".into(),
        code_only(run(&["--blkio-weight", "300"], "true")),
    ));
    log.push((
        "device cgroup rule".into(),
        run(
            &["--device-cgroup-rule", "c 42:* rmw"],
            "grep '^c 42' /sys/fs/cgroup/devices/devices.list",
        ),
    ));
    log.push((
        "bad device cgroup rule".into(),
        code_only(run(&["--device-cgroup-rule", "bogus"], "true")),
    ));
    log.push((
        "isolation default".into(),
        run(&["--isolation", "default"], "echo ok"),
    ));
    log.push((
        "isolation hyperv".into(),
        code_only(run(&["--isolation", "hyperv"], "true")),
    ));
    log.push((
        "runtime runc".into(),
        run(&["--runtime", "runc"], "echo ok"),
    ));
    log.push((
        "storage-opt".into(),
        code_only(run(&["--storage-opt", "size=1G"], "true")),
    ));
    log.push((
        "kernel-memory (ignored)".into(),
        run(&["--kernel-memory", "10m"], "echo ok"),
    ));
    log.push((
        "dockerenv".into(),
        run(&[], "stat -c '%a %s %U' /.dockerenv"),
    ));

    // Files.
    let labels = dir.join("labels");
    std::fs::write(&labels, "# a comment\n\nfrom.file=1\nbare\n").unwrap();
    let labels = labels.to_str().unwrap();
    step(
        cli,
        &[
            "create",
            "--name",
            "lf",
            "--label-file",
            labels,
            "-l",
            "from.flag=2",
            "busybox",
            "true",
        ],
    );
    log.push((
        "label-file".into(),
        step(cli, &["inspect", "-f", "{{json .Config.Labels}}", "lf"]),
    ));
    step(cli, &["rm", "lf"]);
    log.push((
        "label-file missing".into(),
        code_only(run(&["--label-file", "/nonexistent-labels"], "true")),
    ));
    let cidfile = dir.join("cid");
    let _ = std::fs::remove_file(&cidfile);
    let cid = cidfile.to_str().unwrap();
    let (out, code) = step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--cidfile",
            cid,
            "busybox",
            "true",
        ],
    );
    let written = std::fs::read_to_string(&cidfile).unwrap_or_default();
    log.push((
        "cidfile".into(),
        ((written == out.trim()).to_string(), code),
    ));
    log.push((
        "cidfile exists".into(),
        code_only(step(
            cli,
            &["run", "--rm", "--cidfile", cid, "busybox", "true"],
        )),
    ));
    step(cli, &["rm", "-f", out.trim()]);
    let _ = std::fs::remove_file(&cidfile);

    // Logging.
    step(
        cli,
        &[
            "run",
            "--network",
            "none",
            "--name",
            "nolog",
            "--log-driver",
            "none",
            "busybox",
            "echo",
            "hi",
        ],
    );
    log.push((
        "log-driver none: logs".into(),
        code_only(step(cli, &["logs", "nolog"])),
    ));
    step(cli, &["rm", "nolog"]);
    step(
        cli,
        &[
            "create",
            "--name",
            "logopt",
            "--log-opt",
            "max-size=1k",
            "busybox",
            "true",
        ],
    );
    log.push(("log-opt max-size".into(), step(cli, &["inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}", "logopt"])));
    step(cli, &["rm", "logopt"]);
    log.push((
        "log-opt unknown".into(),
        code_only(run(&["--log-opt", "bogus=1"], "true")),
    ));
    log.push((
        "log-driver unknown".into(),
        code_only(run(&["--log-driver", "bogus"], "true")),
    ));

    // Attach to some streams only.
    let out = cli.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-a",
        "stdout",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    log.push((
        "attach stdout".into(),
        (
            format!(
                "{}|{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            out.status.code().unwrap_or(-1),
        ),
    ));
    log.push((
        "attach bad stream".into(),
        code_only(run(&["-a", "bogus"], "true")),
    ));
    log.push((
        "attach and detach".into(),
        code_only(step(cli, &["run", "-d", "-a", "stdout", "busybox", "true"])),
    ));

    // Another container's namespaces and volumes.
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "src",
            "--ipc",
            "shareable",
            "-v",
            "/data",
            "busybox",
            "sh",
            "-c",
            "echo from-src > /data/f; sleep 600",
        ],
    );
    log.push((
        "pid container:".into(),
        run(&["--pid", "container:src"], "ps -o comm | grep -c sleep"),
    ));
    let (src_ipc, _) = step(cli, &["exec", "src", "readlink", "/proc/self/ns/ipc"]);
    log.push((
        "ipc container:".into(),
        run(
            &["--ipc", "container:src"],
            &format!(
                "test \"$(readlink /proc/self/ns/ipc)\" = '{}' && echo joined",
                src_ipc.trim()
            ),
        ),
    ));
    step(
        cli,
        &["exec", "src", "sh", "-c", "echo in-shm > /dev/shm/x"],
    );
    log.push((
        "ipc container: /dev/shm".into(),
        run(
            &["--ipc", "container:src"],
            "cat /dev/shm/x 2>/dev/null || echo not-shared",
        ),
    ));
    log.push((
        "volumes-from".into(),
        run(
            &["--volumes-from", "src"],
            "cat /data/f; touch /data/g && echo writable",
        ),
    ));
    log.push((
        "volumes-from ro".into(),
        run(
            &["--volumes-from", "src:ro"],
            "cat /data/f; touch /data/g 2>/dev/null || echo read-only",
        ),
    ));
    log.push((
        "volumes-from missing".into(),
        code_only(run(&["--volumes-from", "nosuchcontainer"], "true")),
    ));
    step(cli, &["rm", "-f", "-v", "src"]);

    // exec's --env-file.
    let env_file = dir.join("env");
    std::fs::write(&env_file, "A=1\n# comment\nB=two\n").unwrap();
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "ex",
            "busybox",
            "sleep",
            "600",
        ],
    );
    log.push((
        "exec --env-file".into(),
        step(
            cli,
            &[
                "exec",
                "--env-file",
                env_file.to_str().unwrap(),
                "-e",
                "B=three",
                "ex",
                "sh",
                "-c",
                "echo $A $B",
            ],
        ),
    ));
    step(cli, &["rm", "-f", "ex"]);

    // Health checks.
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "hc",
            "--health-cmd",
            "test -e /tmp/ok",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
            "busybox",
            "sh",
            "-c",
            "touch /tmp/ok; sleep 600",
        ],
    );
    log.push((
        "health: healthy".into(),
        (wait_health(cli, "hc", "healthy"), 0),
    ));
    log.push((
        "health: config".into(),
        step(
            cli,
            &["inspect", "-f", "{{json .Config.Healthcheck}}", "hc"],
        ),
    ));
    log.push((
        "health: ps".into(),
        (
            step(
                cli,
                &["ps", "--format", "{{.Status}}", "--filter", "name=^hc$"],
            )
            .0
            .contains("(healthy)")
            .to_string(),
            0,
        ),
    ));
    step(cli, &["exec", "hc", "rm", "/tmp/ok"]);
    log.push((
        "health: unhealthy".into(),
        (wait_health(cli, "hc", "unhealthy"), 0),
    ));
    log.push((
        "health: filter".into(),
        step(
            cli,
            &[
                "ps",
                "--filter",
                "health=unhealthy",
                "--format",
                "{{.Names}}",
            ],
        ),
    ));
    log.push(("health: streak".into(), step(cli, &["inspect", "-f", "{{if ge .State.Health.FailingStreak 2}}streak{{end}} {{(index .State.Health.Log 0).ExitCode}}", "hc"])));
    step(cli, &["rm", "-f", "hc"]);
    log.push((
        "health: none".into(),
        step(
            cli,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--no-healthcheck",
                "busybox",
                "true",
            ],
        ),
    ));
    log.push((
        "health: bad interval".into(),
        code_only(run(&["--health-interval", "5"], "true")),
    ));
    log.push((
        "health: conflict".into(),
        code_only(run(&["--no-healthcheck", "--health-cmd", "true"], "true")),
    ));

    // Removal of what is not there.
    log.push((
        "rm -f absent".into(),
        code_only(step(cli, &["rm", "-f", "nosuchcontainer"])),
    ));
    log.push((
        "rmi -f absent".into(),
        code_only(step(cli, &["rmi", "-f", "nosuchimage"])),
    ));
    log.push((
        "rm absent".into(),
        code_only(step(cli, &["rm", "nosuchcontainer"])),
    ));

    // Volumes of the local driver with options, and volume filters.
    let bind_src = dir.join("bindsrc");
    std::fs::create_dir_all(&bind_src).unwrap();
    std::fs::write(bind_src.join("f"), "from the host\n").unwrap();
    let bind_device = format!("device={}", bind_src.display());
    step(
        cli,
        &[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=1m,uid=1000",
            "tv",
        ],
    );
    step(
        cli,
        &[
            "volume",
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &bind_device,
            "bv",
        ],
    );
    step(cli, &["volume", "create", "--label", "a=1", "lv"]);
    log.push((
        "volume -o: inspect".into(),
        step(
            cli,
            &["volume", "inspect", "tv", "--format", "{{json .Options}}"],
        ),
    ));
    log.push((
        "volume -o: tmpfs and bind".into(),
        run(
            &["-v", "tv:/t", "-v", "bv:/b"],
            "df -k /t | tail -1 | awk '{print $2}'; stat -c %u /t; cat /b/f; echo x > /b/g",
        ),
    ));
    log.push((
        "volume -o: bind wrote to the host".into(),
        (
            std::fs::read_to_string(bind_src.join("g")).unwrap_or_default(),
            0,
        ),
    ));
    log.push((
        "volume -o: bad key".into(),
        code_only(step(cli, &["volume", "create", "-o", "bogus=1", "xv"])),
    ));
    for filter in [
        "label=a=1",
        "label=a",
        "label=b",
        "name=tv",
        "dangling=true",
    ] {
        log.push((
            format!("volume ls --filter {filter}"),
            step(cli, &["volume", "ls", "-q", "--filter", filter]),
        ));
    }
    step(cli, &["volume", "rm", "tv", "bv", "lv"]);

    // cp as tar streams, and -L.
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "cpx",
            "busybox",
            "sh",
            "-c",
            "echo hi > /f; ln -s /f /l; mkdir /d; echo a > /d/a; sleep 600",
        ],
    );
    let listing = |args: &[&str]| -> Step {
        let out = cli.run(args);
        let names = tar_listing(&out.stdout);
        (names, out.status.code().unwrap_or(-1))
    };
    for (what, args) in [
        ("cp C:file -", vec!["cp", "cpx:/f", "-"]),
        ("cp -L C:link -", vec!["cp", "-L", "cpx:/l", "-"]),
        ("cp C:link -", vec!["cp", "cpx:/l", "-"]),
        ("cp C:dir -", vec!["cp", "cpx:/d", "-"]),
    ] {
        // The container's file system is made at its start: wait for it.
        for _ in 0..50 {
            if step(cli, &["exec", "cpx", "test", "-e", "/d/a"]).1 == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        log.push((what.into(), listing(&args)));
    }
    let tar_in = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o640);
        h.set_cksum();
        b.append_data(&mut h, "in", &b"data\n"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let put = support::run_with_stdin(cli.command(&["cp", "-", "cpx:/tmp"]), &tar_in);
    log.push((
        "cp - C:dir".into(),
        (String::new(), put.status.code().unwrap_or(-1)),
    ));
    log.push((
        "cp - C:dir wrote".into(),
        step(cli, &["exec", "cpx", "stat", "-c", "%a %s", "/tmp/in"]),
    ));
    let put = support::run_with_stdin(cli.command(&["cp", "-", "cpx:/f"]), &tar_in);
    log.push((
        "cp - C:file".into(),
        (String::new(), put.status.code().unwrap_or(-1)),
    ));
    let out = dir.join("cp-out");
    let _ = std::fs::remove_file(&out);
    step(cli, &["cp", "-L", "cpx:/l", out.to_str().unwrap()]);
    log.push((
        "cp -L C:link HOST".into(),
        (std::fs::read_to_string(&out).unwrap_or_default(), 0),
    ));
    step(cli, &["rm", "-f", "cpx"]);

    // system df -v: its sections and their columns, as docker lays them out.
    let (df, code) = step(cli, &["system", "df", "-v"]);
    let layout: Vec<String> = df
        .lines()
        .filter(|l| {
            l.ends_with(':')
                || l.starts_with("Build cache usage")
                || ["REPOSITORY", "CONTAINER ID", "VOLUME NAME", "CACHE ID"]
                    .iter()
                    .any(|h| l.starts_with(h))
        })
        .map(|l| {
            if l.starts_with("Build cache usage") {
                "Build cache usage".to_string()
            } else {
                l.split_whitespace().collect::<Vec<_>>().join(" ")
            }
        })
        .collect();
    log.push(("system df -v layout".into(), (layout.join("\n"), code)));

    // update of the memory swappiness of a running container.
    step(
        cli,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "upd",
            "-m",
            "64m",
            "busybox",
            "sleep",
            "600",
        ],
    );
    log.push((
        "update --memory-swappiness".into(),
        code_only(step(cli, &["update", "--memory-swappiness", "20", "upd"])),
    ));
    log.push((
        "update --memory-swappiness applied".into(),
        step(
            cli,
            &[
                "exec",
                "upd",
                "cat",
                "/sys/fs/cgroup/memory/memory.swappiness",
            ],
        ),
    ));
    step(cli, &["rm", "-f", "upd"]);

    // inspect: HostConfig's keys as docker's.
    step(
        cli,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "keys",
            "busybox",
            "true",
        ],
    );
    let (host, code) = step(cli, &["inspect", "-f", "{{json .HostConfig}}", "keys"]);
    let keys: Vec<String> = serde_json::from_str::<serde_json::Value>(&host)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .map(|mut k: Vec<String>| {
            k.sort();
            k
        })
        .unwrap_or_default();
    log.push(("inspect HostConfig keys".into(), (keys.join(" "), code)));
    step(cli, &["rm", "keys"]);

    // info: docker's layout, key by key (values differ: other engines).
    let (info, code) = step(cli, &["info"]);
    // Only docker's: its components and storage driver details, its
    // default insecure registry range; only berth's: what it does to the
    // host's networking, and its root's name.
    const ONE_SIDE: &[&str] = &[
        "containerd version",
        "runc version",
        "init version",
        "Docker Root Dir",
        "Backing Filesystem",
        "Supports d_type",
        "Native Overlay Diff",
        "userxattr",
        "Insecure Registries",
        "127.0.0.0/8",
        "Default Bridge",
        "IPv4 Forwarding",
        "Berth Root Dir",
        "Debug Mode",
    ];
    let keys: Vec<String> = info
        .lines()
        .skip_while(|l| !l.starts_with("Server:"))
        .filter_map(|l| {
            let t = l.trim();
            let key = t.split_once(':').map_or(t, |(k, _)| k).trim();
            (!key.is_empty() && !ONE_SIDE.contains(&key)).then(|| key.to_string())
        })
        .collect();
    log.push(("info layout".into(), (keys.join("\n"), code)));

    // ps filters.
    step(
        cli,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "f1",
            "-v",
            "fvol:/data",
            "--expose",
            "80",
            "--expose",
            "53/udp",
            "busybox",
            "true",
        ],
    );
    step(
        cli,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "f2",
            "busybox",
            "true",
        ],
    );
    step(
        cli,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "f3",
            "busybox",
            "true",
        ],
    );
    for filter in [
        "before=f3",
        "since=f1",
        "volume=fvol",
        "volume=/data",
        "expose=80",
        "expose=53/udp",
        "expose=1-100",
        "expose=8000-9000",
        "network=none",
        "health=none",
        "is-task=false",
        "is-task=true",
        "name=^f[12]$",
        "publish=80",
    ] {
        log.push((
            format!("ps --filter {filter}"),
            step(
                cli,
                &[
                    "ps",
                    "-a",
                    "--filter",
                    "name=^f[0-9]$",
                    "--filter",
                    filter,
                    "--format",
                    "{{.Names}}",
                ],
            ),
        ));
    }
    log.push((
        "ps bad filter".into(),
        code_only(step(cli, &["ps", "--filter", "health=bogus"])),
    ));
    step(cli, &["rm", "-v", "f1", "f2", "f3"]);
    step(cli, &["volume", "rm", "fvol"]);

    // rmi -f of an image only a stopped container uses.
    step(
        cli,
        &[
            "run",
            "--network",
            "none",
            "--name",
            "mk",
            "busybox",
            "touch",
            "/solo",
        ],
    );
    let (solo, _) = step(cli, &["commit", "mk", "solo:1"]);
    let solo_short: String = solo
        .trim()
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    step(cli, &["rm", "mk"]);
    step(
        cli,
        &[
            "create",
            "--network",
            "none",
            "--name",
            "user",
            "solo:1",
            "ls",
            "/solo",
        ],
    );
    let hide = |(out, code): Step| {
        (
            out.replace(solo.trim(), "SOLO")
                .replace(&solo_short, "SOLO"),
            code,
        )
    };
    log.push((
        "rmi of a used image".into(),
        code_only(step(cli, &["rmi", "solo:1"])),
    ));
    log.push((
        "rmi -f of a used image".into(),
        hide(step(cli, &["rmi", "-f", "solo:1"])),
    ));
    log.push((
        "rmi -f: images -a".into(),
        step(
            cli,
            &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
    ));
    log.push((
        "rmi -f: inspect".into(),
        code_only(step(cli, &["image", "inspect", solo.trim()])),
    ));
    log.push((
        "rmi -f: ps shows the ID".into(),
        hide(step(
            cli,
            &[
                "ps",
                "-a",
                "--filter",
                "name=^user$",
                "--format",
                "{{.Image}}",
            ],
        )),
    ));
    log.push((
        "rmi -f: the container still starts".into(),
        step(cli, &["start", "-a", "user"]),
    ));
    step(cli, &["rm", "user"]);
    log.push((
        "rmi -f: gone with its container".into(),
        step(
            cli,
            &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
    ));

    // Image lineage: a commit's parent (last: it untags busybox).
    let (base, _) = step(cli, &["images", "-q", "--no-trunc", "busybox"]);
    let base = base.trim().to_string();
    step(
        cli,
        &[
            "run",
            "--network",
            "none",
            "--name",
            "lineage",
            "busybox",
            "touch",
            "/x",
        ],
    );
    let (child, _) = step(cli, &["commit", "lineage", "child:1"]);
    let child = child.trim().to_string();
    step(cli, &["rm", "lineage"]);
    let names = |(out, code): Step| -> Step {
        let short = |id: &str| {
            id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        };
        (
            out.replace(&child, "CHILD")
                .replace(&short(&child), "CHILD")
                .replace(&base, "BASE")
                .replace(&short(&base), "BASE"),
            code,
        )
    };
    log.push((
        "lineage: parent".into(),
        names(step(cli, &["inspect", "-f", "{{.Parent}}", "child:1"])),
    ));
    log.push((
        "lineage: history".into(),
        names(step(cli, &["history", "--format", "{{.ID}}", "child:1"])),
    ));
    log.push((
        "lineage: rmi parent by ID".into(),
        code_only(step(cli, &["rmi", &base])),
    ));
    log.push((
        "lineage: rmi parent by ID, forced".into(),
        code_only(step(cli, &["rmi", "-f", &base])),
    ));
    step(cli, &["tag", "busybox", "bb2"]);
    log.push((
        "lineage: untag one of two names".into(),
        step(cli, &["rmi", "bb2"]),
    ));
    log.push((
        "lineage: untag the last name".into(),
        step(cli, &["rmi", "busybox"]),
    ));
    log.push((
        "lineage: images".into(),
        step(cli, &["images", "--format", "{{.Repository}}:{{.Tag}}"]),
    ));
    log.push((
        "lineage: images -a".into(),
        step(
            cli,
            &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
    ));
    log.push((
        "lineage: dangling".into(),
        step(cli, &["images", "-f", "dangling=true", "-q"]),
    ));
    let (out, code) = step(cli, &["rmi", "child:1"]);
    let deleted_base = out.contains(base.as_str());
    log.push((
        "lineage: the last child takes its parent".into(),
        (
            format!("{} {deleted_base}", out.lines().next().unwrap_or_default()),
            code,
        ),
    ));
    log.push((
        "lineage: nothing left".into(),
        step(cli, &["images", "-a", "-q"]),
    ));
    log
}

/// A tar stream's entries as "MODE NAME [-> TARGET]".
fn tar_listing(bytes: &[u8]) -> String {
    let mut archive = tar::Archive::new(bytes);
    let Ok(entries) = archive.entries() else {
        return "not a tar".into();
    };
    let mut out = String::new();
    for e in entries.flatten() {
        let h = e.header();
        let link = e
            .link_name()
            .ok()
            .flatten()
            .map(|l| format!(" -> {}", l.display()))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:o} {}{link}\n",
            h.mode().unwrap_or(0),
            e.path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ));
    }
    out
}

/// The container's health once it is `want` (or what it is after 20 s).
fn wait_health(cli: &dyn Cli, name: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _) = step(cli, &["inspect", "-f", "{{.State.Health.Status}}", name]);
        let status = status.trim().to_string();
        if status == want || std::time::Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Where berth differs on purpose, with the reason.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[
    (
        "update --memory-swappiness",
        "docker's CLI offers update --memory-swappiness only against API 1.45+ (dockerd 20.10 serves 1.41: 'unknown flag'); berth applies it",
    ),
    (
        "update --memory-swappiness applied",
        "as above: docker could not change it",
    ),
];

#[test]
fn run_flags_behave_as_in_docker() {
    let test = "run_flags_behave_as_in_docker";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = support::container_store(test) else {
        return;
    };
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);

    let theirs = cases(&docker, docker.dir());
    let ours = cases(&store, store.dir.path());
    assert_eq!(theirs.len(), ours.len());
    let mut differences = Vec::new();
    let (mut same, mut different) = (0, 0);
    for ((name, d), (_, b)) in theirs.iter().zip(&ours) {
        if let Some((_, why)) = DELIBERATELY_DIFFERENT.iter().find(|(n, _)| n == name) {
            eprintln!("deliberately different: {name} ({why}):\n  docker: {d:?}\n  berth:  {b:?}");
            // Where berth does what docker could not, it does it right.
            match name.as_str() {
                "update --memory-swappiness" => assert_eq!(b.1, 0, "{name}"),
                "update --memory-swappiness applied" => assert_eq!(b.0, "20\n", "{name}"),
                _ => {}
            }
            different += 1;
        } else if d != b {
            differences.push(format!("{name}:\n  docker: {d:?}\n  berth:  {b:?}"));
        } else {
            same += 1;
        }
    }
    eprintln!("run flags: {same} cases the same as docker, {different} deliberately different");
    assert!(
        differences.is_empty(),
        "berth differs from docker:\n{}",
        differences.join("\n")
    );
    store.assert_check_clean();
}

/// Usage errors need no daemon: the docker CLI's words (with `berth` for
/// `docker`) and exit codes, 1 for a wrong number of arguments or an
/// unknown command, 125 for a bad flag; a bare group prints its usage.
#[test]
fn usage_errors_are_docker_s() {
    let test = "usage_errors_are_docker_s";
    let Some(docker) = ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        support::skip(
            test,
            "the docker CLI is not installed (apt-get install docker.io)",
        );
        return;
    };
    let store = Store::new();
    let lines: &[&[&str]] = &[
        &["rmi"],
        &["logs"],
        &["run"],
        &["start"],
        &["exec", "c"],
        &["rename", "a"],
        &["ps", "extra"],
        &["bogus"],
        &["run", "--bogus", "busybox"],
        &["ps", "--bogus"],
        &["rm", "-x", "a"],
        &["exec", "--env-file"],
        &["volume"],
        &["network"],
    ];
    let mut differences = Vec::new();
    for args in lines {
        let theirs = Command::new(docker)
            .args(*args)
            .env("DOCKER_HOST", "unix:///nonexistent-berth-test.sock")
            .output()
            .unwrap();
        let ours = store.run(args);
        // The first line says what is wrong; the usage line and the help
        // hint follow (compared where docker's names are berth's).
        let first = |o: &Output| {
            let text = if o.stderr.is_empty() {
                &o.stdout
            } else {
                &o.stderr
            };
            String::from_utf8_lossy(text)
                .lines()
                .next()
                .unwrap_or_default()
                .replace("docker", "berth")
        };
        let d = (first(&theirs), theirs.status.code());
        let b = (first(&ours), ours.status.code());
        let hint = |o: &Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .replace("docker", "berth")
        };
        if d != b || (theirs.status.code() != Some(0) && hint(&theirs) != hint(&ours)) {
            differences.push(format!(
                "{args:?}:\n  docker: {d:?} {:?}\n  berth:  {b:?} {:?}",
                hint(&theirs),
                hint(&ours)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "usage errors differ:\n{}",
        differences.join("\n")
    );
}
