//! Long-lived answers of `berth daemon`: attach with `logs=1` (the log
//! replayed before the live streams, or alone with `stream=0`), and
//! followers (`logs -f`, `events`, `wait` on a condition) that end when
//! their client goes, not at the next log line or event, which may never
//! come. Real namespaces, overlayfs and cgroups; root only.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::berth_daemon::BerthDaemon;
use support::docker_py::{prerequisites, run_script};

#[test]
fn attach_with_logs_replays_the_log() {
    let test = "attach_with_logs_replays_the_log";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2"], detach=True)
c.wait(timeout=20)
# stream=0: the log alone, then the connection closes. Ten times each:
# docker-py loses bytes that arrive with the 101 head, so a replay sent
# too early shows as an occasional empty answer.
put("both", sorted({repr(c.attach(stdout=True, stderr=True, logs=True, stream=False)) for _ in range(10)}))
put("stdout_only", sorted({repr(c.attach(stdout=True, stderr=False, logs=True, stream=False)) for _ in range(10)}))
put("demuxed", c.attach(stdout=True, stderr=True, logs=True, stream=False, demux=True))

# logs=1 and stream=1 on a running container: what it printed before the
# attach, then what it prints after.
r = client.containers.run("busybox", ["sh", "-c", "echo early; sleep 3; echo late"], detach=True)
until("early in the log", lambda: b"early" in r.logs())
put("replay_then_live", b"".join(r.attach(stdout=True, stderr=True, logs=True, stream=True)))

# With a tty the replay is raw.
t = client.containers.run("busybox", ["echo", "on-a-tty"], tty=True, detach=True)
t.wait(timeout=20)
put("tty", t.attach(stdout=True, stderr=True, logs=True, stream=False))
for x in (c, r, t):
    x.remove(force=True)
"#,
    );
    assert_eq!(s["both"], json!([r"b'one\ntwo\n'"]), "{}", s.transcript);
    assert_eq!(s["stdout_only"], json!([r"b'one\n'"]), "{}", s.transcript);
    assert_eq!(s["demuxed"], r"(b'one\n', b'two\n')", "{}", s.transcript);
    assert_eq!(
        s["replay_then_live"], r"b'early\nlate\n'",
        "{}",
        s.transcript
    );
    assert_eq!(s["tty"], r"b'on-a-tty\r\n'", "{}", s.transcript);
    store.assert_check_clean();
}

/// The daemon's open inotify instances (one per running follower) and
/// eventfds (one per follower's cancel, beside the runtime's own).
fn follower_fds(pid: u32) -> (usize, usize) {
    let mut counts = (0, 0);
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in dir.flatten() {
            match std::fs::read_link(entry.path()) {
                Ok(l) if l.to_string_lossy() == "anon_inode:inotify" => counts.0 += 1,
                Ok(l) if l.to_string_lossy() == "anon_inode:[eventfd]" => counts.1 += 1,
                _ => {}
            }
        }
    }
    counts
}

fn wait_until(
    what: &str,
    pid: u32,
    baseline: (usize, usize),
    want: impl Fn((usize, usize)) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = follower_fds(pid);
    while !want(seen) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: inotify and eventfd counts are {seen:?}, \
             {:?} before",
            baseline
        );
        std::thread::sleep(Duration::from_millis(50));
        seen = follower_fds(pid);
    }
}

#[test]
fn gone_clients_end_their_followers() {
    let test = "gone_clients_end_their_followers";
    let Some(store) = support::container_store(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let pid = daemon.pid().expect("daemon pid");
    // Silent from now on: nothing the followers wait for will happen.
    daemon.ok(&["run", "-d", "--name", "quiet", "busybox", "sleep", "600"]);
    let baseline = follower_fds(pid);

    let spawn = |args: &[&str]| -> Child {
        daemon
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn docker")
    };
    let mut logs = spawn(&["logs", "-f", "quiet"]);
    let mut events = spawn(&["events"]);
    // `wait` for the next exit, on a raw connection the test drops.
    let mut waiter = UnixStream::connect(daemon.socket()).expect("connect");
    waiter
        .write_all(
            b"POST /containers/quiet/wait?condition=next-exit HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
        )
        .expect("send wait");
    waiter
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = [0u8; 12];
    waiter.read_exact(&mut head).expect("wait's status line");
    assert_eq!(&head, b"HTTP/1.1 200", "wait answers its headers at once");

    wait_until("three followers", pid, baseline, |(i, _)| {
        i >= baseline.0 + 3
    });
    for c in [&mut logs, &mut events] {
        let _ = c.kill();
        let _ = c.wait();
    }
    drop(waiter);
    // Each follower ended (its inotify and cancel closed) without any
    // log line or event to wake it.
    wait_until("the followers to end", pid, baseline, |(i, e)| {
        i == baseline.0 && e <= baseline.1
    });

    // The daemon is unharmed and the container never noticed.
    let state = daemon.ok(&["inspect", "-f", "{{.State.Status}}", "quiet"]);
    assert_eq!(state.trim(), "running");
    daemon.ok(&["rm", "-f", "quiet"]);
    store.assert_check_clean();
}
