//! Crash safety of load: abort right after every durable step (fail-points),
//! then show that the next berth process leaves `system check` clean and that
//! retrying the load succeeds.

mod support;

use std::os::unix::process::ExitStatusExt;

use berth_engine::failpoint::LOAD_FAILPOINTS;
use support::{Store, TestImage, docker_archive, gzip, small_layer};

#[test]
fn every_load_failpoint_is_recoverable() {
    // Two images sharing a layer, one gzip layer: every step of load is taken.
    let base = small_layer("base");
    let archive = docker_archive(&[
        TestImage::new(vec![base.clone(), gzip(&small_layer("top-a"))], "crash-a:1"),
        TestImage::new(vec![base, small_layer("top-b")], "crash-b:1"),
    ]);
    for failpoint in LOAD_FAILPOINTS {
        let s = Store::new();
        // Something already in the store that must survive the crash.
        support::assert_success(
            &s.load_bytes(&docker_archive(&[TestImage::new(
                vec![small_layer("kept")],
                "kept:1",
            )])),
            &["seed"],
        );
        let kept = s.image_ids();

        let mut cmd = s.command(&["load"]);
        cmd.env("BERTH_FAILPOINT", failpoint);
        let out = support::run_with_stdin(cmd, &archive);
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{failpoint}: load must abort there; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains(&format!("fail-point {failpoint} reached"))
        );

        // The next start cleans up: check is clean and nothing is left over.
        s.assert_check_clean();
        s.assert_no_leftovers();
        let ids = s.image_ids();
        for id in &kept {
            assert!(ids.contains(id), "{failpoint}: the earlier image survives");
        }
        // A crash after the image was recorded keeps it; before, nothing shows.
        let recorded = LOAD_FAILPOINTS
            .iter()
            .position(|f| *f == "load:image-recorded")
            .unwrap_or(usize::MAX);
        let reached = LOAD_FAILPOINTS
            .iter()
            .position(|f| f == failpoint)
            .unwrap_or(0);
        assert_eq!(
            ids.len(),
            if reached >= recorded { 3 } else { 1 },
            "{failpoint}: images after the crash: {ids:?}"
        );

        // Retrying succeeds and yields a whole store.
        let out = s.load_bytes(&archive);
        support::assert_success(&out, &["load retry"]);
        assert_eq!(
            s.image_ids().len(),
            3,
            "{failpoint}: retry loads both images"
        );
        s.assert_check_clean();
        s.assert_no_leftovers();
        for name in ["crash-a:1", "crash-b:1"] {
            let history = s.ok(&["history", "-q", name]);
            assert_eq!(
                history.lines().count(),
                2,
                "{failpoint}: {name} has its two layers"
            );
        }
    }
}

#[test]
fn failpoints_do_nothing_unless_armed() {
    let s = Store::new();
    let mut cmd = s.command(&["load"]);
    cmd.env("BERTH_FAILPOINT", "no-such-step");
    let out = support::run_with_stdin(
        cmd,
        &docker_archive(&[TestImage::new(vec![small_layer("n")], "n:1")]),
    );
    support::assert_success(&out, &["load"]);
    s.assert_check_clean();
}
