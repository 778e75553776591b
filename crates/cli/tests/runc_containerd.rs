//! containerd drives berth-runc through its runc shim: `ctr run
//! --runc-binary`, with and without a terminal, `ctr task exec`, `kill`,
//! `pause` and `resume`.

mod support;

use support::Store;
use support::containerd::Containerd;
use support::runc::berth_runc;

/// Runs a command under a pty (`script`), for `ctr -t`.
fn with_pty(cmd: &std::process::Command) -> std::process::Output {
    let mut line = vec![cmd.get_program().to_string_lossy().into_owned()];
    line.extend(
        cmd.get_args()
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''"))),
    );
    support::runc::run_to_files(std::process::Command::new("script").args([
        "-qec",
        &line.join(" "),
        "/dev/null",
    ]))
}

#[test]
fn ctr_runs_tasks_with_berth_runc() {
    if !support::runc::prerequisites("ctr_runs_tasks_with_berth_runc") {
        return;
    }
    let Some(ctd) = Containerd::start("ctr_runs_tasks_with_berth_runc") else {
        return;
    };
    // The busybox image goes from berth's store into containerd's.
    let store = Store::new();
    let Some(_) = store.busybox("busybox:latest") else {
        return;
    };
    let archive = ctd.dir().join("busybox.tar");
    store.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap_or_default(),
        "busybox",
    ]);
    ctd.ok(&["images", "import", archive.to_str().unwrap_or_default()]);
    let runtime = berth_runc();
    let rt = runtime.to_str().unwrap_or_default();
    let image = "docker.io/library/busybox:latest";

    let out = ctd.ok(&[
        "run",
        "--rm",
        "--runc-binary",
        rt,
        image,
        "t1",
        "sh",
        "-c",
        "echo hello; id -u",
    ]);
    assert_eq!(out, "hello\n0\n");

    let out = with_pty(&ctd.command(&[
        "run",
        "--rm",
        "-t",
        "--runc-binary",
        rt,
        image,
        "t2",
        "sh",
        "-c",
        "tty; echo tty-ok",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/dev/pts/0") && text.contains("tty-ok"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ctd.ok(&[
        "run",
        "-d",
        "--runc-binary",
        rt,
        image,
        "t3",
        "sleep",
        "1000",
    ]);
    let out = ctd.ok(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "t3",
        "sh",
        "-c",
        "echo exec-ok; cat /proc/1/cmdline",
    ]);
    assert_eq!(out.replace('\0', " "), "exec-ok\nsleep 1000 ");
    let out = with_pty(&ctd.command(&[
        "task",
        "exec",
        "-t",
        "--exec-id",
        "e2",
        "t3",
        "sh",
        "-c",
        "tty",
    ]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let status = |ctd: &Containerd| {
        ctd.ok(&["task", "ls"])
            .lines()
            .find(|l| l.starts_with("t3"))
            .unwrap_or_default()
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    ctd.ok(&["task", "pause", "t3"]);
    assert_eq!(status(&ctd), "PAUSED");
    ctd.ok(&["task", "resume", "t3"]);
    assert_eq!(status(&ctd), "RUNNING");
    ctd.ok(&["task", "kill", "-s", "KILL", "t3"]);
    for _ in 0..100 {
        if status(&ctd) == "STOPPED" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(status(&ctd), "STOPPED");
    ctd.ok(&["task", "rm", "t3"]);
    ctd.ok(&["container", "rm", "t3"]);
    assert!(!ctd.ok(&["task", "ls"]).contains("t3"));
}
