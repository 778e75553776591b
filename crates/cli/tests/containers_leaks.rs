//! No leaks: many `run --rm` in a row and concurrent `run -d` + `rm -f`
//! leave no mount, cgroup, process, container directory, runtime state or
//! database row behind; each is counted. Root only.

mod support;

use std::path::Path;

use support::{Store, is_root, skip};

fn count_dir(path: &Path) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

fn assert_nothing_left(store: &Store) {
    assert_eq!(store.ok(&["ps", "-a", "-q"]), "", "database rows");
    assert_eq!(
        count_dir(&store.root.join("containers")),
        0,
        "container directories"
    );
    let runtime_state = std::fs::read_dir(store.run.join("runtime"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name() != ".seccomp-cache")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(runtime_state, 0, "runtime state");
    assert_eq!(
        count_dir(&store.run.join("monitor")),
        0,
        "monitor directories"
    );
    assert_eq!(count_dir(&store.root.join("trash")), 0, "trash");
    assert_eq!(
        store.cgroup_dirs(),
        Vec::<std::path::PathBuf>::new(),
        "cgroups"
    );
    // A monitor exits just after it has recorded and removed its container
    // (which `run --rm` waited for): give the last one a moment, no more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !store.processes().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(store.processes(), Vec::<u32>::new(), "monitor processes");
    // Roots are mounted only in each monitor's own mount namespace; the
    // host's must never see one.
    assert_eq!(store.mounts(), Vec::<String>::new(), "mounts");
    store.assert_check_clean();
}

#[test]
fn two_hundred_run_rm_in_a_row() {
    if !is_root() {
        return skip("two_hundred_run_rm_in_a_row", "needs root");
    }
    let store = Store::new();
    if store.busybox("busybox:latest").is_none() {
        return;
    }
    for i in 0..200 {
        let out = store.run(&["run", "--rm", "busybox", "true"]);
        assert!(
            out.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_nothing_left(&store);
}

#[test]
fn twenty_concurrent_run_d_and_rm_f() {
    if !is_root() {
        return skip("twenty_concurrent_run_d_and_rm_f", "needs root");
    }
    let store = Store::new();
    if store.busybox("busybox:latest").is_none() {
        return;
    }
    std::thread::scope(|s| {
        for i in 0..20 {
            let store = &store;
            s.spawn(move || {
                let name = format!("c{i}");
                let out = store.run(&["run", "-d", "--name", &name, "busybox", "sleep", "600"]);
                assert!(
                    out.status.success(),
                    "{name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let out = store.run(&["rm", "-f", &name]);
                assert!(
                    out.status.success(),
                    "rm {name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            });
        }
    });
    assert_nothing_left(&store);
}
