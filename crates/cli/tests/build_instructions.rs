//! Dockerfile features the corpus cannot compare with dockerd 20.10 (its
//! built-in frontends predate them, or they need a server or a secret):
//! heredocs, `COPY --exclude`, `ADD` of a URL with `--checksum`, `RUN
//! --mount=type=secret` and a cache mount that outlives builds, ONBUILD
//! triggers in a child build, the escape directive, ARG before FROM,
//! `RUN --network`. Root only.

mod support;

use std::io::Write;

use support::build_context::{build, context};
use support::mini_http::{Server, read_request, respond};
use support::{Store, container_store};

fn cat(store: &Store, image: &str, path: &str) -> String {
    store.ok(&["run", "--rm", "--network", "none", image, "cat", path])
}

#[test]
fn heredocs_excludes_urls_secrets_and_cache_mounts() {
    let Some(store) = container_store("heredocs_excludes_urls_secrets_and_cache_mounts") else {
        return;
    };
    // A file served on 127.0.0.1 for ADD.
    let server = Server::start(|mut conn, _| {
        if let Ok(Some(req)) = read_request(&conn) {
            let (status, body): (u16, &[u8]) = if req.path == "/file.txt" {
                (200, b"downloaded\n")
            } else {
                (404, b"no")
            };
            let _ = respond(&mut conn, status, &[], body, false);
            let _ = conn.flush();
        }
    });
    let url = format!("http://127.0.0.1:{}/file.txt", server.port());
    let digest = berth_image::Digest::of(b"downloaded\n").to_string();
    let dockerfile = format!(
        "# escape=`\nARG BASE=busybox\nFROM --platform=$BUILDPLATFORM ${{BASE}}\nRUN <<EOF\necho from-a-heredoc > /heredoc\nEOF\nCOPY <<EOF /copied\nline one\nEOF\nCOPY --exclude=*.log --exclude=skip/ ctx/ /ctx/\nCOPY --link ctx/keep.txt /linked\nADD --checksum={digest} {url} /downloaded/\nRUN --mount=type=secret,id=token cat /run/secrets/token > /token-was-here `\n    && echo done > /after-continuation\nRUN --mount=type=cache,target=/cache echo run >> /cache/runs && cat /cache/runs > /runs\nRUN --network=none grep -c : /proc/net/dev > /netdevs\n"
    );
    let dir = context(&store, "features", &dockerfile);
    std::fs::create_dir_all(dir.join("ctx/skip")).unwrap();
    std::fs::write(dir.join("ctx/keep.txt"), "keep\n").unwrap();
    std::fs::write(dir.join("ctx/drop.log"), "drop\n").unwrap();
    std::fs::write(dir.join("ctx/skip/x"), "x\n").unwrap();
    let secret = store.dir.path().join("token");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let secret_arg = format!("id=token,src={}", secret.display());
    let (code, _, err) = build(&store, &dir, &["-t", "features", "--secret", &secret_arg]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cat(&store, "features", "/heredoc"), "from-a-heredoc\n");
    assert_eq!(cat(&store, "features", "/copied"), "line one\n");
    assert_eq!(cat(&store, "features", "/linked"), "keep\n");
    assert_eq!(
        store.ok(&["run", "--rm", "features", "ls", "/ctx"]),
        "keep.txt\n",
        "--exclude left out *.log and skip/"
    );
    assert_eq!(
        cat(&store, "features", "/downloaded/file.txt"),
        "downloaded\n"
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "features",
            "stat",
            "-c",
            "%a",
            "/downloaded/file.txt"
        ]),
        "600\n"
    );
    assert_eq!(cat(&store, "features", "/token-was-here"), "s3cret\n");
    assert_eq!(cat(&store, "features", "/after-continuation"), "done\n");
    assert_eq!(
        store.ok(&["run", "--rm", "features", "ls", "/run/secrets"]),
        "",
        "the secret is not in the image"
    );
    assert_eq!(
        cat(&store, "features", "/netdevs"),
        "1\n",
        "only lo with --network=none"
    );
    // The cache mount outlives the build: a build without the cache sees
    // what the first wrote there.
    let (code, _, err) = build(
        &store,
        &dir,
        &["-t", "features", "--no-cache", "--secret", &secret_arg],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(cat(&store, "features", "/runs"), "run\nrun\n");

    // Another platform: refused, naming the line.
    let arm = context(&store, "arm", "FROM --platform=linux/s390x busybox\n");
    let (code, _, err) = build(&store, &arm, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Dockerfile:1") && err.contains("this host's platform only"),
        "{err}"
    );

    // A checksum that does not match: refused, naming the line.
    let bad = context(
        &store,
        "badsum",
        &format!(
            "FROM busybox\nADD --checksum=sha256:{} {url} /x\n",
            "0".repeat(64)
        ),
    );
    let (code, _, err) = build(&store, &bad, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Dockerfile:2") && err.contains("digest mismatch"),
        "{err}"
    );
    // A required secret that was not given.
    let nosecret = context(
        &store,
        "nosecret",
        "FROM busybox\nRUN --mount=type=secret,id=missing,required cat /run/secrets/missing\n",
    );
    let (code, _, err) = build(&store, &nosecret, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("secret missing not found"), "{err}");
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let Some(store) = container_store("onbuild_triggers_run_in_the_child") else {
        return;
    };
    let parent = context(
        &store,
        "parent",
        "FROM busybox\nONBUILD COPY trigger.txt /from-trigger\nONBUILD RUN echo triggered > /ran\n",
    );
    let (code, _, err) = build(&store, &parent, &["-t", "parent-image"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        store.ok(&["inspect", "-f", "{{json .Config.OnBuild}}", "parent-image"]),
        "[\"COPY trigger.txt /from-trigger\",\"RUN echo triggered > /ran\"]\n"
    );
    let child = context(&store, "child", "FROM parent-image\nRUN cat /ran\n");
    std::fs::write(child.join("trigger.txt"), "from the child's context\n").unwrap();
    let (code, _, err) = build(&store, &child, &["-t", "child-image"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        cat(&store, "child-image", "/from-trigger"),
        "from the child's context\n"
    );
    assert_eq!(cat(&store, "child-image", "/ran"), "triggered\n");
    assert_eq!(
        store.ok(&["inspect", "-f", "{{json .Config.OnBuild}}", "child-image"]),
        "null\n",
        "the triggers ran and are not inherited"
    );
}

/// `RUN --mount=type=bind`: a context source is keyed by its content (a
/// changed file runs the step again), `rw` writes go nowhere (not into
/// the context, not into the next step), `from=` mounts another stage or
/// an image, and a source missing there is an error naming it.
#[test]
fn bind_mounts_are_keyed_by_content_and_rw_writes_are_discarded() {
    let Some(store) =
        container_store("bind_mounts_are_keyed_by_content_and_rw_writes_are_discarded")
    else {
        return;
    };
    let dir = context(
        &store,
        "binds",
        "FROM busybox AS gen\nRUN mkdir /out && echo generated > /out/g\nFROM busybox\nRUN --mount=type=bind,source=a.txt,target=/a cat /a > /copy\nRUN --mount=type=bind,target=/ctx,rw echo scribble > /ctx/a.txt && cat /ctx/a.txt > /scribbled\nRUN --mount=type=bind,from=gen,source=/out,target=/gen cat /gen/g > /from-gen\n",
    );
    std::fs::write(dir.join("a.txt"), "one\n").unwrap();
    let (code, _, err) = build(&store, &dir, &["-t", "binds"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cat(&store, "binds", "/copy"), "one\n");
    assert_eq!(cat(&store, "binds", "/scribbled"), "scribble\n");
    assert_eq!(cat(&store, "binds", "/from-gen"), "generated\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "one\n",
        "an rw bind mount never writes into the context"
    );
    // Same content: cached. Changed content: run again.
    let (code, _, err) = build(&store, &dir, &["-t", "binds"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("cat /a > /copy\n#") && err.matches("CACHED").count() >= 3,
        "an unchanged rebuild is cached:\n{err}"
    );
    std::fs::write(dir.join("a.txt"), "two\n").unwrap();
    let (code, _, err) = build(&store, &dir, &["-t", "binds"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cat(&store, "binds", "/copy"), "two\n", "{err}");

    let dir = context(
        &store,
        "missing",
        "FROM busybox AS gen\nRUN true\nFROM busybox\nRUN --mount=type=bind,from=gen,source=/nowhere,target=/n true\n",
    );
    let (code, _, err) = build(&store, &dir, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nowhere"), "the error names the source: {err}");
    assert!(store.mounts().is_empty(), "{:?}", store.mounts());
    store.assert_check_clean();
}

/// `.dockerignore`d files are outside a COPY's key (adding one changes
/// nothing) but inside a context bind mount's (the mount shows them).
#[test]
fn ignored_files_key_a_bind_mount_but_not_a_copy() {
    let Some(store) = container_store("ignored_files_key_a_bind_mount_but_not_a_copy") else {
        return;
    };
    let dir = context(
        &store,
        "ignored",
        "FROM busybox\nCOPY . /app\nRUN --mount=type=bind,target=/ctx cat /ctx/notes.log > /seen\n",
    );
    std::fs::write(dir.join(".dockerignore"), "*.log\n").unwrap();
    std::fs::write(dir.join("kept.txt"), "kept\n").unwrap();
    std::fs::write(dir.join("notes.log"), "first\n").unwrap();
    let (code, _, err) = build(&store, &dir, &["-t", "ignored"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cat(&store, "ignored", "/seen"), "first\n");
    std::fs::write(dir.join("notes.log"), "second\n").unwrap();
    std::fs::write(dir.join("more.log"), "new\n").unwrap();
    let (code, _, err) = build(&store, &dir, &["-t", "ignored"]);
    assert_eq!(code, 0, "{err}");
    let copy = err
        .lines()
        .position(|l| l.ends_with("COPY . /app"))
        .expect("the COPY step");
    assert!(
        err.lines()
            .skip(copy)
            .take(3)
            .any(|l| l.ends_with("CACHED")),
        "ignored files are not part of the COPY's key:\n{err}"
    );
    assert_eq!(
        cat(&store, "ignored", "/seen"),
        "second\n",
        "the bind mount showed the new content: {err}"
    );
}
