//! dockerd runs containers with berth-runc (`--add-runtime berth=…`), and a
//! default Docker container is isolated: checked from inside, and compared
//! with the same container under Debian's runc.

mod support;

use support::Store;
use support::dockerd::Dockerd;
use support::probe::compile_probe;
use support::runc::berth_runc;

const ISOLATION: &str = r#"
grep -E "^(CapEff|CapBnd|CapInh|Seccomp|NoNewPrivs):" /proc/self/status
echo hostname=$(hostname)
n=$(ls /proc | grep -c '^[0-9]'); [ "$n" -le 6 ] && echo few-processes=yes || echo few-processes=no:$n
echo pid1=$(cat /proc/1/comm)
touch /sys/x 2>/dev/null && echo sys=writable || echo sys=read-only
echo kcore=$(cat /proc/kcore | wc -c) keys=$(cat /proc/keys | wc -c)
(echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq=writable || echo sysrq=denied
for fd in /proc/1/fd/*; do echo "fd $(basename $fd) -> $(readlink $fd | sed 's/[0-9][0-9]*/N/g')"; done
/probe/probe
"#;

/// A private dockerd with berth-runc added as the `berth` runtime, holding
/// the busybox image (made by berth, loaded into docker).
fn dockerd_with_busybox(test: &str) -> Option<Dockerd> {
    let add = format!("berth={}", berth_runc().display());
    let docker = Dockerd::start_with(test, &["--add-runtime", &add])?;
    let store = Store::new();
    store.busybox("busybox:latest")?;
    let archive = docker.dir().join("busybox.tar");
    store.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap_or_default(),
        "busybox",
    ]);
    docker.ok(&["load", "-i", archive.to_str().unwrap_or_default()]);
    Some(docker)
}

#[test]
fn dockerd_runs_containers_with_berth_runc() {
    if !support::runc::prerequisites("dockerd_runs_containers_with_berth_runc") {
        return;
    }
    let Some(docker) = dockerd_with_busybox("dockerd_runs_containers_with_berth_runc") else {
        return;
    };

    assert_eq!(
        docker.ok(&[
            "run",
            "--rm",
            "--runtime",
            "berth",
            "busybox",
            "echo",
            "hello"
        ]),
        "hello\n"
    );
    let out = docker.docker(&[
        "run",
        "--rm",
        "--runtime",
        "berth",
        "busybox",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));

    docker.ok(&[
        "run",
        "-d",
        "--runtime",
        "berth",
        "--name",
        "long",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        docker.ok(&["exec", "long", "sh", "-c", "echo exec-ok; cat /proc/1/comm"]),
        "exec-ok\nsleep\n"
    );
    let started = std::time::Instant::now();
    docker.ok(&["stop", "-t", "1", "long"]);
    assert!(
        started.elapsed().as_secs() < 10,
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(
        docker
            .ok(&["inspect", "-f", "{{.State.ExitCode}}", "long"])
            .trim(),
        "137"
    );
    docker.ok(&["rm", "long"]);

    let limits = docker.ok(&[
        "run",
        "--rm",
        "--runtime",
        "berth",
        "-m",
        "64m",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(limits, "67108864\n10\n");
    // The pids limit holds: a fork bomb cannot pass it.
    let bomb = docker.docker(&[
        "run",
        "--rm",
        "--runtime",
        "berth",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 30); do sleep 5 & done; wait",
    ]);
    assert!(
        String::from_utf8_lossy(&bomb.stderr).contains("can't fork") || !bomb.status.success(),
        "{}",
        String::from_utf8_lossy(&bomb.stderr)
    );
}

#[test]
fn default_container_is_isolated_like_runc() {
    if !support::runc::prerequisites("default_container_is_isolated_like_runc") {
        return;
    }
    let probe_dir = tempfile::tempdir().expect("tempdir");
    let Some(_) = compile_probe(probe_dir.path()) else {
        return;
    };
    let Some(docker) = dockerd_with_busybox("default_container_is_isolated_like_runc") else {
        return;
    };

    let volume = format!("{}:/probe:ro", probe_dir.path().display());
    let run = |runtime: &str| {
        let id = docker
            .ok(&[
                "run",
                "-d",
                "--runtime",
                runtime,
                "-v",
                &volume,
                "busybox",
                "sh",
                "-c",
                ISOLATION,
            ])
            .trim()
            .to_string();
        docker.ok(&["wait", &id]);
        let logs = docker.ok(&["logs", &id]);
        docker.ok(&["rm", &id]);
        logs.replace(&id[..12], "CONTAINER")
    };
    let berth = run("berth");
    let runc = run("runc");
    assert_eq!(
        berth, runc,
        "berth-runc and runc see the same default container"
    );
    for want in [
        "CapEff:\t00000000a80425fb",
        "CapInh:\t0000000000000000",
        "Seccomp:\t2",
        "hostname=CONTAINER",
        "sys=read-only",
        "kcore=0 keys=0",
        "sysrq=denied",
        "keyctl EPERM",
        "unshare-user EPERM",
        "mount EPERM",
        "bpf EPERM",
    ] {
        assert!(
            berth.contains(want),
            "default container: expected {want:?} in\n{berth}"
        );
    }
    assert!(
        berth.contains("few-processes=yes") && berth.contains("pid1=sh"),
        "no host pids visible:\n{berth}"
    );
    for line in berth.lines().filter(|l| l.starts_with("fd ")) {
        assert!(
            line.contains("pipe:") || line.contains("/dev/null") || line.contains("socket:"),
            "host fd visible in the container init: {line}"
        );
    }
}

#[test]
fn workdir_through_a_leaked_fd_fails() {
    if !support::runc::prerequisites("workdir_through_a_leaked_fd_fails") {
        return;
    }
    let Some(docker) = dockerd_with_busybox("workdir_through_a_leaked_fd_fails") else {
        return;
    };
    for n in 3..=12 {
        let dir = format!("/proc/self/fd/{n}");
        let out = docker.docker(&[
            "run",
            "--rm",
            "--runtime",
            "berth",
            "-w",
            &dir,
            "busybox",
            "sh",
            "-c",
            "pwd; ls ..",
        ]);
        assert!(
            !out.status.success(),
            "-w {dir} must fail; got: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("chdir") || err.contains("cwd"),
            "-w {dir}: {err}"
        );
    }
}
