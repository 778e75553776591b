//! The engine as a library, no CLI process involved: one `Engine` shared
//! by 16 threads at once (as the API daemon's workers will share it), each
//! driving a container through create, start, exec, logs, attach, cp,
//! export, diff, commit and rm, while others pull the same image from a
//! registry;
//! then `system check` must be clean and this process unchanged (mount
//! namespace, working directory, stdio).
//!
//! Monitors are berth's real binary (`EngineOptions::binary`); the test
//! process itself never forks into a container.

mod support;

use std::io::Write;
use std::sync::Arc;

use berth_engine::containers::attach::{AttachOptions, Output};
use berth_engine::containers::commit::CommitOptions;
use berth_engine::containers::exec::{ExecRequest, ExecStartOptions};
use berth_engine::containers::logs::LogsOptions;
use berth_engine::containers::{ContainerConfig, CreateRequest, copy};
use berth_engine::images::PullOptions;
use berth_engine::progress::Silent;
use berth_engine::{Engine, EngineOptions};
use support::registry::{Registry, RegistryAuth};
use support::{BERTH, Store, container_store};

const THREADS: usize = 16;

/// An engine on `store`, with its own cgroup parent (through berth.toml,
/// which the monitors read too).
fn engine_for(store: &Store) -> Engine {
    std::fs::create_dir_all(&store.root).unwrap();
    std::fs::write(
        store.root.join("berth.toml"),
        format!(
            "[containers]\ncgroup_parent = \"{}\"\n[network]\nbridge = \"none\"\n",
            store.cgroup_parent()
        ),
    )
    .unwrap();
    Engine::open(&EngineOptions {
        root: store.root.clone(),
        run_root: store.run.clone(),
        binary: Some(BERTH.into()),
    })
    .expect("open engine")
}

/// What a process is that this test must not change.
fn process_identity() -> (String, std::path::PathBuf, Vec<String>) {
    let mnt = std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let fds = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    (mnt, std::env::current_dir().unwrap(), fds)
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Everything the engine offers for one container, from one thread.
fn container_life(engine: &Engine, i: usize, scratch: &std::path::Path) -> String {
    let name = format!("t{i}");
    let created = engine
        .create_container(&CreateRequest {
            name: Some(name.clone()),
            config: ContainerConfig {
                image: "busybox".into(),
                cmd: vec![
                    "sh".into(),
                    "-c".into(),
                    format!("echo hello-{i}; while read l; do echo got-$l; done"),
                ],
                open_stdin: true,
                ..ContainerConfig::default()
            },
            entrypoint_set: false,
            build_step: false,
        })
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    let id = created.id;
    // Attached before it starts: no output is missed.
    let mut stream = engine
        .start_attached(
            &id,
            &AttachOptions {
                stdin: true,
                stdout: true,
                stderr: true,
                size: None,
            },
        )
        .unwrap_or_else(|e| panic!("start and attach {name}: {e}"));
    let mut input = stream.input().unwrap();
    input.stdin(format!("ping{i}\n").as_bytes()).unwrap();
    let mut seen = String::new();
    while !seen.contains(&format!("got-ping{i}")) {
        match stream.next_output().expect("attach output") {
            Some(Output::Stdout(d)) => seen.push_str(&String::from_utf8_lossy(&d)),
            other => panic!("{name}: attach ended early: {other:?} after {seen:?}"),
        }
    }
    assert!(
        seen.starts_with(&format!("hello-{i}\n")),
        "{name}: {seen:?}"
    );

    // exec: output and exit code through the monitor.
    let exec_id = engine
        .create_exec(
            &id,
            &ExecRequest {
                args: vec!["sh".into(), "-c".into(), format!("echo exec-{i}; exit 7")],
                ..ExecRequest::default()
            },
        )
        .unwrap();
    let mut exec = engine
        .start_exec(&exec_id, &ExecStartOptions::default())
        .unwrap_or_else(|e| panic!("exec in {name}: {e}"));
    let mut out = String::new();
    let code = loop {
        match exec.next_output().unwrap() {
            Some(Output::Stdout(d)) => out.push_str(&String::from_utf8_lossy(&d)),
            Some(Output::Stderr(_)) => {}
            Some(Output::Exit(code)) => break code,
            None => panic!("{name}: exec stream ended without an exit code"),
        }
    };
    assert_eq!((out.as_str(), code), (format!("exec-{i}\n").as_str(), 7));
    assert_eq!(engine.exec_record(&exec_id).unwrap().exit_code, Some(7));

    // logs: what the init wrote, from the json-file log.
    let mut logged = String::new();
    engine
        .logs(&id, &LogsOptions::default(), |e| {
            logged.push_str(&String::from_utf8_lossy(&e.data));
            Ok(true)
        })
        .unwrap();
    assert!(
        logged.contains(&format!("hello-{i}")) && logged.contains(&format!("got-ping{i}")),
        "{name} logs: {logged:?}"
    );

    // cp both ways and diff, on the running container.
    let host_file = scratch.join(format!("in-{i}"));
    std::fs::write(&host_file, format!("copied-{i}")).unwrap();
    let row = engine.container(&id).unwrap();
    let root = engine.container_root(&row).unwrap();
    copy::copy_in(&host_file, &root, "/root/").unwrap();
    let back = scratch.join(format!("out-{i}"));
    copy::copy_out(&root, &format!("/root/in-{i}"), &back).unwrap();
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        format!("copied-{i}")
    );
    // export: the merged root as a tar, walked from its fd.
    let mut tar = Vec::new();
    berth_image::diff::write_layer_at(
        std::os::fd::AsFd::as_fd(&root.fd),
        std::path::Path::new(&name),
        &mut tar,
    )
    .unwrap();
    let needle = format!("root/in-{i}");
    assert!(
        tar.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "{name}: export holds the copied file"
    );
    let changes = engine.container_changes(&row).unwrap();
    assert!(
        changes.iter().any(|(_, p)| p == &format!("/root/in-{i}")),
        "{name} diff: {changes:?}"
    );

    // commit: the copied file is in the new image.
    let image = engine
        .commit_container(
            &id,
            &CommitOptions {
                reference: Some(format!("committed:{i}")),
                pause: true,
                ..CommitOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("commit {name}: {e}"));

    engine.remove_container(&id, true, true).unwrap();
    image.to_string()
}

#[test]
fn sixteen_threads_share_one_engine() {
    let Some(store) = container_store("sixteen_threads_share_one_engine") else {
        return;
    };
    let Some(registry) =
        Registry::start("sixteen_threads_share_one_engine", None, RegistryAuth::None)
    else {
        return;
    };
    // The image the pulling threads fetch, pushed by the CLI.
    let remote = format!("{}/threads/busybox:1", registry.host());
    store.ok(&["tag", "busybox", &remote]);
    store.ok(&["push", &remote]);
    store.ok(&["rmi", &remote]);

    let engine = Arc::new(engine_for(&store));
    let scratch = Arc::new(store.dir.path().join("scratch"));
    std::fs::create_dir_all(&*scratch).unwrap();
    let before = process_identity();
    let threads_before = thread_count();

    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let engine = engine.clone();
            let scratch = scratch.clone();
            let remote = remote.clone();
            std::thread::spawn(move || {
                if i % 4 == 3 {
                    // A quarter pull the same image at once.
                    let reference = berth_image::Reference::parse_normalized(&remote).unwrap();
                    let reports = engine
                        .pull(&reference, &PullOptions::default(), &Silent)
                        .unwrap_or_else(|e| panic!("pull in thread {i}: {e}"));
                    reports[0].image_id.to_string()
                } else {
                    container_life(&engine, i, &scratch)
                }
            })
        })
        .collect();
    let results: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let pulled: std::collections::BTreeSet<&String> = results
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 3)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(pulled.len(), 1, "every pull got the same image: {pulled:?}");
    // Commits of different content are different images.
    let committed: std::collections::BTreeSet<&String> = results
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 3)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(committed.len(), THREADS - THREADS / 4);

    assert!(engine.containers().unwrap().is_empty());
    let report = engine.check(false).unwrap();
    assert!(
        report.problems.is_empty(),
        "system check: {:?}",
        report.problems
    );
    // The process is as it was: no namespace joined, no cwd or stdio
    // changed, and no thread left behind by the engine.
    assert_eq!(process_identity(), before);
    assert_eq!(thread_count(), threads_before);
    let _ = std::io::stdout().flush();
    store.assert_check_clean();
}
