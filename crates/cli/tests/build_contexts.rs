//! `berth build` with hostile or unusual contexts, each refused or
//! contained with a clear error, and nothing left behind: a symlink out
//! of the context, `COPY ../x`, a `.dockerignore` that excludes the
//! Dockerfile, a 2 GiB file and a FIFO that `.dockerignore` excludes (never
//! read), a RUN that fails, a build killed with SIGKILL; contexts and
//! Dockerfiles on stdin, `-f`, `-q`, `--iidfile`, `--label`. Root only.

mod support;

use std::time::Duration;

use support::build_context::{build, context};
use support::{Store, container_store, run_with_stdin_within};

/// Nothing a build made is left: no container, no scratch directory, a
/// clean store.
fn nothing_left(store: &Store) {
    assert_eq!(
        store.ok(&["ps", "-a", "-q"]),
        "",
        "no build container is left"
    );
    let scratch: Vec<_> = std::fs::read_dir(store.root.join("build"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(scratch.is_empty(), "scratch left: {scratch:?}");
    assert!(
        store.mounts().is_empty(),
        "mounts left: {:?}",
        store.mounts()
    );
    store.assert_check_clean();
}

#[test]
fn hostile_contexts_are_refused_or_contained() {
    let Some(store) = container_store("hostile_contexts_are_refused_or_contained") else {
        return;
    };
    // A symlink out of the context is never followed out of it.
    let dir = context(&store, "escape", "FROM busybox\nCOPY escape /x\n");
    std::os::unix::fs::symlink("/etc/shadow", dir.join("escape")).unwrap();
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Dockerfile:2") && err.contains("not found"),
        "{err}"
    );
    // Copied with its directory it stays a link (to nothing of the host's).
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY . /ctx/\n").unwrap();
    let (code, _, err) = build(&store, &dir, &["-t", "linked"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        store.ok(&["run", "--rm", "linked", "readlink", "/ctx/escape"]),
        "/etc/shadow\n"
    );

    // COPY ../x: refused, naming the file, line and instruction.
    let dir = context(&store, "parent", "FROM busybox\nCOPY ../x /x\n");
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Dockerfile:2: COPY ../x /x: forbidden path outside the build context: ../x"),
        "{err}"
    );

    // A .dockerignore that excludes the Dockerfile: it is still read (as
    // BuildKit reads it), and COPY leaves it out.
    let dir = context(&store, "ignored", "FROM busybox\nCOPY . /ctx/\n");
    std::fs::write(
        dir.join(".dockerignore"),
        "Dockerfile\n.dockerignore\nbig.bin\npipe\n",
    )
    .unwrap();
    std::fs::write(dir.join("kept"), "k\n").unwrap();
    // 2 GiB that must not be read, and a FIFO that would block a reader.
    let big = std::fs::File::create(dir.join("big.bin")).unwrap();
    big.set_len(2 << 30).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = run_with_stdin_within(
        store.command(&[
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            "ignored",
            dir.to_str().unwrap(),
        ]),
        b"",
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "an excluded 2 GiB file was read: {:?}",
        started.elapsed()
    );
    assert_eq!(
        store.ok(&["run", "--rm", "ignored", "ls", "-a", "/ctx"]),
        ".\n..\nkept\n"
    );

    // A failing RUN: its output and exit code, and nothing left.
    let dir = context(
        &store,
        "failing",
        "FROM busybox\nRUN echo failing-output && exit 3\nRUN echo never\n",
    );
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("failing-output"), "{err}");
    assert!(
        err.contains("Dockerfile:2: RUN echo failing-output && exit 3: process \"/bin/sh -c echo failing-output && exit 3\" did not complete successfully: exit code: 3"),
        "{err}"
    );
    assert!(!err.contains("never"), "{err}");

    // A stage that another waits for fails: its own error is the one told.
    let dir = context(
        &store,
        "stagefail",
        "FROM busybox AS a\nRUN exit 4\nFROM busybox\nRUN sleep 0.2\nCOPY --from=a /x /x\n",
    );
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("Dockerfile:2: RUN exit 4") && last.contains("exit code: 4"),
        "{err}"
    );

    // Bad instructions and values: named.
    let dir = context(&store, "bad", "FROM busybox\nFOO bar\n");
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("Dockerfile:2") && err.contains("FOO"), "{err}");
    let dir = context(&store, "target", "FROM busybox AS a\n");
    let (_, _, err) = build(&store, &dir, &["--target", "nope"]);
    assert!(
        err.contains("target stage \"nope\" could not be found"),
        "{err}"
    );
    store.ok(&["rmi", "linked", "ignored"]);
    nothing_left(&store);
}

#[test]
fn a_killed_build_leaves_nothing_the_next_start_does_not_clean() {
    let Some(store) =
        container_store("a_killed_build_leaves_nothing_the_next_start_does_not_clean")
    else {
        return;
    };
    let dir = context(
        &store,
        "slow",
        "FROM busybox AS src\nRUN mkdir /s && echo s > /s/f\nFROM busybox\nCOPY Dockerfile /d\nRUN --mount=type=bind,from=src,source=/s,target=/s echo started && sleep 60\n",
    );
    let mut child = store
        .command(&[
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until its RUN container runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.ok(&["ps", "-q"]).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its `--mount` of the other stage is an overlay under the scratch
    // directory.
    assert!(
        store.mounts().iter().any(|m| m.contains("/build/")),
        "the RUN's mount of the other stage: {:?}",
        store.mounts()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The next berth to start (nothing_left's `ps`) removes the build's
    // container, unmounts its mount and removes its scratch directory.
    nothing_left(&store);
}

#[test]
fn contexts_and_dockerfiles_from_stdin_and_output_options() {
    let Some(store) = container_store("contexts_and_dockerfiles_from_stdin_and_output_options")
    else {
        return;
    };
    // A Dockerfile on stdin, no context.
    let out = run_with_stdin_within(
        store.command(&["build", "-q", "--network", "none", "-t", "fromstdin", "-"]),
        b"FROM busybox\nRUN echo from-stdin > /f\n",
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.starts_with("sha256:"), "-q prints the ID: {id}");
    assert_eq!(
        store.ok(&["run", "--rm", "fromstdin", "cat", "/f"]),
        "from-stdin\n"
    );

    // A tar context on stdin.
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [
        ("Dockerfile", "FROM busybox\nCOPY hello /hello\n"),
        ("hello", "from the tar\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    let archive = tar.into_inner().unwrap();
    let out = run_with_stdin_within(
        store.command(&["build", "-q", "--network", "none", "-t", "fromtar", "-"]),
        &archive,
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store.ok(&["run", "--rm", "fromtar", "cat", "/hello"]),
        "from the tar\n"
    );

    // -f elsewhere, --iidfile, --label, --target.
    let dir = context(&store, "files", "");
    std::fs::write(
        dir.join("other.Dockerfile"),
        "FROM busybox AS base\nLABEL from=file\nFROM base AS final\n",
    )
    .unwrap();
    let iid = store.dir.path().join("iid");
    let (code, _, err) = build(
        &store,
        &dir,
        &[
            "-f",
            dir.join("other.Dockerfile").to_str().unwrap(),
            "--iidfile",
            iid.to_str().unwrap(),
            "--label",
            "extra=yes",
            "-t",
            "labelled:1",
            "-t",
            "labelled:2",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(
        store.ok(&[
            "inspect",
            "-f",
            "{{.Id}} {{json .Config.Labels}}",
            "labelled:2"
        ]),
        format!("{id} {{\"extra\":\"yes\",\"from\":\"file\"}}\n")
    );
    assert!(
        err.contains("naming to docker.io/library/labelled:1 done"),
        "{err}"
    );
}

/// On a terminal (`--progress auto`), BuildKit's live view: a header with
/// the clock and the steps done, a running step's last output lines under
/// it, redrawn in place (cursor up), FINISHED at the end.
#[test]
fn a_terminal_gets_the_live_view() {
    let Some(store) = container_store("a_terminal_gets_the_live_view") else {
        return;
    };
    let dir = context(
        &store,
        "live",
        "FROM busybox\nRUN echo tick-one && sleep 1 && echo tick-two\n",
    );
    let mut pty = support::pty::Pty::spawn(store.command(&[
        "build",
        "--network",
        "none",
        "-t",
        "live",
        dir.to_str().unwrap(),
    ]));
    // The running step's output under it, while it runs.
    pty.expect(" => => # tick-one", Duration::from_secs(30));
    assert_eq!(pty.wait(Duration::from_secs(60)), 0, "{}", pty.output());
    let out = pty.output();
    assert!(out.contains("[+] Building"), "{out}");
    assert!(out.contains("(3/3) FINISHED"), "{out}");
    assert!(out.contains("\x1b[J"), "redrawn in place: {out:?}");
    let last = out.rsplit("\x1b[J").next().unwrap();
    assert!(
        last.contains("RUN echo tick-one") && !last.contains("# tick-one"),
        "the final view lists the step without its output: {last:?}"
    );
}
