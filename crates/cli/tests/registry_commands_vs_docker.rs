//! Differential, table-driven: every flag of docker's registry commands
//! (pull, push, login, logout, search), each passed by a case run by the
//! docker CLI v28 against a private dockerd and by berth. Each side has a
//! registry of its own (a real distribution registry with htpasswd
//! authentication, so a push never finds the other side's layers); the
//! registry's address is normalised to `<registry>`. Search goes to
//! `support::search_index` (Docker Hub cannot be reached here, and the
//! registry has no search API): the one stand-in, said in its file.
//! As in the other `*_commands_vs_docker.rs`, a flag no case passes fails
//! the test unless listed with the reason. Root only; needs dockerd.

mod support;

use std::time::Duration;

use support::differential::{Cli, Step, assert_same, no_difference};
use support::docker_flags::{Recorder, assert_every_flag_compared};
use support::dockerd::Dockerd;
use support::normalise::normalise;
use support::registry::{Registry, RegistryAuth};
use support::search_index::SearchIndex;

const SCOPE: &[&str] = &["pull", "push", "login", "logout", "search"];

/// Flags of SCOPE no case passes, with the reason.
const NOT_COMPARED: &[(&str, &str, &str)] = &[];

/// Cases where berth differs on purpose, with the reason.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[];

const USER: &str = "tester";
const PASSWORD: &str = "s3cret-pw";

/// One side: its CLI, its registry's address, the index's.
struct Side<'a> {
    cli: &'a dyn Cli,
    registry: String,
    index: String,
}

impl Side<'_> {
    fn norm(&self, text: &str) -> String {
        let text = normalise(
            &text
                .replace(&self.registry, "<registry>")
                .replace(&self.index, "<index>"),
        );
        // The manifest's size: berth pushes an OCI image manifest (as
        // docker 25+ with the containerd store does), dockerd 20.10 a
        // Docker schema 2 one; both pull everywhere, their sizes differ.
        let size = regex_lite::Regex::new(r"digest: sha256:<ID> size: \d+").unwrap();
        size.replace_all(&text, "digest: sha256:<ID> size: <n>")
            .into_owned()
    }

    fn s(&self, args: &[&str]) -> Step {
        self.with_stdin(args, "")
    }

    fn code(&self, args: &[&str]) -> Step {
        (String::new(), self.s(args).1)
    }

    fn with_stdin(&self, args: &[&str], input: &str) -> Step {
        let out = support::run_with_stdin_within(
            self.cli.command(args),
            input.as_bytes(),
            Duration::from_secs(120),
        );
        (
            self.norm(&String::from_utf8_lossy(&out.stdout)),
            out.status.code().unwrap_or(-1),
        )
    }

    /// stderr's first line, normalised: the error's words.
    fn error(&self, args: &[&str]) -> Step {
        let out = self.cli.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| !l.starts_with("WARNING"))
            .unwrap_or("")
            .replace("docker", "berth")
            .replace("Error response from daemon: ", "");
        // berth is its own daemon: its errors start "Error: ".
        let line = line.strip_prefix("Error: ").unwrap_or(&line).to_string();
        (self.norm(&line), out.status.code().unwrap_or(-1))
    }
}

fn cases(side: &Side) -> Vec<(String, Step)> {
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| {
        // Progress in the test's output: a hang shows after which case.
        eprintln!("case done: {name}");
        log.push((name.to_string(), s))
    };
    let r = |path: &str| format!("{}/{path}", side.registry);
    let i = |path: &str| format!("{}/{path}", side.index);

    // login, logout
    add("push before login", side.code(&["push", &r("bb:1")]));
    add(
        "login wrong password",
        side.code(&["login", "-u", USER, "-p", "wrong", &side.registry]),
    );
    add(
        "login without a password on a pipe",
        side.code(&["login", "-u", USER, &side.registry]),
    );
    add(
        "login --password-stdin",
        side.with_stdin(
            &[
                "login",
                "--username",
                USER,
                "--password-stdin",
                &side.registry,
            ],
            &format!("{PASSWORD}\n"),
        ),
    );
    add("logout", side.s(&["logout", &side.registry]));
    add("logout again", side.s(&["logout", &side.registry]));
    add(
        "login -p",
        side.s(&["login", "-u", USER, "--password", PASSWORD, &side.registry]),
    );
    add(
        "login -p and --password-stdin",
        side.code(&[
            "login",
            "-u",
            USER,
            "-p",
            PASSWORD,
            "--password-stdin",
            &side.registry,
        ]),
    );
    add(
        "login to nothing",
        side.code(&["login", "-u", USER, "-p", PASSWORD, "127.0.0.1:9"]),
    );

    // push
    add("tag 1", side.s(&["tag", "busybox", &r("bb:1")]));
    add("tag 2", side.s(&["tag", "busybox", &r("bb:2")]));
    add("push", side.s(&["push", &r("bb:1")]));
    add("push again", side.s(&["push", &r("bb:1")]));
    add("push -q", side.s(&["push", "-q", &r("bb:2")]));
    add("push --quiet", side.s(&["push", "--quiet", &r("bb:1")]));
    add("push -a", side.s(&["push", "-a", "-q", &r("bb")]));
    add("push --all-tags", side.s(&["push", "--all-tags", &r("bb")]));
    add(
        "push --all-tags with a tag",
        side.code(&["push", "--all-tags", &r("bb:1")]),
    );
    add("push of nothing", side.error(&["push", &r("nosuch:1")]));

    // pull
    add("rmi", side.code(&["rmi", &r("bb:1"), &r("bb:2")]));
    add("pull", side.s(&["pull", &r("bb:1")]));
    add("pull again", side.s(&["pull", &r("bb:1")]));
    add("rmi again", side.code(&["rmi", &r("bb:1")]));
    add("pull -q", side.s(&["pull", "-q", &r("bb:1")]));
    add("pull --quiet", side.s(&["pull", "--quiet", &r("bb:2")]));
    add("rmi both", side.code(&["rmi", &r("bb:1"), &r("bb:2")]));
    // Tags come in the registry's order (a directory listing): sorted.
    add("pull -a", {
        let (out, code) = side.s(&["pull", "-a", &r("bb")]);
        (support::normalise::sorted_lines(&out), code)
    });
    add(
        "pull --all-tags with a tag",
        side.code(&["pull", "--all-tags", &r("bb:1")]),
    );
    add("pulled tags", {
        let (out, code) = side.s(&["images", "--format", "{{.Repository}}:{{.Tag}}", &r("bb")]);
        (support::normalise::sorted_lines(&out), code)
    });
    add("rmi all", side.code(&["rmi", &r("bb:1"), &r("bb:2")]));
    add(
        "pull --all-tags --quiet",
        side.s(&["pull", "--all-tags", "--quiet", &r("bb")]),
    );
    add(
        "pull --platform",
        side.s(&["pull", "--platform", "linux/amd64", &r("bb:1")]),
    );
    add(
        "pull --platform other",
        side.error(&["pull", "--platform", "linux/s390x", &r("bb:1")]),
    );
    add(
        "pull --platform bad",
        side.code(&["pull", "--platform", "nonsense/x/y/z", &r("bb:1")]),
    );
    add("pull of nothing", side.error(&["pull", &r("nosuch:1")]));
    add("logout", side.s(&["logout", &side.registry]));
    add("pull after logout", side.code(&["pull", &r("bb:1")]));

    // search
    add("search", side.s(&["search", &i("busybox")]));
    add(
        "search --limit",
        side.s(&["search", "--limit", "1", &i("busybox")]),
    );
    add(
        "search --limit 0",
        side.error(&["search", "--limit", "0", &i("busybox")]),
    );
    add(
        "search --limit 101",
        side.error(&["search", "--limit", "101", &i("busybox")]),
    );
    add(
        "search --no-trunc",
        side.s(&["search", "--no-trunc", &i("busybox")]),
    );
    add(
        "search --format",
        side.s(&[
            "search",
            "--format",
            "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}|{{.Description}}",
            &i("busybox"),
        ]),
    );
    add(
        "search --format IsAutomated",
        side.code(&["search", "--format", "{{.IsAutomated}}", &i("b")]),
    );
    add(
        "search --format table",
        side.s(&[
            "search",
            "--format",
            "table {{.Name}}\t{{.IsOfficial}}\t{{.StarCount}}",
            &i("b"),
        ]),
    );
    add(
        "search -f stars",
        side.s(&["search", "-f", "stars=10", &i("busybox")]),
    );
    add(
        "search --filter is-official",
        side.s(&["search", "--filter", "is-official=true", &i("b")]),
    );
    add(
        "search --filter is-automated",
        side.s(&["search", "--filter", "is-automated=true", &i("busybox")]),
    );
    add(
        "search filters together",
        side.s(&[
            "search",
            "--filter",
            "is-official=false",
            "--filter",
            "stars=1",
            &i("b"),
        ]),
    );
    add(
        "search bad filter",
        side.error(&["search", "--filter", "bogus=1", &i("busybox")]),
    );
    add(
        "search bad stars",
        side.error(&["search", "--filter", "stars=many", &i("busybox")]),
    );
    add(
        "search nothing found",
        side.s(&["search", &i("nosuchthing")]),
    );
    add(
        "search an unreachable index",
        side.code(&["search", "127.0.0.1:9/busybox"]),
    );
    log
}

#[test]
fn registry_commands_behave_as_in_docker() {
    let test = "registry_commands_behave_as_in_docker";
    let Some(docker) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = support::container_store(test) else {
        return;
    };
    let auth = || RegistryAuth::Htpasswd {
        user: USER.into(),
        password: PASSWORD.into(),
    };
    let Some(theirs_registry) = Registry::start(test, None, auth()) else {
        return;
    };
    let Some(ours_registry) = Registry::start(test, None, auth()) else {
        return;
    };
    let index = SearchIndex::start();
    let archive = docker.dir().join("busybox.tar");
    store.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    docker.ok(&["load", "-i", archive.to_str().unwrap()]);

    let theirs = cases(&Side {
        cli: &docker,
        registry: theirs_registry.host(),
        index: index.host(),
    });
    let recorder = Recorder::new(&store);
    let ours = cases(&Side {
        cli: &recorder,
        registry: ours_registry.host(),
        index: index.host(),
    });
    assert_same(
        "registry commands",
        &theirs,
        &ours,
        DELIBERATELY_DIFFERENT,
        no_difference,
    );
    assert_every_flag_compared(test, SCOPE, &recorder.lines(), NOT_COMPARED);
    store.assert_check_clean();
}
