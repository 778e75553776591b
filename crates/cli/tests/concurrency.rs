//! Several berth processes on one store at once: parallel loads, tags and
//! removals must neither fail spuriously nor corrupt anything.

mod support;

use std::process::Output;
use std::thread;

use support::{Store, TestImage, docker_archive, gzip, small_layer};

fn parallel(s: &Store, jobs: Vec<(Vec<String>, Option<Vec<u8>>)>) -> Vec<Output> {
    thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(args, input)| {
                scope.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    match input {
                        Some(bytes) => s.run_stdin(&args, bytes),
                        None => s.run(&args),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parallel_loads_tags_and_removals_keep_the_store_whole() {
    let s = Store::new();
    let base = small_layer("shared-base");
    let archives: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            docker_archive(&[TestImage::new(
                vec![base.clone(), gzip(&small_layer(&format!("top{i}")))],
                &format!("app{i}:1"),
            )])
        })
        .collect();

    // Round 1: eight loads at once, two per archive, all sharing one base layer.
    let jobs = (0..8)
        .map(|i| (args(&["load"]), Some(archives[i % 4].clone())))
        .collect();
    for out in parallel(&s, jobs) {
        support::assert_success(&out, &["parallel load"]);
    }
    assert_eq!(s.image_ids().len(), 4);
    assert_eq!(
        std::fs::read_dir(s.root.join("snapshots"))
            .map(|d| d.count())
            .unwrap_or(0),
        5,
        "the shared base is unpacked once"
    );
    s.assert_check_clean();

    // Round 2: twenty tags racing with reloads.
    let mut jobs: Vec<_> = (0..20)
        .map(|i| {
            (
                args(&["tag", &format!("app{}:1", i % 4), &format!("t{i}:x")]),
                None,
            )
        })
        .collect();
    jobs.extend((0..4).map(|i| (args(&["load"]), Some(archives[i].clone()))));
    for out in parallel(&s, jobs) {
        support::assert_success(&out, &["tag or load"]);
    }
    assert_eq!(
        s.ok(&["images", "-q"]).lines().count(),
        24,
        "4 images x (1 + 5 tags)"
    );

    // Round 3: removals racing with loads of the same images. Each command may
    // lose a race (the image it names is gone), but must not corrupt anything.
    let mut jobs: Vec<_> = (0..4)
        .map(|i| (args(&["rmi", "-f", &format!("app{i}:1")]), None))
        .collect();
    jobs.extend((0..20).map(|i| (args(&["rmi", &format!("t{i}:x")]), None)));
    jobs.extend((0..4).map(|i| (args(&["load"]), Some(archives[i].clone()))));
    for out in parallel(&s, jobs) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("No such image"),
            "unexpected failure: {stderr}"
        );
    }
    s.assert_check_clean();
    s.assert_no_leftovers();

    // Round 4: remove everything at once; the store ends empty.
    let ids = s.image_ids();
    let jobs = ids
        .iter()
        .map(|id| (args(&["rmi", "-f", id]), None))
        .collect();
    for out in parallel(&s, jobs) {
        support::assert_success(&out, &["rmi -f"]);
    }
    assert!(s.image_ids().is_empty());
    s.assert_check_clean();
    s.assert_no_leftovers();
    let blobs = std::fs::read_dir(s.root.join("content/blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(1);
    let snapshots = std::fs::read_dir(s.root.join("snapshots"))
        .map(|d| d.count())
        .unwrap_or(1);
    assert_eq!((blobs, snapshots), (0, 0), "everything collected");
}
