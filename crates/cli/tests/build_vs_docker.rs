//! A corpus of Dockerfiles, each built by berth and by a private dockerd —
//! with its classic builder and with BuildKit (Debian's docker 20.10
//! client, which has both) — and compared: the image config (Env, Cmd,
//! Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes,
//! Healthcheck, StopSignal, Shell, OnBuild, and the Author) and the file
//! tree (`export` of a container: every path with its type, mode, owner,
//! link target and content digest; mtimes are not compared).
//!
//! A case names the builders it is compared with: features the classic
//! builder lacks (`--chmod`, `RUN --mount`, heredocs) are compared with
//! BuildKit only, and the few places where dockerd's two builders
//! disagree are listed with the reason. Root only; needs dockerd
//! (apt-get install docker.io).

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use support::dockerd::Dockerd;
use support::{Store, container_store};

/// A file of a case's context.
enum F {
    Text(&'static str, &'static str),
    Mode(&'static str, &'static str, u32),
    Link(&'static str, &'static str),
    Dir(&'static str),
    /// A gzip'd tar with these (name, contents).
    TarGz(&'static str, &'static [(&'static str, &'static str)]),
}

struct Case {
    name: &'static str,
    dockerfile: &'static str,
    files: &'static [F],
    /// Extra `build` flags (the same for every builder).
    flags: &'static [&'static str],
    classic: bool,
    buildkit: bool,
}

/// Where dockerd's two builders disagree and berth does as one of them:
/// (case, builder berth differs from, path in the tree, why).
const BUILDERS_DISAGREE: &[(&str, &str, &str, &str)] = &[(
    "user and workdir for RUN",
    "buildkit",
    "id",
    "BuildKit runs RUN without supplementary groups (`id` prints no groups=); the classic builder and `docker run` give the user's primary group, as berth does",
)];

const BOTH: (bool, bool) = (true, true);

fn cases() -> Vec<Case> {
    let case = |name, dockerfile, files, flags, (classic, buildkit): (bool, bool)| Case {
        name,
        dockerfile,
        files,
        flags,
        classic,
        buildkit,
    };
    vec![
        case(
            "basics",
            "FROM busybox\nARG GREETING=hello\nENV APP=/app\nWORKDIR $APP\nCOPY src/ ./src/\nRUN echo \"$GREETING\" > greeting\nLABEL version=1 \"other key\"=\"a b\"\nEXPOSE 8080 53/udp\nCMD [\"cat\", \"greeting\"]\n",
            &[F::Text("src/a.txt", "a\n"), F::Text("src/sub/b.txt", "b\n")],
            &["--build-arg", "GREETING=hi"],
            BOTH,
        ),
        case(
            "metadata",
            "FROM busybox\nSHELL [\"/bin/sh\", \"-xc\"]\nRUN echo hi > /hi\nENTRYPOINT echo run\nUSER nobody\nSTOPSIGNAL SIGUSR1\nVOLUME /data [\"/logs\"]\nVOLUME [\"/cache\"]\nHEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD true\nONBUILD RUN echo child\nMAINTAINER someone@example.com\n",
            &[],
            &[],
            BOTH,
        ),
        case(
            "entrypoint resets cmd, exec and shell forms",
            "FROM busybox\nCMD [\"sh\"]\nENTRYPOINT [\"/bin/echo\", \"x\"]\nFROM busybox\nENTRYPOINT [\"/bin/echo\"]\nCMD echo shell form\n",
            &[],
            &[],
            BOTH,
        ),
        case(
            "copy rules",
            "FROM busybox\nCOPY a.txt /dst/\nCOPY a.txt /renamed\nCOPY *.txt /multi/\nCOPY dir /contents\nCOPY dir /contents2/\nCOPY --chown=1000:1000 a.txt /owned\nCOPY --chown=nobody dir /named/\nCOPY exec.sh link a.txt /scripts/\nCOPY dir/inner/ /inner-only\nWORKDIR /work\nCOPY a.txt relative\nCOPY a.txt .\n",
            &[
                F::Text("a.txt", "a\n"),
                F::Text("b.txt", "b\n"),
                F::Mode("exec.sh", "#!/bin/sh\necho hi\n", 0o755),
                F::Link("link", "a.txt"),
                F::Text("dir/one", "1\n"),
                F::Mode("dir/inner/two", "2\n", 0o600),
                F::Link("dir/inner/rel", "../one"),
                F::Dir("dir/empty"),
            ],
            &[],
            BOTH,
        ),
        case(
            "copy --chmod",
            "FROM busybox\nCOPY --chmod=0755 a.txt /exec\nCOPY --chmod=700 dir /d/\n",
            &[F::Text("a.txt", "a\n"), F::Text("dir/f", "f\n")],
            &[],
            // The classic builder has no --chmod.
            (false, true),
        ),
        case(
            "add extracts archives",
            "FROM busybox\nADD files.tar.gz /extracted/\nADD plain.txt /plain/\nADD files.tar.gz /x.tar.gz.d\n",
            &[
                F::TarGz(
                    "files.tar.gz",
                    &[("top.txt", "top\n"), ("sub/deep.txt", "deep\n")],
                ),
                F::Text("plain.txt", "plain\n"),
            ],
            &[],
            BOTH,
        ),
        case(
            "multi-stage, --from by name and index, scratch",
            "FROM busybox AS build\nRUN mkdir -p /out && echo built > /out/artifact && chown 1:1 /out/artifact\nFROM busybox AS unused\nRUN false\nFROM scratch\nCOPY --from=build /out /out\nCOPY --from=0 /bin/busybox /bin/busybox\nCMD [\"/bin/busybox\", \"cat\", \"/out/artifact\"]\n",
            &[],
            &[],
            // The classic builder builds every stage: `unused` fails there.
            (false, true),
        ),
        case(
            "target",
            "FROM busybox AS first\nRUN echo first > /which\nFROM busybox AS second\nRUN echo second > /which\n",
            &[],
            &["--target", "first"],
            BOTH,
        ),
        case(
            "substitution",
            "FROM busybox\nARG UNSET\nENV A=1 B=${A:-x} C=${UNSET:-dflt} D=${A:+set} E=\\$A F=\"quoted $A\" G='single $A'\nENV H $A and more\nLABEL \"k$A\"=\"v${B}\"\nWORKDIR /w/${A}\nUSER ${A}:${A}\nEXPOSE ${A}000\n",
            &[],
            &[],
            BOTH,
        ),
        case(
            "dockerignore",
            "FROM busybox\nCOPY . /ctx/\n",
            &[
                F::Text(".dockerignore", "*.log\n!keep.log\nsecret/\n**/*.tmp\n"),
                F::Text("a.log", "x\n"),
                F::Text("keep.log", "k\n"),
                F::Text("secret/key", "s\n"),
                F::Text("deep/x.tmp", "t\n"),
                F::Text("deep/y.txt", "y\n"),
            ],
            &[],
            // The classic builder sends .dockerignore and the Dockerfile
            // along whatever it says; BuildKit honours it (berth does).
            (false, true),
        ),
        case(
            "user and workdir for RUN",
            "FROM busybox\nWORKDIR a\nWORKDIR b\nRUN pwd > /pwd\nUSER nobody\nRUN id > /tmp/id\nUSER root\nRUN mkdir -p /made && cp /tmp/id /made/\n",
            &[],
            &[],
            BOTH,
        ),
        case(
            "run mounts",
            "FROM busybox\nRUN --mount=type=cache,target=/cache echo x > /cache/f && ls /cache > /listing\nRUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs-listing\nRUN --mount=type=bind,source=a.txt,target=/mnt/a cat /mnt/a > /bound\nRUN echo none > /net\n",
            &[F::Text("a.txt", "a\n")],
            &[],
            // RUN --mount is BuildKit's.
            (false, true),
        ),
        case(
            "run bind mounts from stages, images and rw",
            "FROM busybox AS out\nRUN mkdir /out && echo from-stage > /out/x\nFROM busybox\nRUN --mount=type=bind,from=out,source=/out,target=/in cat /in/x > /from-stage\nRUN --mount=type=bind,from=out,target=/all cat /all/out/x > /from-root\nRUN --mount=type=bind,from=busybox,source=/bin,target=/bb ls /bb | grep -c . > /from-image\nRUN --mount=type=bind,from=out,source=/out,target=/w,rw echo changed > /w/x && cat /w/x > /rw-saw\nRUN --mount=type=bind,from=out,source=/out,target=/w cat /w/x > /rw-after\nRUN --mount=type=bind,source=dir,target=/d,rw echo y > /d/a && cat /d/a > /ctx-rw-saw\n",
            &[F::Text("dir/a", "a\n")],
            &[],
            (false, true),
        ),
    ]
}

fn write_context(dir: &Path, case: &Case) {
    std::fs::write(dir.join("Dockerfile"), case.dockerfile).unwrap();
    for f in case.files {
        let path = match f {
            F::Text(p, _) | F::Mode(p, _, _) | F::Link(p, _) | F::Dir(p) | F::TarGz(p, _) => p,
        };
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        match f {
            F::Text(_, t) => std::fs::write(&full, t).unwrap(),
            F::Mode(_, t, m) => {
                std::fs::write(&full, t).unwrap();
                std::fs::set_permissions(&full, std::os::unix::fs::PermissionsExt::from_mode(*m))
                    .unwrap();
            }
            F::Link(_, target) => std::os::unix::fs::symlink(target, &full).unwrap(),
            F::Dir(_) => std::fs::create_dir_all(&full).unwrap(),
            F::TarGz(_, entries) => {
                let gz = flate2::write::GzEncoder::new(
                    std::fs::File::create(&full).unwrap(),
                    flate2::Compression::default(),
                );
                let mut tar = tar::Builder::new(gz);
                for (name, body) in entries.iter() {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(body.len() as u64);
                    h.set_mode(0o640);
                    h.set_uid(7);
                    h.set_gid(8);
                    h.set_mtime(1_600_000_000);
                    h.set_cksum();
                    tar.append_data(&mut h, name, body.as_bytes()).unwrap();
                }
                tar.into_inner().unwrap().finish().unwrap();
            }
        }
    }
}

/// The parts of an image compared: the config (less what differs by
/// builder: the parent `Image`, `ArgsEscaped`) and the author.
fn config_of(inspect: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(inspect).expect("inspect JSON");
    let v = &v[0];
    let mut config = v["Config"].clone();
    if let Some(o) = config.as_object_mut() {
        o.remove("Image");
        o.remove("ArgsEscaped");
        o.remove("Hostname");
    }
    format!("author={} config={}", v["Author"], canonical(&config))
}

/// JSON with object keys sorted.
fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let sorted: std::collections::BTreeMap<_, _> = m.iter().collect();
            let parts: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{k:?}:{}", canonical(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// `export` of a container of the image as a sorted listing.
fn tree_of(export: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(export);
    let mut out = Vec::new();
    for entry in archive.entries().expect("export tar") {
        let mut entry = entry.expect("entry");
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        // What the runtime puts in every container, not the image.
        if [
            ".dockerenv",
            "etc/hostname",
            "etc/hosts",
            "etc/resolv.conf",
            "etc/mtab",
        ]
        .contains(&path.as_str())
            || ["proc/", "sys/", "dev/"]
                .iter()
                .any(|p| path.starts_with(p))
        {
            continue;
        }
        let h = entry.header().clone();
        let link = h
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        let digest = if body.is_empty() {
            String::new()
        } else {
            berth_image::Digest::of(&body).short().to_string()
        };
        out.push(format!(
            "{path} {:?} {:o} {}:{} {link} {digest}",
            h.entry_type(),
            h.mode().unwrap_or(0) & 0o7777,
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0),
        ));
    }
    out.sort();
    out
}

/// What one builder made of a case: (config, tree), or the failure.
type Built = Result<(String, Vec<String>), String>;

fn inspect_and_export(cmd: &dyn Fn(&[&str]) -> Command, tag: &str) -> Built {
    let run = |args: &[&str]| {
        let out = cmd(args).stdin(Stdio::null()).output().expect("run");
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let inspect = String::from_utf8(run(&["image", "inspect", tag])?).unwrap();
    let id = String::from_utf8(run(&["create", "--network", "none", tag, "true"])?).unwrap();
    let export = run(&["export", id.trim()])?;
    run(&["rm", id.trim()])?;
    Ok((config_of(&inspect), tree_of(&export)))
}

fn build_with(cmd: &dyn Fn(&[&str]) -> Command, dir: &Path, tag: &str, flags: &[&str]) -> Built {
    let mut args = vec!["build", "-q", "--network", "none", "-t", tag];
    args.extend_from_slice(flags);
    let dir = dir.to_str().unwrap();
    args.push(dir);
    let out = cmd(&args).stdin(Stdio::null()).output().expect("build");
    if !out.status.success() {
        return Err(format!(
            "build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    inspect_and_export(cmd, tag)
}

/// The tree without entries whose file name contains one of `names`.
fn without(built: &Built, names: &[&str]) -> Built {
    built.clone().map(|(config, tree)| {
        let tree = tree
            .into_iter()
            .filter(|l| {
                let path = l.split(' ').next().unwrap_or_default();
                let file = path.rsplit('/').next().unwrap_or_default();
                !names.contains(&file)
            })
            .collect();
        (config, tree)
    })
}

fn diff(what: &str, theirs: &Built, ours: &Built) -> Option<String> {
    match (theirs, ours) {
        (Ok((c1, t1)), Ok((c2, t2))) => {
            let mut out = String::new();
            if c1 != c2 {
                out.push_str(&format!("  config:\n    {what}: {c1}\n    berth: {c2}\n"));
            }
            let only_theirs: Vec<_> = t1.iter().filter(|l| !t2.contains(l)).collect();
            let only_ours: Vec<_> = t2.iter().filter(|l| !t1.contains(l)).collect();
            if !only_theirs.is_empty() || !only_ours.is_empty() {
                out.push_str(&format!(
                    "  tree:\n    only {what}: {only_theirs:#?}\n    only berth: {only_ours:#?}\n"
                ));
            }
            (!out.is_empty()).then_some(out)
        }
        (Err(e), _) => Some(format!("  {what} failed: {e}")),
        (_, Err(e)) => Some(format!("  berth failed: {e}")),
    }
}

#[test]
fn dockerfiles_build_as_docker_builds_them() {
    let test = "dockerfiles_build_as_docker_builds_them";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = container_store(test) else {
        return;
    };
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);
    let berth = |args: &[&str]| Store::command(&store, args);
    let classic = |args: &[&str]| docker.client_2010(args, false);
    let buildkit = |args: &[&str]| docker.client_2010(args, true);
    let mut failures = Vec::new();
    let (mut compared, mut with_classic, mut with_buildkit) = (0, 0, 0);
    for (i, case) in cases().iter().enumerate() {
        let dir = store.dir.path().join(format!("context-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        write_context(&dir, case);
        let tag = format!("corpus:{i}");
        let ours = build_with(&berth, &dir, &tag, case.flags);
        let mut report = String::new();
        if case.classic {
            let theirs = build_with(&classic, &dir, &tag, case.flags);
            report.extend(diff("classic", &theirs, &ours));
            with_classic += 1;
        }
        if case.buildkit {
            let theirs = build_with(&buildkit, &dir, &format!("{tag}-bk"), case.flags);
            let allowed: Vec<&str> = BUILDERS_DISAGREE
                .iter()
                .filter(|(c, b, _, _)| *c == case.name && *b == "buildkit")
                .map(|(_, _, path, why)| {
                    eprintln!(
                        "{}: differs from BuildKit where {path} is: {why}",
                        case.name
                    );
                    *path
                })
                .collect();
            report.extend(diff(
                "buildkit",
                &without(&theirs, &allowed),
                &without(&ours, &allowed),
            ));
            with_buildkit += 1;
        }
        compared += 1;
        if !report.is_empty() {
            failures.push(format!("case {:?}:\n{report}", case.name));
        }
    }
    eprintln!(
        "build corpus: {compared} Dockerfiles, {with_classic} compared with the classic builder, {with_buildkit} with BuildKit, {} differ",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
