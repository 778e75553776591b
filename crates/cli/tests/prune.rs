//! Prunes ask first (`[y/N]` on stdout, as docker) and keep everything on
//! anything but y; `-f` skips the question; `container prune` takes docker's
//! `until` and `label` filters; `system prune` removes stopped containers,
//! unused networks, anonymous volumes with `--volumes`, dangling (or with
//! `-a` unused) images, and says what it freed. Root only (containers).

mod support;

use support::Store;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

fn names(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = store
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn prunes_ask_and_keep_everything_unless_told_yes() {
    let Some(store) = prerequisites("prunes_ask_and_keep_everything_unless_told_yes") else {
        return;
    };
    store.ok(&["create", "--name", "stopped", "busybox", "true"]);
    store.ok(&["volume", "create", "named"]);
    for (args, warning) in [
        (
            &["container", "prune"][..],
            "WARNING! This will remove all stopped containers.\n",
        ),
        (
            &["volume", "prune", "-a"][..],
            "WARNING! This will remove all local volumes not used by at least one container.\n",
        ),
        (
            &["image", "prune", "-a"][..],
            "WARNING! This will remove all images without at least one container associated to them.\n",
        ),
    ] {
        for answer in [&b"n\n"[..], b"\n", b"nope\n", b""] {
            let out = store.run_stdin(args, answer);
            assert!(out.status.success(), "{args:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{warning}Are you sure you want to continue? [y/N] "),
                "{args:?} asks on stdout"
            );
        }
    }
    assert_eq!(names(&store), ["stopped"]);
    assert_eq!(store.ok(&["volume", "ls", "-q"]), "named\n");

    let id = store.ok(&["inspect", "-f", "{{.Id}}", "stopped"]);
    let out = store.run_stdin(&["container", "prune"], b"y\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Deleted Containers:\n{}\nTotal reclaimed space: 0B\n",
            id
        )
    );
    assert!(names(&store).is_empty());
    store.assert_check_clean();
}

#[test]
fn container_prune_filters() {
    let Some(store) = prerequisites("container_prune_filters") else {
        return;
    };
    store.ok(&[
        "create",
        "--name",
        "old",
        "--label",
        "tier=batch",
        "busybox",
        "true",
    ]);
    store.ok(&[
        "create", "--name", "keep", "--label", "tier=web", "busybox", "true",
    ]);
    store.ok(&[
        "run",
        "-d",
        "--name",
        "running",
        "--label",
        "tier=batch",
        "busybox",
        "sleep",
        "600",
    ]);

    // A bad filter changes nothing and names itself.
    let bad = store.run(&["container", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid filter 'colour'"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // Created before an hour ago: nothing.
    store.ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(names(&store), ["keep", "old", "running"]);
    // label=: the stopped batch one, never the running one.
    store.ok(&["container", "prune", "-f", "--filter", "label=tier=batch"]);
    assert_eq!(names(&store), ["keep", "running"]);
    // label!=: all but the web ones.
    store.ok(&["create", "--name", "other", "busybox", "true"]);
    store.ok(&["container", "prune", "-f", "--filter", "label!=tier=web"]);
    assert_eq!(names(&store), ["keep", "running"]);
    store.ok(&["rm", "-f", "keep", "running"]);
    store.assert_check_clean();
}

#[test]
fn system_prune_removes_what_nothing_uses() {
    let Some(store) = prerequisites("system_prune_removes_what_nothing_uses") else {
        return;
    };
    store.ok(&[
        "create", "--name", "stopped", "-v", "/anon", "busybox", "true",
    ]);
    // An image of its own that no container uses.
    store.ok(&["commit", "stopped", "spare:1"]);
    store.ok(&["run", "-d", "--name", "running", "busybox", "sleep", "600"]);
    store.ok(&["network", "create", "unused"]);
    store.ok(&["volume", "create", "named"]);

    let declined = store.run_stdin(&["system", "prune", "-a", "--volumes"], b"n\n");
    assert_eq!(
        String::from_utf8_lossy(&declined.stdout),
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(names(&store), ["running", "stopped"]);

    let out = store.ok(&["system", "prune", "-a", "--volumes", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains("\n\nDeleted Networks:\nunused\n\n"), "{out}");
    assert!(out.contains("Deleted Volumes:\n"), "{out}");
    assert!(
        out.contains("Deleted Images:\nuntagged: spare:1\n"),
        "{out}"
    );
    assert!(out.contains("\ndeleted: sha256:"), "{out}");
    assert!(out.contains("\n\nTotal reclaimed space: "), "{out}");
    assert_eq!(names(&store), ["running"]);
    // The named volume stays (anonymous ones only, as docker 23+); the
    // running container's image stays.
    assert_eq!(store.ok(&["volume", "ls", "-q"]), "named\n");
    assert_eq!(
        store.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    store.ok(&["rm", "-f", "running"]);
    store.assert_check_clean();
}
