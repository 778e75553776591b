//! `berth build`'s cache, its DAG of stages and its reproducibility:
//! an unchanged rebuild runs no container, a changed file rebuilds only
//! what follows its COPY, a build arg invalidates from its first use,
//! `--no-cache` runs everything, `builder prune` forgets the cache;
//! independent stages run in parallel and unused ones not at all; two
//! fresh stores give the same image ID. Root only (containers).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Store, container_store};

/// `build --progress plain ARGS DIR`: (exit code, each step's outcome by
/// its instruction: "CACHED" or "DONE"), and stderr.
fn build(store: &Store, dir: &Path, args: &[&str]) -> (i32, BTreeMap<String, String>, String) {
    let mut full = vec!["build", "--progress", "plain", "--network", "none"];
    full.extend_from_slice(args);
    full.push(dir.to_str().unwrap());
    let (code, _, err) = store.outcome(&full);
    let mut names = BTreeMap::new();
    let mut outcome = BTreeMap::new();
    for line in err.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let (n, text) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Some(step) = text.strip_prefix('[') {
            // `[stage-0 2/4] RUN …`: keyed by the instruction.
            let instruction = step.split_once("] ").map_or(step, |(_, i)| i);
            names.insert(n.to_string(), instruction.to_string());
        } else if (text == "CACHED" || text.starts_with("DONE"))
            && let Some(name) = names.get(n)
        {
            outcome.insert(name.clone(), text.split(' ').next().unwrap().to_string());
        }
    }
    (code, outcome, err)
}

fn containers_created_since(store: &Store, since: &str) -> usize {
    let until = format!("{}", time_now());
    let events = store.ok(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--format",
        "{{.ID}}",
    ]);
    events.lines().count()
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 1
}

#[test]
fn the_cache_reuses_what_did_not_change() {
    let Some(store) = container_store("the_cache_reuses_what_did_not_change") else {
        return;
    };
    let dir = store.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("b.txt"), "b\n").unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /ra\nCOPY b.txt /b.txt\nARG X=1\nRUN echo $X > /x\n",
    )
    .unwrap();
    let steps = [
        "COPY a.txt /a.txt",
        "RUN cat /a.txt > /ra",
        "COPY b.txt /b.txt",
        "RUN echo $X > /x",
    ];
    let expect = |outcome: &BTreeMap<String, String>, want: [&str; 4], what: &str| {
        let got: Vec<&str> = steps
            .iter()
            .map(|s| outcome.get(*s).map_or("missing", String::as_str))
            .collect();
        assert_eq!(got, want, "{what}");
    };
    let (code, outcome, err) = build(&store, &dir, &["-t", "cached"]);
    assert_eq!(code, 0, "{err}");
    expect(&outcome, ["DONE"; 4], "the first build runs every step");

    // Unchanged (even with new mtimes): nothing runs, no container.
    let since = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
    };
    filetime(&dir.join("a.txt"));
    let started = Instant::now();
    let (code, outcome, err) = build(&store, &dir, &["-t", "cached"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{err}");
    expect(&outcome, ["CACHED"; 4], "an unchanged rebuild");
    assert_eq!(
        containers_created_since(&store, &since),
        0,
        "no container ran"
    );
    eprintln!("unchanged rebuild: {took:?}");

    // One copied file changed: what follows its COPY only.
    std::fs::write(dir.join("b.txt"), "b2\n").unwrap();
    let (_, outcome, _) = build(&store, &dir, &["-t", "cached"]);
    expect(
        &outcome,
        ["CACHED", "CACHED", "DONE", "DONE"],
        "b.txt changed",
    );
    assert_eq!(
        store.ok(&["run", "--rm", "cached", "cat", "/b.txt"]),
        "b2\n"
    );

    // A build arg: from its first use.
    let (_, outcome, _) = build(&store, &dir, &["-t", "cached", "--build-arg", "X=2"]);
    expect(
        &outcome,
        ["CACHED", "CACHED", "CACHED", "DONE"],
        "X changed",
    );
    assert_eq!(store.ok(&["run", "--rm", "cached", "cat", "/x"]), "2\n");

    // --no-cache: everything.
    let (_, outcome, _) = build(&store, &dir, &["-t", "cached", "--no-cache"]);
    expect(&outcome, ["DONE"; 4], "--no-cache");

    // The cache is in system df, and builder prune forgets it.
    let df = store.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    let entries: usize = df
        .lines()
        .find_map(|l| l.strip_prefix("Build Cache "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(entries >= 4, "{df}");
    store.ok(&["builder", "prune", "-f"]);
    let df = store.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.contains("Build Cache 0"), "{df}");
    let (_, outcome, _) = build(&store, &dir, &["-t", "cached"]);
    expect(&outcome, ["DONE"; 4], "after builder prune");
    // The cache's own images are hidden from `images` (earlier results,
    // untagged by the rebuilds, are dangling as with BuildKit).
    let shown = store.ok(&["images", "-q", "--filter", "dangling=false"]);
    assert_eq!(shown.lines().count(), 2, "busybox and the image: {shown}");
    let all = store.ok(&["images", "-a", "-q"]);
    assert!(
        all.lines().count() > 2,
        "images -a shows the cache's: {all}"
    );
    store.assert_check_clean();
}

/// Sets a file's mtime to now + 1 h (a checkout, a touch).
fn filetime(path: &Path) {
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn independent_stages_run_in_parallel_and_unused_ones_not_at_all() {
    let Some(store) =
        container_store("independent_stages_run_in_parallel_and_unused_ones_not_at_all")
    else {
        return;
    };
    let dir = store.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS a\nRUN sleep 2 && echo a > /a\nFROM busybox AS b\nRUN sleep 2 && echo b > /b\nFROM busybox AS unused\nRUN echo must-not-run && false\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
    )
    .unwrap();
    let started = Instant::now();
    let (code, outcome, err) = build(&store, &dir, &["-t", "parallel", "--no-cache"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("must-not-run"),
        "the unused stage ran:\n{err}"
    );
    assert!(!outcome.keys().any(|k| k.contains("false")), "{outcome:?}");
    assert!(
        took < Duration::from_millis(3500),
        "two 2 s stages took {took:?}: not in parallel\n{err}"
    );
    assert_eq!(
        store.ok(&["run", "--rm", "parallel", "cat", "/a", "/b"]),
        "a\nb\n"
    );
    eprintln!("two independent 2 s stages: {took:?}");
}

#[test]
fn two_fresh_stores_build_the_same_image() {
    let test = "two_fresh_stores_build_the_same_image";
    let (Some(one), Some(two)) = (container_store(test), container_store(test)) else {
        return;
    };
    // The same base image in both (an import records its own time).
    let archive = one.dir.path().join("busybox.tar");
    one.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    two.ok(&["load", "-i", archive.to_str().unwrap()]);
    let dockerfile = "FROM busybox AS build\nRUN mkdir /out && echo built > /out/x && touch /out/y\nFROM busybox\nCOPY src /src\nCOPY --from=build /out /out\nRUN date > /dev/null && echo done > /done\nENV A=1\nCMD [\"sh\"]\n";
    let ids: Vec<(String, String)> = [&one, &two]
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let dir = store.dir.path().join("ctx");
            std::fs::create_dir_all(dir.join("src")).unwrap();
            std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
            std::fs::write(dir.join("src/f"), "same\n").unwrap();
            if i == 1 {
                // Another checkout: other mtimes.
                filetime(&dir.join("src/f"));
                std::thread::sleep(Duration::from_millis(1100));
            }
            let plain = store.ok(&["build", "-q", "--network", "none", dir.to_str().unwrap()]);
            let epoch = store.ok(&[
                "build",
                "-q",
                "--network",
                "none",
                "--build-arg",
                "SOURCE_DATE_EPOCH=1700000000",
                "-t",
                "epoch",
                dir.to_str().unwrap(),
            ]);
            (plain.trim().to_string(), epoch.trim().to_string())
        })
        .collect();
    assert_eq!(
        ids[0], ids[1],
        "the same inputs, two stores: the same image IDs"
    );
    assert_ne!(
        ids[0].0, ids[0].1,
        "SOURCE_DATE_EPOCH changes the timestamps"
    );
    assert_eq!(
        one.ok(&["inspect", "-f", "{{.Created}}", "epoch"]).trim(),
        "2023-11-14T22:13:20Z"
    );
    // And a third build in the first store, without the cache.
    let dir = one.dir.path().join("ctx");
    let again = one.ok(&[
        "build",
        "-q",
        "--no-cache",
        "--network",
        "none",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(again.trim(), ids[0].0, "a rebuild without the cache");
}

/// Every entry of `export` of a container of `image`: path, type, mode,
/// owner, mtime, link target and size.
fn export_listing(store: &Store, image: &str) -> Vec<String> {
    let id = store.ok(&["create", image, "true"]);
    let out = store.command(&["export", id.trim()]).output().unwrap();
    assert!(out.status.success());
    store.ok(&["rm", id.trim()]);
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut lines: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            format!(
                "{} {:?} {:o} {}:{} {} {:?} {}",
                e.path().unwrap().display(),
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                h.link_name().unwrap(),
                h.size().unwrap()
            )
        })
        .filter(|l| {
            !l.starts_with(".dockerenv")
                && !l.starts_with("etc/host")
                && !l.starts_with("etc/resolv")
        })
        .collect();
    lines.sort();
    lines
}

/// The builder makes a COPY's snapshot from the directory it wrote (not
/// by unpacking the layer's tar): a store that loads the image, and so
/// unpacks the tar, must see the very same files, mtimes included.
#[test]
fn a_built_layer_is_what_unpacking_its_tar_makes() {
    let test = "a_built_layer_is_what_unpacking_its_tar_makes";
    let (Some(one), Some(two)) = (container_store(test), container_store(test)) else {
        return;
    };
    let dir = one.dir.path().join("ctx");
    std::fs::create_dir_all(dir.join("tree/sub")).unwrap();
    std::fs::write(dir.join("tree/a"), "a\n").unwrap();
    std::fs::write(dir.join("tree/sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("a", dir.join("tree/link")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY tree /usr/local/tree/\nCOPY --chown=5:6 tree/a /etc/extra\nWORKDIR /made/here\n",
    )
    .unwrap();
    one.ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "adopted",
        dir.to_str().unwrap(),
    ]);
    let archive = one.dir.path().join("adopted.tar");
    one.ok(&["save", "-o", archive.to_str().unwrap(), "adopted"]);
    two.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        export_listing(&one, "adopted"),
        export_listing(&two, "adopted")
    );
    one.assert_check_clean();
}

/// `COPY --from=STAGE /dir /dir` where `/dir` is the whole of one of that
/// stage's layers reuses that layer instead of copying. The image must be
/// the one copying makes: the same Dockerfile with source stages whose
/// layers hold something more (so that nothing can be reused) gives the
/// same image ID. The layers the copy would not reproduce are copied: hard
/// links (the copy writes files of their own), a directory not 0755, files
/// dated after the copying stage's epoch (a later base image).
#[test]
fn a_reused_layer_is_the_layer_a_copy_writes() {
    let Some(store) = container_store("a_reused_layer_is_the_layer_a_copy_writes") else {
        return;
    };
    // A base image created now: later than busybox's creation, so its
    // layers' mtimes are past the final stage's epoch.
    std::thread::sleep(Duration::from_millis(1100));
    let id = store.ok(&["create", "busybox", "true"]);
    store.ok(&["commit", id.trim(), "later"]);
    let created = |image: &str| store.ok(&["inspect", "-f", "{{.Created}}", image]);
    assert_ne!(created("busybox"), created("later"));
    let dir = store.dir.path().join("ctx");
    std::fs::create_dir_all(dir.join("d/sub")).unwrap();
    std::fs::create_dir_all(dir.join("e")).unwrap();
    std::fs::write(dir.join("d/a"), "a\n").unwrap();
    std::fs::write(dir.join("d/sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("a", dir.join("d/link")).unwrap();
    std::fs::write(dir.join("e/x"), "x\n").unwrap();
    // `extra` adds a top-level entry to each source layer (nothing reusable).
    let dockerfile = |extra: bool| {
        let touch = if extra { " && touch /extra" } else { "" };
        let copy = if extra { "COPY . /" } else { "COPY d/ /d/" };
        format!(
            "FROM busybox AS src\n{copy}\n\
             FROM busybox AS hard\nRUN mkdir /h && echo x > /h/a && ln /h/a /h/b{touch}\n\
             FROM busybox AS private\nRUN mkdir -m 700 /p && echo p > /p/f{touch}\n\
             FROM later AS late\nRUN mkdir /n && echo n > /n/f{touch}\n\
             FROM busybox AS gen\nRUN mkdir /g && echo g > /g/f && ln -s f /g/l{touch}\n\
             FROM busybox\n\
             COPY --from=src /d /d\nCOPY --from=hard /h /h\nCOPY --from=private /p /p\n\
             COPY --from=late /n /n\nCOPY --from=gen /g /g\n"
        )
    };
    let mut ids = Vec::new();
    for extra in [false, true] {
        let file = store.dir.path().join(format!("Dockerfile.{extra}"));
        std::fs::write(&file, dockerfile(extra)).unwrap();
        let (code, _, err) = build(&store, &dir, &["-f", file.to_str().unwrap(), "-t", "out"]);
        assert_eq!(code, 0, "{err}");
        let reused: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("is a whole layer of"))
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        let want: &[&str] = if extra { &[] } else { &["/d", "/g"] };
        assert_eq!(reused, want, "layers reused (extra={extra}):\n{err}");
        ids.push(
            store
                .ok(&["inspect", "-f", "{{.Id}}", "out"])
                .trim()
                .to_string(),
        );
    }
    assert_eq!(
        ids[0], ids[1],
        "a reused layer gives the image that copying gives"
    );
    // And that image is what copying means: links become files of their
    // own, the directories the copy makes are 0755.
    let links = store.ok(&["run", "--rm", "out", "stat", "-c", "%n %h", "/h/a", "/h/b"]);
    assert_eq!(links, "/h/a 1\n/h/b 1\n");
    let modes = store.ok(&[
        "run", "--rm", "out", "stat", "-c", "%n %a", "/p", "/n", "/d",
    ]);
    assert_eq!(modes, "/p 755\n/n 755\n/d 755\n");
    store.assert_check_clean();
}

/// Only a layer berth's own writer made is reused: an imported layer
/// holding exactly `/d`, with the owners, modes and times a copy would
/// give, is still copied (another tool's tar of the same files differs in
/// bytes), and the image is the one copying makes.
#[test]
fn a_foreign_layer_is_copied_not_reused() {
    let Some(store) = container_store("a_foreign_layer_is_copied_not_reused") else {
        return;
    };
    // The final stage's epoch: busybox's creation time, as a copied
    // file's clamped mtime shows it.
    let dir = store.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x"), "x\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY x /x\n").unwrap();
    store.ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "probe",
        dir.to_str().unwrap(),
    ]);
    let epoch: u64 = store
        .ok(&["run", "--rm", "probe", "stat", "-c", "%Y", "/x"])
        .trim()
        .parse()
        .unwrap();
    // Two imported images: /d alone, and /d beside another entry.
    let import = |name: &str, extra: bool| {
        let mut builder = tar::Builder::new(Vec::new());
        let mut entry = |path: &str, dir: bool, body: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_mode(if dir { 0o755 } else { 0o644 });
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(epoch);
            h.set_size(body.len() as u64);
            builder.append_data(&mut h, path, body).unwrap();
        };
        entry("d/", true, b"");
        entry("d/f", false, b"foreign\n");
        if extra {
            entry("e", false, b"e\n");
        }
        let bytes = builder.into_inner().unwrap();
        let file = store.dir.path().join(format!("{name}.tar"));
        std::fs::write(&file, bytes).unwrap();
        store.ok(&["import", file.to_str().unwrap(), name]);
    };
    import("alone", false);
    import("beside", true);
    let mut ids = Vec::new();
    for source in ["alone", "beside"] {
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox\nCOPY --from={source} /d /d\n"),
        )
        .unwrap();
        let (code, _, err) = build(&store, &dir, &["-t", source]);
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("is a whole layer of"), "{err}");
        ids.push(store.ok(&["inspect", "-f", "{{.RootFS.Layers}}", source]));
    }
    assert_eq!(ids[0], ids[1], "the same copy, the same layers");
}
