//! Over 800 lines on purpose: one table of cases run once against each
//! engine (a private dockerd each run; rustfmt puts every argument of a
//! command line on its own line), and the flag coverage is checked over the
//! whole table; split, each part would start its own dockerd and check a
//! part of the coverage.
//!
//! Differential, table-driven: every flag of docker's image, volume and
//! system commands (events, history, images, import, info, load, rmi,
//! save, tag, version, image ls/prune/rm/inspect, volume create/inspect/
//! ls/prune/rm, system df/events/info/prune), each passed by a case run by
//! the docker CLI v28 against a private dockerd and by berth on the same
//! busybox image; stdout and exit codes must match after
//! `support::normalise`. As in `container_commands_vs_docker.rs`, the
//! berth side is recorded and a flag no case passes fails the test unless
//! listed with the reason. Root only; needs dockerd.

mod support;

use std::path::Path;
use std::time::Duration;

use support::differential::{Cli, Step, assert_same, step};
use support::docker_flags::{Recorder, assert_every_flag_compared};
use support::dockerd::Dockerd;
use support::normalise::{normalise, sorted_lines};

const SCOPE: &[&str] = &[
    "events",
    "history",
    "images",
    "import",
    "info",
    "load",
    "rmi",
    "save",
    "tag",
    "version",
    "image ls",
    "image prune",
    "image rm",
    "image inspect",
    "volume create",
    "volume inspect",
    "volume ls",
    "volume prune",
    "volume rm",
    "system df",
    "system events",
    "system info",
    "system prune",
];

/// Flags of SCOPE no case passes, with the reason.
const NOT_COMPARED: &[(&str, &str, &str)] = &[];

/// Cases where berth differs on purpose, with the reason; what berth does
/// instead is asserted in `check_different`.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[
    (
        "volume prune -a --filter",
        "docker's CLI offers prune --all only against API 1.42+ (dockerd 20.10 serves 1.41, and prunes named volumes without it); berth has docker 28's prune: anonymous volumes, all with -a",
    ),
    ("volume prune --all", "as above"),
    (
        "volumes at the end",
        "as above: berth's -a removed the named volume left",
    ),
];

/// What berth does where it differs on purpose.
fn check_different(name: &str, (out, code): &Step) {
    match name {
        "volume prune -a --filter" => assert_eq!(
            (out.as_str(), *code),
            ("Deleted Volumes:\nv1\n\nTotal reclaimed space: 0B\n", 0),
            "{name}: the named volume labelled a=b"
        ),
        "volume prune --all" => assert_eq!(
            (out.as_str(), *code),
            ("Deleted Volumes:\nv2\n\nTotal reclaimed space: 0B\n", 0),
            "{name}"
        ),
        "volumes at the end" => assert_eq!((out.as_str(), *code), ("", 0), "{name}"),
        _ => panic!("{name}: no check for this difference"),
    }
}

fn s(cli: &dyn Cli, args: &[&str]) -> Step {
    let (out, code) = step(cli, args);
    (normalise(&out), code)
}

fn sorted(cli: &dyn Cli, args: &[&str]) -> Step {
    let (out, code) = s(cli, args);
    (sorted_lines(&out), code)
}

fn code(cli: &dyn Cli, args: &[&str]) -> Step {
    (String::new(), step(cli, args).1)
}

/// The RepoTags of a saved archive's manifest.json.
fn saved_tags(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut archive = tar::Archive::new(bytes);
    let Ok(entries) = archive.entries() else {
        return "not a tar".into();
    };
    for mut e in entries.filter_map(|e| e.ok()) {
        if e.path().is_ok_and(|p| p == Path::new("manifest.json")) {
            let mut text = String::new();
            let _ = e.read_to_string(&mut text);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["RepoTags"].to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
        }
    }
    "no manifest.json".into()
}

/// Now as unix seconds with nanoseconds: whole seconds would let in what
/// happened earlier in the same second (berth's steps take milliseconds).
fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

fn cases(cli: &dyn Cli, dir: &Path) -> Vec<(String, Step)> {
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| {
        // Progress in the test's output: a hang shows after which case.
        eprintln!("case done: {name}");
        log.push((name.to_string(), s))
    };
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();

    // tag, images, image ls
    add("tag", s(cli, &["tag", "busybox", "busybox:t1"]));
    add(
        "tag with a registry",
        s(cli, &["tag", "busybox:latest", "localhost:5000/x/y:z"]),
    );
    add(
        "tag bad reference",
        code(cli, &["tag", "busybox", "Bad:Ref:x"]),
    );
    add("tag no such image", code(cli, &["tag", "nosuch", "x"]));
    add(
        "images",
        sorted(
            cli,
            &[
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
            ],
        ),
    );
    add(
        "images table",
        s(
            cli,
            &[
                "images",
                "busybox",
                "--format",
                "table {{.Repository}}\t{{.Tag}}",
            ],
        ),
    );
    add("images -q", s(cli, &["images", "-q"]));
    add(
        "images --quiet --no-trunc",
        s(cli, &["images", "--quiet", "--no-trunc"]),
    );
    add(
        "images -a",
        sorted(
            cli,
            &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
    );
    add(
        "images --digests",
        sorted(
            cli,
            &[
                "images",
                "--digests",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.Digest}}",
            ],
        ),
    );
    add(
        "images --filter reference",
        s(
            cli,
            &[
                "images",
                "--filter",
                "reference=busybox:t*",
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ],
        ),
    );
    add(
        "images -f dangling",
        s(cli, &["images", "-f", "dangling=true", "-q"]),
    );
    add(
        "images --filter before",
        sorted(
            cli,
            &[
                "images",
                "--filter",
                "before=busybox",
                "--format",
                "{{.Tag}}",
            ],
        ),
    );
    add(
        "images bad filter",
        code(cli, &["images", "--filter", "bogus=1"]),
    );
    add(
        "image ls",
        sorted(
            cli,
            &[
                "image",
                "ls",
                "--all",
                "--digests",
                "--no-trunc",
                "--filter",
                "reference=busybox",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}}",
            ],
        ),
    );
    add("image ls -q", s(cli, &["image", "ls", "-q", "-a"]));

    // history, image inspect
    add(
        "history",
        s(
            cli,
            &[
                "history",
                "--format",
                "{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
                "busybox",
            ],
        ),
    );
    add("history -q", s(cli, &["history", "-q", "busybox"]));
    add(
        "history --quiet --no-trunc",
        s(cli, &["history", "--quiet", "--no-trunc", "busybox"]),
    );
    add(
        "history -H=false",
        s(
            cli,
            &["history", "-H=false", "--format", "{{.Size}}", "busybox"],
        ),
    );
    add(
        "history --human",
        s(
            cli,
            &["history", "--human", "--format", "{{.Size}}", "busybox"],
        ),
    );
    add(
        "history table",
        s(
            cli,
            &[
                "history",
                "--format",
                "table {{.CreatedBy}}\t{{.Size}}",
                "busybox",
            ],
        ),
    );
    add(
        "image inspect",
        s(
            cli,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Os}}/{{.Architecture}} {{.Config.Cmd}} {{.RepoTags}}",
                "busybox:t1",
            ],
        ),
    );
    add(
        "image inspect --format",
        s(
            cli,
            &[
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                "busybox",
            ],
        ),
    );
    add(
        "image inspect of nothing",
        code(cli, &["image", "inspect", "nosuch"]),
    );

    // save, load
    add(
        "save -o",
        code(cli, &["save", "-o", &p("t1.tar"), "busybox:t1"]),
    );
    add(
        "saved tags",
        (
            saved_tags(&std::fs::read(p("t1.tar")).unwrap_or_default()),
            0,
        ),
    );
    add(
        "save --output",
        code(
            cli,
            &[
                "save",
                "--output",
                &p("two.tar"),
                "busybox:t1",
                "localhost:5000/x/y:z",
            ],
        ),
    );
    add(
        "saved two",
        (
            sorted_lines(&saved_tags(
                &std::fs::read(p("two.tar")).unwrap_or_default(),
            )),
            0,
        ),
    );
    add("save to stdout", {
        let out = cli.run(&["save", "busybox:t1"]);
        (saved_tags(&out.stdout), out.status.code().unwrap_or(-1))
    });
    add(
        "save to a terminal-less stdout of nothing",
        code(cli, &["save", "nosuch"]),
    );
    add("rmi", s(cli, &["rmi", "busybox:t1"]));
    add("load -i", s(cli, &["load", "-i", &p("t1.tar")]));
    add("rmi again", s(cli, &["rmi", "busybox:t1"]));
    add("load -q", s(cli, &["load", "-q", "-i", &p("t1.tar")]));
    add(
        "load --input --quiet",
        s(cli, &["load", "--input", &p("two.tar"), "--quiet"]),
    );
    add("load from stdin", {
        let out = support::run_with_stdin_within(
            cli.command(&["load"]),
            &std::fs::read(p("t1.tar")).unwrap_or_default(),
            Duration::from_secs(60),
        );
        (
            normalise(&String::from_utf8_lossy(&out.stdout)),
            out.status.code().unwrap_or(-1),
        )
    });
    std::fs::write(dir.join("junk.tar"), b"not an archive").unwrap();
    add("load junk", code(cli, &["load", "-i", &p("junk.tar")]));

    // import
    add(
        "create ex",
        code(
            cli,
            &["create", "--network", "none", "--name", "ex", "busybox"],
        ),
    );
    add(
        "export ex",
        code(cli, &["export", "-o", &p("ex.tar"), "ex"]),
    );
    add(
        "import -c -m",
        code(
            cli,
            &[
                "import",
                "-c",
                "CMD [\"echo\", \"imported\"]",
                "-c",
                "ENV A=b",
                "-m",
                "msg",
                &p("ex.tar"),
                "imp:1",
            ],
        ),
    );
    add(
        "imported config",
        s(
            cli,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Config.Cmd}} {{.Config.Env}} {{.Comment}} {{.Architecture}}",
                "imp:1",
            ],
        ),
    );
    add(
        "run imported",
        s(cli, &["run", "--rm", "--network", "none", "imp:1"]),
    );
    add(
        "import --change --message --platform",
        code(
            cli,
            &[
                "import",
                "--change",
                "WORKDIR /tmp",
                "--message",
                "m2",
                "--platform",
                "linux/amd64",
                &p("ex.tar"),
                "imp:2",
            ],
        ),
    );
    add(
        "imported 2",
        s(
            cli,
            &[
                "image",
                "inspect",
                "-f",
                "{{.Config.WorkingDir}} {{.Comment}} {{.Os}}/{{.Architecture}}",
                "imp:2",
            ],
        ),
    );
    add(
        "import bad change",
        code(cli, &["import", "-c", "FROM x", &p("ex.tar"), "imp:3"]),
    );
    add(
        "import of nothing",
        code(cli, &["import", &p("nosuch.tar")]),
    );

    // rmi, image rm, image prune
    add("rmi in use", code(cli, &["rmi", "busybox"]));
    add("rmi -f", s(cli, &["rmi", "-f", "imp:2"]));
    add("tag for no-prune", code(cli, &["tag", "imp:1", "imp:np"]));
    add("rmi --no-prune", s(cli, &["rmi", "--no-prune", "imp:np"]));
    add(
        "image rm --force --no-prune",
        s(cli, &["image", "rm", "--force", "--no-prune", "imp:1"]),
    );
    add("rmi nothing", code(cli, &["rmi", "nosuch"]));
    add("rmi -f nothing", code(cli, &["rmi", "-f", "nosuch"]));
    add("image prune -f", s(cli, &["image", "prune", "-f"]));
    add(
        "image prune --filter until",
        s(
            cli,
            &[
                "image",
                "prune",
                "--force",
                "--all",
                "--filter",
                "until=2000-01-01T00:00:00",
            ],
        ),
    );
    add(
        "image prune -a --filter label",
        s(
            cli,
            &["image", "prune", "-a", "-f", "--filter", "label=nosuch"],
        ),
    );
    add("image prune -a", s(cli, &["image", "prune", "-a", "-f"]));
    add(
        "images left",
        sorted(cli, &["images", "--format", "{{.Repository}}:{{.Tag}}"]),
    );
    // busybox again for what follows (never a pull: no Docker Hub here).
    add("load busybox again", s(cli, &["load", "-i", &p("t1.tar")]));
    add(
        "tag busybox again",
        code(cli, &["tag", "busybox:t1", "busybox"]),
    );

    // volumes
    add(
        "volume create",
        s(
            cli,
            &[
                "volume",
                "create",
                "--label",
                "a=b",
                "-d",
                "local",
                "-o",
                "type=tmpfs",
                "-o",
                "device=tmpfs",
                "-o",
                "o=size=1m",
                "v1",
            ],
        ),
    );
    add(
        "volume create --driver --opt",
        s(
            cli,
            &[
                "volume",
                "create",
                "--driver",
                "local",
                "--opt",
                "type=tmpfs",
                "--opt",
                "device=tmpfs",
                "v2",
            ],
        ),
    );
    add(
        "volume create --name",
        s(cli, &["volume", "create", "--name", "v3"]),
    );
    add(
        "volume create bad driver",
        code(cli, &["volume", "create", "-d", "nosuch", "v4"]),
    );
    add(
        "volume create bad name",
        code(cli, &["volume", "create", "bad/name"]),
    );
    add(
        "volume inspect -f",
        s(
            cli,
            &[
                "volume",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{.Scope}}",
                "v1",
            ],
        ),
    );
    add("volume inspect --format", {
        // Each engine's own data root, then the same layout.
        let (out, code) = s(
            cli,
            &["volume", "inspect", "--format", "{{.Mountpoint}}", "v1"],
        );
        (
            out.rsplit_once("/volumes/")
                .map(|(_, t)| t.to_string())
                .unwrap_or(out),
            code,
        )
    });
    add(
        "volume inspect two",
        s(cli, &["volume", "inspect", "-f", "{{.Name}}", "v1", "v2"]),
    );
    add(
        "volume inspect of nothing",
        code(cli, &["volume", "inspect", "nosuch"]),
    );
    add(
        "volume ls",
        sorted(
            cli,
            &[
                "volume",
                "ls",
                "--format",
                "{{.Name}} {{.Driver}} {{.Labels}}",
            ],
        ),
    );
    add("volume ls -q", sorted(cli, &["volume", "ls", "-q"]));
    add(
        "volume ls --quiet --filter",
        s(cli, &["volume", "ls", "--quiet", "--filter", "label=a=b"]),
    );
    add(
        "volume ls -f dangling",
        sorted(
            cli,
            &[
                "volume",
                "ls",
                "-f",
                "dangling=true",
                "--format",
                "{{.Name}}",
            ],
        ),
    );
    add(
        "volume ls table",
        s(
            cli,
            &[
                "volume",
                "ls",
                "--filter",
                "name=v1",
                "--format",
                "table {{.Driver}}\t{{.Name}}",
            ],
        ),
    );
    add(
        "volume used",
        code(
            cli,
            &[
                "create",
                "--network",
                "none",
                "--name",
                "vu",
                "-v",
                "v1:/v",
                "busybox",
            ],
        ),
    );
    add("volume rm in use", code(cli, &["volume", "rm", "v1"]));
    add(
        "volume rm -f in use",
        code(cli, &["volume", "rm", "-f", "v1"]),
    );
    add(
        "volume rm --force nothing",
        s(cli, &["volume", "rm", "--force", "nosuch"]),
    );
    add("volume rm", s(cli, &["volume", "rm", "v3"]));
    // A tmpfs volume is one tmpfs while containers use it (shared by
    // concurrent ones), and empty again once none does.
    add(
        "tmpfs volume",
        code(
            cli,
            &[
                "volume",
                "create",
                "-o",
                "type=tmpfs",
                "-o",
                "device=tmpfs",
                "vt",
            ],
        ),
    );
    add(
        "tmpfs volume writer",
        code(
            cli,
            &[
                "run",
                "-d",
                "--pull=never",
                "--network",
                "none",
                "--name",
                "vt1",
                "-v",
                "vt:/v",
                "busybox",
                "sh",
                "-c",
                "echo shared > /v/f; sleep 100",
            ],
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    add(
        "tmpfs volume shared",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--pull=never",
                "--network",
                "none",
                "-v",
                "vt:/v",
                "busybox",
                "cat",
                "/v/f",
            ],
        ),
    );
    add("tmpfs volume writer gone", code(cli, &["rm", "-f", "vt1"]));
    add(
        "tmpfs volume empty again",
        s(
            cli,
            &[
                "run",
                "--rm",
                "--pull=never",
                "--network",
                "none",
                "-v",
                "vt:/v",
                "busybox",
                "ls",
                "/v",
            ],
        ),
    );
    add("tmpfs volume rm", s(cli, &["volume", "rm", "vt"]));
    add(
        "volume prune --filter",
        s(cli, &["volume", "prune", "-f", "--filter", "label=nosuch"]),
    );
    add("volumes left", sorted(cli, &["volume", "ls", "-q"]));

    // events
    let since = now();
    add(
        "run ev",
        code(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                "ev",
                "busybox",
                "sleep",
                "1000",
            ],
        ),
    );
    add("rm ev", code(cli, &["rm", "-f", "ev"]));
    std::thread::sleep(Duration::from_millis(1100));
    let until = now();
    add(
        "events",
        s(
            cli,
            &[
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "--filter",
                "container=ev",
                "--filter",
                "event=create",
                "--filter",
                "event=start",
                "--filter",
                "event=die",
                "--filter",
                "event=destroy",
                "--format",
                "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.image}}",
            ],
        ),
    );
    add(
        "events -f type",
        s(
            cli,
            &[
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "-f",
                "type=container",
                "-f",
                "event=destroy",
                "--format",
                "{{.Status}} {{.From}}",
            ],
        ),
    );
    add(
        "system events",
        s(
            cli,
            &[
                "system",
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "--filter",
                "event=start",
                "--format",
                "{{json .Actor.Attributes.name}}",
            ],
        ),
    );
    add(
        "events bad filter",
        code(
            cli,
            &[
                "events", "--since", &since, "--until", &until, "--filter", "bogus=1",
            ],
        ),
    );

    // info, version, system df, system prune
    let facts = "{{.OSType}} {{.Architecture}} {{.NCPU}} {{.MemTotal}} {{.KernelVersion}} {{.OperatingSystem}}";
    add("info --format", s(cli, &["info", "--format", facts]));
    add("system info -f", s(cli, &["system", "info", "-f", facts]));
    add(
        "info bad template",
        code(cli, &["info", "--format", "{{.Nope"]),
    );
    add(
        "version --format",
        s(
            cli,
            &[
                "version",
                "--format",
                "{{.Server.Os}}/{{.Server.Arch}} {{.Client.Os}}",
            ],
        ),
    );
    add("version -f", s(cli, &["version", "-f", "{{.Client.Arch}}"]));
    add(
        "system df --format",
        s(
            cli,
            &[
                "system",
                "df",
                "--format",
                "{{.Type}} {{.TotalCount}} {{.Active}}",
            ],
        ),
    );
    add("system df -v", {
        let (out, code) = s(cli, &["system", "df", "-v"]);
        let heads = out
            .lines()
            .filter(|l| {
                l.ends_with(':')
                    || l.starts_with("REPOSITORY")
                    || l.starts_with("CONTAINER ID")
                    || l.starts_with("VOLUME NAME")
                    || l.starts_with("CACHE ID")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        (heads, code)
    });
    add(
        "system df --verbose --format",
        s(
            cli,
            &[
                "system",
                "df",
                "--verbose",
                "--format",
                "{{range .Images}}{{.Repository}} {{end}}|{{range .Volumes}}{{.Name}} {{end}}",
            ],
        ),
    );
    add("rm vu", code(cli, &["rm", "vu"]));
    add("system prune -f", s(cli, &["system", "prune", "-f"]));
    add(
        "system prune --filter",
        s(
            cli,
            &["system", "prune", "--force", "--filter", "label=nosuch"],
        ),
    );
    add(
        "system prune until with volumes",
        code(
            cli,
            &["system", "prune", "-f", "--volumes", "--filter", "until=1h"],
        ),
    );
    add(
        "system prune -a --volumes",
        s(cli, &["system", "prune", "-a", "--volumes", "-f"]),
    );
    add(
        "system prune --all",
        s(cli, &["system", "prune", "--all", "--force"]),
    );
    add("images after system prune", s(cli, &["images", "-q"]));
    add(
        "volumes after system prune",
        s(cli, &["volume", "ls", "-q"]),
    );
    add(
        "volume prune -a --filter",
        s(
            cli,
            &["volume", "prune", "-a", "--force", "--filter", "label=a=b"],
        ),
    );
    add(
        "volume prune --all",
        s(cli, &["volume", "prune", "--all", "-f"]),
    );
    add("volumes at the end", s(cli, &["volume", "ls", "-q"]));
    log
}

#[test]
fn image_volume_and_system_commands_behave_as_in_docker() {
    let test = "image_volume_and_system_commands_behave_as_in_docker";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = support::container_store(test) else {
        return;
    };
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);
    let theirs_dir = tempfile::tempdir().unwrap();
    let ours_dir = tempfile::tempdir().unwrap();

    let theirs = cases(&docker, theirs_dir.path());
    let recorder = Recorder::new(&store);
    let ours = cases(&recorder, ours_dir.path());
    assert_same(
        "image, volume and system commands",
        &theirs,
        &ours,
        DELIBERATELY_DIFFERENT,
        check_different,
    );
    assert_every_flag_compared(test, SCOPE, &recorder.lines(), NOT_COMPARED);
    store.assert_check_clean();
}
