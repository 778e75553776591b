//! Differential: one docker CLI (v28 where installed), one table of
//! commands, two engines. The table runs in order against a private
//! dockerd, then in the same order against `berth daemon` on a test store;
//! for every command the exit code and the normalised stdout must be the
//! same. It covers images, one-shot runs and their exit codes, the
//! lifecycle of a container (create, start, stop, kill, restart, pause,
//! rename, wait, rm), `ps` and its filters and formats, `inspect` fields,
//! logs, exec, top, diff, cp both ways, update, commit, tag/rmi, volumes,
//! bind mounts, and the errors users hit most.
//!
//! Why: the other daemon tests (api_docker_cli.rs, api_bad_requests.rs)
//! check berth's answers against what we believe Docker answers; this one
//! checks them against what Docker answers, through the client people
//! use, so that any difference the CLI can show is seen.
//!
//! Normalised before comparing, because they differ by nature:
//! - container and image IDs (12 or 64 hex digits) become `<id>`;
//! - times and durations ("2 seconds ago", "Less than a second ago",
//!   "About a minute ago", the "3 seconds" of "Up 3 seconds") become
//!   `<time>`;
//! - sizes (`1.98MB`, `0B`, `2.05kB`) become `<size>`;
//! - each side's host directory (for `cp` and `-v`) becomes `{host}`;
//! - runs of spaces (column padding) become one space;
//! - the wrapping dockerd's runtime chain puts around a process's start
//!   error ("OCI runtime exec failed: exec failed: …: unknown") is taken
//!   off, leaving the message both engines give.
//!
//! stderr's first line (normalised) is compared when either side fails: a
//! difference there is reported, but fails the test only for rows marked
//! `strict_stderr` (messages the CLI writes itself, or Docker's wording
//! that scripts match on, like "No such container: NAME"). Every
//! difference is collected and shown in one table at the end.
//!
//! Both sides use the same docker CLI binary (the one `BerthDaemon` picks),
//! each with its own config dir. Containers use `--network none` (the
//! private dockerd runs with `--bridge=none`); names have two characters
//! at least (Docker refuses shorter ones). The same busybox is in both:
//! berth's, saved and loaded into dockerd. Root only; needs dockerd and
//! the docker CLI (apt-get install docker.io; docker-ce-cli 28).

mod support;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::berth_daemon::BerthDaemon;
use support::dockerd::Dockerd;

/// In a row's arguments: the side's own host directory (see `host_dir`).
const HOST: &str = "{host}";

/// How much of stdout a row compares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Out {
    /// All of it.
    Full,
    /// The first line (the rest names storage details, e.g. the layers
    /// `rmi` deletes, which differ by design).
    FirstLine,
    /// The first line and how many lines follow (the rows hold pids and
    /// start times).
    Shape,
    /// All of it, lines sorted: the order is the file system's readdir
    /// order (`diff`), which neither engine defines.
    Sorted,
}

/// One command of the table.
struct Row {
    args: &'static [&'static str],
    /// A stderr difference fails the test (otherwise it is only reported).
    strict_stderr: bool,
    stdout: Out,
}

const fn row_of(args: &'static [&'static str], strict_stderr: bool, stdout: Out) -> Row {
    Row {
        args,
        strict_stderr,
        stdout,
    }
}

const fn row(args: &'static [&'static str]) -> Row {
    row_of(args, false, Out::Full)
}

/// An error whose first stderr line must match too.
const fn strict(args: &'static [&'static str]) -> Row {
    row_of(args, true, Out::Full)
}

const fn shape(args: &'static [&'static str]) -> Row {
    row_of(args, false, Out::Shape)
}

const fn sorted(args: &'static [&'static str]) -> Row {
    row_of(args, false, Out::Sorted)
}

const fn first_line_only(args: &'static [&'static str]) -> Row {
    row_of(args, false, Out::FirstLine)
}

const REPO_TAG: &str = "{{.Repository}}:{{.Tag}}";
const STATE: &str = "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}";
const NAME_STATUS: &str = "{{.Names}} {{.Status}}";

/// The session, in order; both engines run all of it.
#[rustfmt::skip]
const ROWS: &[Row] = &[
    // Images: the one busybox both engines hold, as the CLI lists and
    // inspects it.
    row(&["images", "--format", REPO_TAG]),
    row(&["image", "ls", "--format", REPO_TAG]),
    row(&["images"]),
    row(&["images", "-q"]),
    row(&["image", "inspect", "-f", "{{.Config.Cmd}}", "busybox"]),
    row(&["inspect", "-f", "{{.Os}} {{.Architecture}}", "busybox"]),
    row(&["image", "inspect", "-f", "{{.RepoTags}}", "busybox"]),
    row(&["history", "--format", "{{.CreatedBy}}|{{.Comment}}", "busybox"]),
    // One-shot containers: output, environment, workdir, user, exit codes;
    // --rm leaves nothing behind.
    row(&["run", "--rm", "--network", "none", "busybox", "echo", "hello"]),
    row(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2"]),
    row(&["run", "--rm", "--network", "none", "-e", "FOO=bar", "busybox", "sh", "-c", "echo $FOO"]),
    row(&["run", "--rm", "--network", "none", "-w", "/tmp", "busybox", "pwd"]),
    row(&["run", "--rm", "--network", "none", "-u", "nobody", "busybox", "sh", "-c", "id -u; id -g"]),
    row(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3"]),
    row(&["run", "--rm", "--network", "none", "busybox", "true"]),
    row(&["ps", "-a", "-q"]),
    // A long-running container: ps in its forms, inspect fields.
    row(&["run", "-d", "--network", "none", "--name", "sleeper", "busybox", "sleep", "300"]),
    row(&["ps"]),
    row(&["ps", "-q"]),
    row(&["ps", "--format", NAME_STATUS]),
    row(&["ps", "--format", "{{.Command}}"]),
    row(&["ps", "--filter", "name=sleeper", "--format", "{{.Names}}"]),
    row(&["ps", "--filter", "status=running", "--format", "{{.Names}}"]),
    row(&["inspect", "-f", STATE, "sleeper"]),
    row(&["inspect", "-f", "{{.Name}}", "sleeper"]),
    row(&["container", "inspect", "-f", "{{.Config.Cmd}}", "sleeper"]),
    row(&["inspect", "-f", "{{.Config.Env}}", "sleeper"]),
    row(&["inspect", "-f", "{{.Config.Image}}", "sleeper"]),
    row(&["inspect", "-f", "{{.HostConfig.Memory}}", "sleeper"]),
    row(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "sleeper"]),
    row(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "sleeper"]),
    row(&["start", "sleeper"]),
    // Lifecycle: stop (sleep as pid 1 ignores SIGTERM: killed after 1 s),
    // stop again, start, restart, pause, unpause, kill, wait, rename, rm.
    row(&["stop", "-t", "1", "sleeper"]),
    row(&["inspect", "-f", STATE, "sleeper"]),
    row(&["wait", "sleeper"]),
    row(&["ps", "--format", "{{.Names}}"]),
    row(&["ps", "-a", "--filter", "name=sleeper", "--format", NAME_STATUS]),
    row(&["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"]),
    row(&["ps", "-a", "--filter", "exited=137", "--format", "{{.Names}}"]),
    row(&["stop", "sleeper"]),
    row(&["start", "sleeper"]),
    row(&["restart", "-t", "1", "sleeper"]),
    row(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "sleeper"]),
    row(&["pause", "sleeper"]),
    row(&["ps", "--filter", "status=paused", "--format", NAME_STATUS]),
    row(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "sleeper"]),
    row(&["unpause", "sleeper"]),
    row(&["kill", "sleeper"]),
    row(&["wait", "sleeper"]),
    row(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "sleeper"]),
    row(&["rename", "sleeper", "sleeper2"]),
    row(&["ps", "-a", "--filter", "name=sleeper", "--format", "{{.Names}}"]),
    row(&["rm", "sleeper2"]),
    row(&["ps", "-a", "-q"]),
    // create, then start: the Created state, start -a, logs of both runs,
    // a restart policy as given.
    row(&["create", "--network", "none", "--name", "created", "busybox", "echo", "made"]),
    row(&["ps", "-a", "--format", NAME_STATUS]),
    row(&["start", "created"]),
    row(&["wait", "created"]),
    row(&["start", "-a", "created"]),
    row(&["logs", "created"]),
    row(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "created"]),
    row(&["create", "--network", "none", "--restart", "on-failure:2", "--name", "policy", "busybox", "true"]),
    row(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "policy"]),
    row(&["rm", "created", "policy"]),
    // Logs: stdout and stderr kept apart (stdout compared), --tail; the
    // Command column, which quotes arguments that hold spaces.
    row(&["run", "--network", "none", "--name", "logbox", "busybox", "sh", "-c", "echo one; echo two; echo three"]),
    row(&["logs", "logbox"]),
    row(&["logs", "--tail", "1", "logbox"]),
    row(&["run", "--network", "none", "--name", "errbox", "busybox", "sh", "-c", "echo out; echo err >&2"]),
    row(&["logs", "errbox"]),
    row(&["ps", "-a", "--format", NAME_STATUS]),
    row(&["ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Command}}"]),
    row(&["rm", "logbox", "errbox"]),
    // exec: environment, workdir, user, exit codes; top; diff before and
    // after the container changes its filesystem.
    row(&["run", "-d", "--network", "none", "--name", "execbox", "busybox", "sleep", "300"]),
    row(&["exec", "execbox", "echo", "hi"]),
    row(&["exec", "-e", "FOO=bar", "execbox", "sh", "-c", "echo $FOO"]),
    row(&["exec", "-w", "/tmp", "execbox", "pwd"]),
    row(&["exec", "-u", "nobody", "execbox", "sh", "-c", "id -u; id -g"]),
    row(&["exec", "execbox", "sh", "-c", "exit 7"]),
    row(&["exec", "execbox", "nosuchcmd"]),
    row(&["exec", "execbox", "sh", "-c", "echo to-stderr >&2"]),
    shape(&["top", "execbox"]),
    sorted(&["diff", "execbox"]),
    row(&["exec", "execbox", "sh", "-c", "mkdir /root/made && echo x > /root/made/f && rm /etc/group"]),
    sorted(&["diff", "execbox"]),
    // cp both ways (the files written on the host are compared after the
    // table), and what the container's filesystem shows of it.
    row(&["run", "-d", "--network", "none", "--name", "cpbox", "busybox", "sleep", "300"]),
    row(&["cp", "{host}/in.txt", "cpbox:/tmp/in.txt"]),
    row(&["exec", "cpbox", "cat", "/tmp/in.txt"]),
    row(&["exec", "cpbox", "stat", "-c", "%a %u %g", "/tmp/in.txt"]),
    row(&["cp", "{host}/indir", "cpbox:/tmp/"]),
    row(&["cp", "cpbox:/etc/passwd", "{host}/out/passwd"]),
    row(&["cp", "cpbox:/tmp/indir", "{host}/out/"]),
    row(&["cp", "cpbox:/nosuch", "{host}/out/"]),
    sorted(&["diff", "cpbox"]),
    // update of a running container.
    row(&["update", "--memory", "64m", "--memory-swap", "128m", "cpbox"]),
    row(&["inspect", "-f", "{{.HostConfig.Memory}}", "cpbox"]),
    // commit with a changed CMD, the committed image run; tag and rmi.
    row(&["run", "--network", "none", "--name", "commitsrc", "busybox", "sh", "-c", "echo committed > /root/made"]),
    sorted(&["diff", "commitsrc"]),
    row(&["commit", "-c", "CMD [\"echo\",\"x\"]", "commitsrc", "committed:1"]),
    row(&["images", "--format", REPO_TAG, "committed"]),
    row(&["image", "inspect", "-f", "{{.Config.Cmd}}", "committed:1"]),
    row(&["run", "--rm", "--network", "none", "committed:1"]),
    row(&["run", "--rm", "--network", "none", "committed:1", "cat", "/root/made"]),
    row(&["history", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:1"]),
    row(&["tag", "committed:1", "committed:2"]),
    row(&["rmi", "committed:2"]),
    row(&["tag", "busybox", "busybox:extra"]),
    row(&["images", "--format", REPO_TAG, "busybox:extra"]),
    row(&["rmi", "busybox:extra"]),
    // Volumes (named, in use) and bind mounts (read-write and read-only).
    row(&["volume", "create", "vol-a"]),
    row(&["volume", "ls", "-q"]),
    row(&["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "vol-a"]),
    row(&["run", "--rm", "--network", "none", "-v", "vol-a:/data", "busybox", "sh", "-c", "echo kept > /data/f"]),
    row(&["run", "--rm", "--network", "none", "-v", "vol-a:/data", "busybox", "cat", "/data/f"]),
    row(&["run", "--network", "none", "--name", "voluser", "-v", "vol-a:/data", "busybox", "true"]),
    row(&["volume", "rm", "vol-a"]),
    row(&["rm", "voluser"]),
    row(&["volume", "rm", "vol-a"]),
    row(&["volume", "ls", "-q"]),
    row(&["run", "--rm", "--network", "none", "-v", "{host}/bind:/mnt", "busybox", "cat", "/mnt/file"]),
    row(&["run", "--rm", "--network", "none", "-v", "{host}/bind:/mnt", "busybox", "sh", "-c", "echo from-ctr > /mnt/out"]),
    row(&["run", "--rm", "--network", "none", "-v", "{host}/bind:/mnt:ro", "busybox", "sh", "-c", "echo x > /mnt/ro"]),
    // run's exit codes when the command cannot run: 127 not found, 126
    // not executable.
    row(&["run", "--rm", "--network", "none", "busybox", "nosuchcmd"]),
    row(&["run", "--rm", "--network", "none", "busybox", "/etc"]),
    row(&["run", "--rm", "--network", "none", "busybox", "/etc/passwd"]),
    // Errors: no such object, wrong state, name conflicts, in use.
    strict(&["inspect", "nosuch"]),
    strict(&["rm", "nosuch"]),
    strict(&["stop", "nosuch"]),
    strict(&["start", "nosuch"]),
    strict(&["logs", "nosuch"]),
    strict(&["exec", "nosuch", "true"]),
    strict(&["rmi", "nosuch"]),
    strict(&["run", "--rm", "--network", "none", "--pull", "never", "nosuch-image-xyz:1", "true"]),
    strict(&["volume", "rm", "nosuch"]),
    row(&["run", "--network", "none", "--name", "stopped", "busybox", "true"]),
    row(&["kill", "stopped"]),
    row(&["pause", "stopped"]),
    row(&["unpause", "execbox"]),
    row(&["exec", "stopped", "true"]),
    row(&["top", "stopped"]),
    strict(&["create", "--network", "none", "--name", "stopped", "busybox", "true"]),
    strict(&["create", "--network", "none", "--name", "x", "busybox", "true"]),
    row(&["rm", "execbox"]),
    row(&["rmi", "busybox"]),
    // The end state: everything removed through the CLI, nothing left.
    row(&["rm", "-f", "execbox", "cpbox"]),
    row(&["rm", "stopped", "commitsrc"]),
    row(&["ps", "-a", "-q"]),
    first_line_only(&["rmi", "committed:1"]),
    row(&["images", "--format", REPO_TAG]),
    row(&["volume", "ls", "-q"]),
];

/// Files on the host the table's `cp` and `-v` rows write (or must not),
/// relative to each side's host directory; compared after the table.
const HOST_FILES: &[&str] = &["out/passwd", "out/indir/a", "bind/out", "bind/ro"];

/// How long one CLI command may take before it is killed (and counted as
/// exit code -1).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What one command did.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with stdin closed, killing it after `COMMAND_TIMEOUT`.
fn outcome(mut cmd: Command) -> Outcome {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the docker CLI");
    let mut stdout = child.stdout.take().expect("stdout pipe");
    let mut stderr = child.stderr.take().expect("stderr pipe");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut timed_out = false;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
        }
    };
    let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    if timed_out {
        stderr.insert_str(0, &format!("<killed after {COMMAND_TIMEOUT:?}>\n"));
    }
    Outcome {
        code,
        stdout,
        stderr,
    }
}

/// The docker CLI with these arguments, pointed at one engine.
type CliFor<'a> = Box<dyn Fn(&[&str]) -> Command + 'a>;

/// One engine: how to run the docker CLI against it, and its host
/// directory.
struct Side<'a> {
    label: &'static str,
    host: PathBuf,
    command: CliFor<'a>,
}

impl Side<'_> {
    fn host(&self) -> &str {
        self.host.to_str().expect("a UTF-8 temp path")
    }

    fn run(&self, args: &[&str]) -> Outcome {
        outcome((self.command)(args))
    }

    fn run_row(&self, index: usize, row: &Row) -> Outcome {
        let args: Vec<String> = row
            .args
            .iter()
            .map(|a| a.replace(HOST, self.host()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let outcome = self.run(&args);
        // Progress on stderr (shown with --no-capture), so a slow or
        // stuck command is seen while the table runs.
        eprintln!(
            "{} #{:<3} {:>6.2}s exit {:<3} docker {}",
            self.label,
            index + 1,
            started.elapsed().as_secs_f64(),
            outcome.code,
            shell_words(row.args)
        );
        outcome
    }

    fn normalise(&self, text: &str) -> String {
        normalise(&text.replace(self.host(), HOST))
    }

    /// Removes whatever the table (or a failure in it) left.
    fn clean_up(&self) {
        let ids = self.run(&["ps", "-a", "-q", "--no-trunc"]).stdout;
        let ids: Vec<&str> = ids.lines().filter(|l| !l.trim().is_empty()).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            self.run(&args);
        }
        self.run(&["rmi", "-f", "committed:1", "committed:2", "busybox:extra"]);
        self.run(&["volume", "rm", "-f", "vol-a"]);
    }
}

/// The CLI `cli` against the private dockerd: `Dockerd::command`'s
/// arguments (`-H unix://…`) and environment (its config dir), with the
/// same binary as the berth side.
fn dockerd_command(dockerd: &Dockerd, cli: &OsStr, args: &[&str]) -> Command {
    let helper = dockerd.command(args);
    let mut cmd = Command::new(cli);
    cmd.args(helper.get_args());
    for (key, value) in helper.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.env("DOCKER_CLI_HINTS", "false")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    cmd
}

/// `BASE/host` with what the `cp` and `-v` rows read: the same files on
/// each side.
fn host_dir(base: &Path) -> PathBuf {
    let host = base.join("host");
    for dir in ["indir", "out", "bind"] {
        std::fs::create_dir_all(host.join(dir)).expect("a host directory");
    }
    std::fs::write(host.join("in.txt"), "copied in\n").expect("in.txt");
    std::fs::write(host.join("indir/a"), "a file in a directory\n").expect("indir/a");
    std::fs::write(host.join("bind/file"), "from the host\n").expect("bind/file");
    host
}

// ---- normalisation ----

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
}

/// Whole words of 12 or 64 lower-case hex digits → `<id>`.
fn ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_word && is_hex(bytes[i]) {
            let end = i + bytes[i..].iter().take_while(|b| is_hex(**b)).count();
            let ends_word = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            if ends_word && (end - i == 12 || end - i == 64) {
                out.push_str(&text[copied..i]);
                out.push_str("<id>");
                copied = end;
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Units of go-units' HumanSize/BytesSize, longest first.
const SIZE_UNITS: [&str; 11] = [
    "KiB", "MiB", "GiB", "TiB", "kB", "KB", "MB", "GB", "TB", "PB", "B",
];

/// `1.98MB`, `0B`, `2.05kB` → `<size>`.
fn sizes(text: &str) -> String {
    let bytes = text.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let in_word = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if in_word || !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut end = i + digits(i);
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end += 1 + digits(end + 1);
        }
        let unit = SIZE_UNITS.iter().find(|u| text[end..].starts_with(**u));
        if let Some(unit) = unit {
            let stop = end + unit.len();
            if stop == bytes.len() || !bytes[stop].is_ascii_alphanumeric() {
                out.push_str(&text[copied..i]);
                out.push_str("<size>");
                copied = stop;
                i = stop;
                continue;
            }
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Units of go-units' HumanDuration.
const TIME_UNITS: [&str; 14] = [
    "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
    "month", "months", "year", "years",
];

/// The words of a line, durations (with a following "ago") → `<time>`,
/// joined by single spaces.
fn times(words: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let rest = &words[i..];
        let span = if rest.starts_with(&["Less", "than", "a", "second"]) {
            4
        } else if rest.starts_with(&["About", "a", "minute"])
            || rest.starts_with(&["About", "an", "hour"])
        {
            3
        } else if rest.len() >= 2
            && rest[0].bytes().all(|b| b.is_ascii_digit())
            && TIME_UNITS.contains(&rest[1])
        {
            2
        } else {
            0
        };
        if span == 0 {
            out.push(words[i]);
            i += 1;
            continue;
        }
        i += span;
        if words.get(i) == Some(&"ago") {
            i += 1;
        }
        out.push("<time>");
    }
    out.join(" ")
}

/// IDs, sizes and times named; column padding collapsed (each line's
/// words joined by one space).
/// The layers dockerd's runtime chain (containerd, its shim, runc) wraps
/// around an error from the container's process; berth has no such
/// layers, so only the message inside is compared.
const RUNTIME_WRAPPING: [&str; 3] = [
    "OCI runtime exec failed: exec failed: ",
    "failed to create shim task: OCI runtime create failed: runc create failed: ",
    "container init: ",
];

fn unwrap_runtime(line: &str) -> String {
    let mut line = line.to_string();
    for w in RUNTIME_WRAPPING {
        line = line.replace(w, "");
    }
    line.strip_suffix(": unknown")
        .map(str::to_string)
        .unwrap_or(line)
}

fn normalise(text: &str) -> String {
    let text = sizes(&ids(text));
    text.lines()
        .map(|line| unwrap_runtime(&times(&line.split_whitespace().collect::<Vec<_>>())))
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

fn shaped(mode: Out, text: &str) -> String {
    match mode {
        Out::Full => text.to_string(),
        Out::FirstLine => first_line(text),
        Out::Sorted => {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            lines.join("\n")
        }
        Out::Shape => format!(
            "{} (+{} lines)",
            first_line(text),
            text.lines().count().saturating_sub(1)
        ),
    }
}

// ---- comparison and report ----

/// One row (or host file) where the engines differ.
struct Difference {
    what: String,
    kinds: Vec<&'static str>,
    /// Whether it fails the test (a stderr-only difference of a row not
    /// marked strict does not).
    fails: bool,
    docker: String,
    berth: String,
}

/// A command line as a shell would take it (for the report).
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|&a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$&;|<>()*".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(code: i32, stdout: &str, stderr: &str) -> String {
    format!("exit {code:<4} stdout {stdout:?}   stderr {stderr:?}")
}

fn compare(
    index: usize,
    row: &Row,
    (docker, theirs): (&Side, &Outcome),
    (berth, ours): (&Side, &Outcome),
) -> Option<Difference> {
    let d_out = shaped(row.stdout, &docker.normalise(&theirs.stdout));
    let b_out = shaped(row.stdout, &berth.normalise(&ours.stdout));
    let d_err = first_line(&docker.normalise(&theirs.stderr));
    let b_err = first_line(&berth.normalise(&ours.stderr));
    let stderr_compared = row.strict_stderr || theirs.code != 0 || ours.code != 0;
    let mut kinds = Vec::new();
    if theirs.code != ours.code {
        kinds.push("code");
    }
    if d_out != b_out {
        kinds.push("stdout");
    }
    let stderr_differs = stderr_compared && d_err != b_err;
    if stderr_differs {
        kinds.push("stderr");
    }
    if kinds.is_empty() {
        return None;
    }
    Some(Difference {
        what: format!("#{:<3} docker {}", index + 1, shell_words(row.args)),
        fails: theirs.code != ours.code || d_out != b_out || (stderr_differs && row.strict_stderr),
        kinds,
        docker: describe(theirs.code, &d_out, &d_err),
        berth: describe(ours.code, &b_out, &b_err),
    })
}

fn host_file(side: &Side, rel: &str) -> String {
    match std::fs::read(side.host.join(rel)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<{:?}>", e.kind()),
    }
}

fn table(differences: &[&Difference]) -> String {
    differences
        .iter()
        .map(|d| {
            format!(
                "{}   [{}]\n    docker: {}\n    berth:  {}\n",
                d.what,
                d.kinds.join(", "),
                d.docker,
                d.berth
            )
        })
        .collect()
}

#[test]
fn docker_cli_against_dockerd_and_berth_daemon() {
    let test = "docker_cli_against_dockerd_and_berth_daemon";
    let Some(dockerd) = Dockerd::start(test) else {
        return;
    };
    let Some(store) = support::container_store(test) else {
        return;
    };
    // The same busybox in both: berth's, saved, loaded into dockerd.
    let archive = dockerd.dir().join("busybox.tar");
    let archive = archive.to_str().expect("a UTF-8 temp path");
    store.ok(&["save", "-o", archive, "busybox"]);
    dockerd.ok(&["load", "-i", archive]);
    let Some(berth) = BerthDaemon::start(&store, test) else {
        return;
    };

    // One CLI binary for both: the one BerthDaemon picked.
    let cli = berth.command(&[]).get_program().to_owned();
    let docker = Side {
        label: "dockerd",
        host: host_dir(dockerd.dir()),
        command: Box::new(|args: &[&str]| dockerd_command(&dockerd, &cli, args)),
    };
    let ours = Side {
        label: "berth  ",
        host: host_dir(store.dir()),
        command: Box::new(|args: &[&str]| berth.command(args)),
    };

    let run_all = |side: &Side| -> Vec<Outcome> {
        ROWS.iter()
            .enumerate()
            .map(|(i, r)| side.run_row(i, r))
            .collect()
    };
    let theirs = run_all(&docker);
    let mine = run_all(&ours);

    let mut differences: Vec<Difference> = ROWS
        .iter()
        .zip(theirs.iter().zip(&mine))
        .enumerate()
        .filter_map(|(i, (row, (d, b)))| compare(i, row, (&docker, d), (&ours, b)))
        .collect();
    for rel in HOST_FILES {
        let (d, b) = (host_file(&docker, rel), host_file(&ours, rel));
        if d != b {
            differences.push(Difference {
                what: format!("host file {HOST}/{rel}"),
                kinds: vec!["file"],
                fails: true,
                docker: format!("{d:?}"),
                berth: format!("{b:?}"),
            });
        }
    }

    docker.clean_up();
    ours.clean_up();

    let (failing, reported): (Vec<&Difference>, Vec<&Difference>) =
        differences.iter().partition(|d| d.fails);
    if !reported.is_empty() {
        eprintln!(
            "{} command(s) differ only in stderr (reported, not failing):\n{}",
            reported.len(),
            table(&reported)
        );
    }
    assert!(
        failing.is_empty(),
        "berth daemon differs from dockerd in {} of {} commands and host files \
         (stdout and stderr normalised: <id>, <time>, <size>, {HOST}):\n{}\n\
         berth daemon log (tail):\n{}",
        failing.len(),
        ROWS.len() + HOST_FILES.len(),
        table(&failing),
        berth.log_tail()
    );
    store.assert_check_clean();
}
