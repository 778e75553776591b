//! The seed's Docker session, verbatim with `berth` in place of `docker`:
//! images, run, ps, an interactive shell through a real pty, commit, a
//! second shell that sees what the first wrote, rm, rm -f $(ps -a -q) and a
//! bind mount. Real namespaces, overlayfs and cgroups; root only.

mod support;

use std::time::Duration;

use support::Store;
use support::pty::Pty;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

/// Drives `berth run -it --name NAME IMAGE sh` through a pty: runs `script`
/// lines, then `exit CODE`; returns everything the terminal showed.
fn interactive_shell(store: &Store, name: &str, image: &str, script: &[&str], code: i32) -> String {
    let mut pty = Pty::spawn(store.command(&["run", "-it", "--name", name, image, "sh"]));
    pty.expect("# ", Duration::from_secs(20));
    for (i, line) in script.iter().enumerate() {
        pty.send(&format!("{line}; echo step-{i}-done\n"));
        pty.expect(&format!("step-{i}-done\r\n"), Duration::from_secs(20));
    }
    pty.send(&format!("exit {code}\n"));
    assert_eq!(pty.wait(Duration::from_secs(20)), code, "{}", pty.output());
    pty.output()
}

#[test]
fn seed_session_verbatim() {
    let Some(store) = prerequisites("seed_session_verbatim") else {
        return;
    };

    let images = store.ok(&["images"]);
    assert!(
        images.starts_with("REPOSITORY   TAG       IMAGE ID"),
        "{images}"
    );
    assert!(images.contains("busybox      latest"), "{images}");

    assert_eq!(store.ok(&["run", "busybox", "echo", "hello"]), "hello\n");
    let ps = store.ok(&["ps"]);
    assert_eq!(ps.lines().count(), 1, "nothing runs:\n{ps}");
    assert!(
        ps.starts_with("CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES"),
        "{ps}"
    );
    let ps_a = store.ok(&["ps", "-a"]);
    assert_eq!(ps_a.lines().count(), 2, "{ps_a}");
    assert!(
        ps_a.contains("\"echo hello\"") && ps_a.contains("Exited (0)"),
        "{ps_a}"
    );

    let shown = interactive_shell(
        &store,
        "b1",
        "busybox",
        &["echo written-by-b1 > /root/note", "tty", "hostname"],
        0,
    );
    assert!(
        shown.contains("/dev/pts/0"),
        "the shell has a terminal:\n{shown}"
    );

    let image = store.ok(&["commit", "b1", "busybox:0.1"]);
    assert!(image.trim().starts_with("sha256:"), "{image}");
    assert!(store.ok(&["images"]).contains("busybox      0.1"));

    let shown = interactive_shell(&store, "b2", "busybox:0.1", &["cat /root/note"], 3);
    assert!(
        shown.contains("written-by-b1\r\n"),
        "b2 sees b1's file:\n{shown}"
    );

    let ps_a = store.ok(&["ps", "-a"]);
    assert!(ps_a.contains(" b1\n") && ps_a.contains(" b2\n"), "{ps_a}");
    assert!(ps_a.contains("Exited (3)"), "{ps_a}");

    assert_eq!(store.ok(&["rm", "b2"]), "b2\n");
    store.ok(&["run", "-d", "busybox", "sleep", "600"]);
    let ids = store.ok(&["ps", "-a", "-q"]);
    assert_eq!(ids.lines().count(), 3, "{ids}");
    let mut args = vec!["rm", "-f"];
    args.extend(ids.lines());
    let removed = store.ok(&args);
    assert_eq!(removed.lines().count(), 3, "{removed}");
    assert_eq!(store.ok(&["ps", "-a", "-q"]), "");

    let host = store.dir.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "from the host\n").unwrap();
    let bind = format!("{}:/tmp", host.display());
    assert_eq!(
        store.ok(&["run", "--rm", "-v", &bind, "busybox", "cat", "/tmp/file"]),
        "from the host\n"
    );
    assert_eq!(
        store.ok(&["ps", "-a", "-q"]),
        "",
        "--rm removed the container"
    );
    store.assert_check_clean();
}
