//! `build [OPTIONS] PATH | -` and `builder prune`.
//!
//! Progress goes to stderr as BuildKit writes it: `--progress plain`
//! (every step's lines, `#N` numbered, with its output and timings) or
//! `tty` (on a terminal BuildKit's live view, see `build_tty.rs`; else a
//! line per step as it finishes; the failing step's output shown); `auto`
//! is tty on a terminal. `-q` prints only the image ID, on
//! stdout.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use berth_engine::Engine;
use berth_engine::build::{BuildEvent, BuildOptions, BuildProgress};

use super::build_tty::TtyView;
use crate::cli::{BuildArgs, BuilderPruneArgs};
use crate::format::units;

pub fn run(engine: &Engine, args: BuildArgs) -> Result<u8> {
    let mut options = BuildOptions {
        tags: args.tags.clone(),
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        network: match args.network.as_str() {
            "default" => String::new(),
            other => other.to_string(),
        },
        platform: args.platform.clone(),
        ..BuildOptions::default()
    };
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                options.build_args.insert(k.to_string(), v.to_string());
            }
            // docker: `--build-arg NAME` takes the value from the environment.
            None => {
                if let Ok(v) = std::env::var(a) {
                    options.build_args.insert(a.clone(), v);
                }
            }
        }
    }
    for l in &args.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        options.labels.insert(k.to_string(), v.to_string());
    }
    options.secrets = parse_secrets(&args.secrets)?;
    options.run_host = run_host(&args)?;
    for image in &args.cache_from {
        eprintln!(
            "WARNING: --cache-from {image}: berth's cache is its store's own (keyed by content); images are not used as cache sources"
        );
    }
    // The context: a directory, or stdin (a tar archive, or a Dockerfile
    // and no context).
    let mut _unpacked = None;
    let empty = tempfile::tempdir().context("create an empty context")?;
    if args.context == "-" {
        if args.file.as_deref() == Some("-") {
            bail!("invalid argument: can't use stdin for both build context and dockerfile");
        }
        let mut input = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut input)
            .context("read the build context from STDIN")?;
        if looks_like_archive(&input) {
            let dir = engine.unpack_build_context(&input[..])?;
            options.context = dir.path().to_path_buf();
            _unpacked = Some(dir);
        } else {
            options.context = empty.path().to_path_buf();
            options.dockerfile_text = Some(String::from_utf8_lossy(&input).into_owned());
        }
    } else {
        if args.context.starts_with("http://")
            || args.context.starts_with("https://")
            || args.context.starts_with("git@")
        {
            bail!(
                "unable to prepare context: remote contexts ({}) are not supported by berth: clone or download it and build the directory",
                args.context
            );
        }
        options.context = PathBuf::from(&args.context);
        if !options.context.is_dir() {
            bail!(
                "unable to prepare context: path {:?} not found",
                args.context
            );
        }
    }
    match args.file.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .read_to_string(&mut text)
                .context("read the Dockerfile from STDIN")?;
            options.dockerfile_text = Some(text);
        }
        Some(f) => {
            // As docker: relative to the current directory, not the context.
            let path = PathBuf::from(f);
            options.dockerfile = Some(if path.is_absolute() {
                path
            } else {
                std::env::current_dir()?.join(path)
            });
        }
        None => {}
    }
    let mode = match (args.quiet, args.progress.as_str()) {
        (true, _) | (_, "quiet") => Mode::Quiet,
        (_, "plain") => Mode::Plain,
        (_, "tty") => Mode::Tty,
        _ if std::io::stderr().is_terminal() => Mode::Tty,
        _ => Mode::Plain,
    };
    let progress = Progress::new(mode);
    // The live view's clock: redrawn a few times a second until the build
    // returns.
    let building = std::sync::atomic::AtomicBool::new(true);
    /// Stops the clock however the build ends (a panic included).
    struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let result = std::thread::scope(|s| {
        let clock = progress.view.is_some().then(|| {
            s.spawn(|| {
                while building.load(std::sync::atomic::Ordering::Relaxed) {
                    progress.redraw(false);
                    std::thread::park_timeout(std::time::Duration::from_millis(150));
                }
            })
        });
        let stop = Stop(&building);
        let result = engine.build(&options, &progress);
        drop(stop);
        if let Some(clock) = &clock {
            clock.thread().unpark();
        }
        result
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            progress.failed();
            bail!("failed to solve: {}", e.message);
        }
    };
    progress.finished();
    if let Some(path) = &args.iidfile {
        std::fs::write(path, outcome.image.to_string())
            .with_context(|| format!("write the image ID to {}", path.display()))?;
    }
    if mode == Mode::Quiet {
        crate::output::print(&format!("{}\n", outcome.image))?;
    }
    Ok(0)
}

/// A bad flag value: docker's words and its usage exit code, 125.
fn flag_error(value: &str, flag: &str, why: &str, command: &str) -> anyhow::Error {
    super::containers::ExitError {
        code: 125,
        message: format!(
            "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\nUsage:  docker {command}\n\nRun 'docker {command} --help' for more information"
        ),
    }
    .into()
}

/// The classic builder's settings for RUN containers.
fn run_host(args: &BuildArgs) -> Result<berth_engine::containers::HostConfig> {
    use berth_engine::containers::parse;
    if let Some(i) = args
        .isolation
        .as_deref()
        .filter(|i| !i.is_empty() && *i != "default")
    {
        bail!("Invalid isolation: {i:?} - Linux only supports 'default'");
    }
    let bytes = |v: &Option<String>, flag: &str| -> Result<i64> {
        match v.as_deref() {
            None => Ok(0),
            Some(s) => parse::parse_bytes(s)
                .map_err(|e| flag_error(s, flag, &e.message, "build [OPTIONS] PATH | URL | -")),
        }
    };
    let mut host = berth_engine::containers::HostConfig {
        extra_hosts: args.add_host.clone(),
        cgroup_parent: args.cgroup_parent.clone().unwrap_or_default(),
        security_opt: args.security_opt.clone(),
        shm_size: bytes(&args.shm_size, "--shm-size")?,
        ulimits: args
            .ulimit
            .iter()
            .map(|u| {
                parse::parse_ulimit(u).map_err(|e| {
                    flag_error(u, "--ulimit", &e.message, "build [OPTIONS] PATH | URL | -")
                })
            })
            .collect::<Result<Vec<_>>>()?,
        ..Default::default()
    };
    let r = &mut host.resources;
    r.memory = bytes(&args.memory, "-m, --memory")?;
    r.memory_swap = match args.memory_swap.as_deref() {
        Some("-1") => -1,
        other => bytes(&other.map(str::to_string), "--memory-swap")?,
    };
    r.cpu_period = args.cpu_period.unwrap_or(0);
    r.cpu_quota = args.cpu_quota.unwrap_or(0);
    r.cpu_shares = args.cpu_shares.unwrap_or(0);
    r.cpuset_cpus = args.cpuset_cpus.clone().unwrap_or_default();
    r.cpuset_mems = args.cpuset_mems.clone().unwrap_or_default();
    Ok(host)
}

/// `--secret id=ID[,src=PATH]` (also `source=`, `type=file`; a missing
/// src is the environment variable of the same name, as buildx).
fn parse_secrets(specs: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let mut id = None;
        let mut src = None;
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => bail!("invalid secret {spec:?}: id=ID,src=PATH expected"),
            }
        }
        let id = id.with_context(|| format!("invalid secret {spec:?}: no id"))?;
        let src = src.unwrap_or_else(|| PathBuf::from(&id));
        if !src.is_file() {
            bail!("failed to stat {}: no such file", src.display());
        }
        out.insert(id, std::fs::canonicalize(&src)?);
    }
    Ok(out)
}

fn looks_like_archive(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
        || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (data.len() >= 262 && &data[257..262] == b"ustar")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Quiet,
    Plain,
    Tty,
}

struct Vertex {
    name: String,
    started: Instant,
    output: Vec<u8>,
}

struct Progress {
    mode: Mode,
    began: Instant,
    state: Mutex<BTreeMap<usize, Vertex>>,
    failed_vertex: Mutex<Option<usize>>,
    /// `tty` on a terminal: the live view (else a line per finished step).
    view: Option<Mutex<TtyView>>,
}

impl Progress {
    fn new(mode: Mode) -> Progress {
        Progress {
            mode,
            began: Instant::now(),
            state: Mutex::new(BTreeMap::new()),
            failed_vertex: Mutex::new(None),
            view: (mode == Mode::Tty && std::io::stderr().is_terminal())
                .then(|| Mutex::new(TtyView::new())),
        }
    }

    /// Redraws the live view (if there is one).
    fn redraw(&self, finished: bool) {
        if let Some(view) = &self.view {
            let text = view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .render(finished);
            self.write(&text);
        }
    }

    fn write(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// After a failure: the steps that had output and did not finish
    /// (the failing one) show it, as BuildKit's summary does.
    fn failed(&self) {
        if self.mode != Mode::Tty {
            return;
        }
        if let Some(view) = &self.view {
            view.lock()
                .unwrap_or_else(|p| p.into_inner())
                .stop_running();
        }
        self.redraw(false);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for (n, v) in state.iter() {
            if v.output.is_empty() {
                continue;
            }
            let mut text = format!("------\n > {}:\n", v.name);
            for line in String::from_utf8_lossy(&v.output).lines() {
                text.push_str(&format!("#{n} {line}\n"));
            }
            text.push_str("------\n");
            self.write(&text);
        }
    }

    fn finished(&self) {
        if self.view.is_some() {
            self.redraw(true);
        } else if self.mode == Mode::Tty {
            self.write(&format!(
                "[+] Building {:.1}s done\n",
                self.began.elapsed().as_secs_f64()
            ));
        }
    }
}

impl BuildProgress for Progress {
    fn event(&self, event: BuildEvent<'_>) {
        if self.mode == Mode::Quiet {
            return;
        }
        // The live view draws on its own clock; the lines below are for
        // a tty that is not a terminal.
        if let Some(view) = &self.view {
            let mut view = view.lock().unwrap_or_else(|p| p.into_inner());
            match &event {
                BuildEvent::Start { vertex, name } => view.start(*vertex, name),
                BuildEvent::Output { vertex, data } => view.output(*vertex, data),
                BuildEvent::Cached { vertex } => view.cached(*vertex),
                BuildEvent::Done { vertex, seconds } => view.done(*vertex, *seconds),
                BuildEvent::Error { vertex, .. } => view.failed(*vertex),
                BuildEvent::Instruction { .. } | BuildEvent::Note { .. } => {}
            }
        }
        let lines = self.view.is_none();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            BuildEvent::Start { vertex, name } => {
                state.insert(
                    vertex,
                    Vertex {
                        name: name.to_string(),
                        started: Instant::now(),
                        output: Vec::new(),
                    },
                );
                if self.mode == Mode::Plain {
                    self.write(&format!("#{vertex} {name}\n"));
                }
            }
            BuildEvent::Output { vertex, data } => {
                let Some(v) = state.get_mut(&vertex) else {
                    return;
                };
                if self.mode == Mode::Plain {
                    let at = v.started.elapsed().as_secs_f64();
                    let mut text = String::new();
                    for line in String::from_utf8_lossy(data).lines() {
                        text.push_str(&format!("#{vertex} {at:.3} {line}\n"));
                    }
                    self.write(&text);
                } else {
                    v.output.extend_from_slice(data);
                }
            }
            BuildEvent::Cached { vertex } => {
                let name = state.remove(&vertex).map(|v| v.name).unwrap_or_default();
                match self.mode {
                    Mode::Plain => self.write(&format!("#{vertex} CACHED\n\n")),
                    _ if lines => self.write(&format!(" => CACHED {name}\n")),
                    _ => {}
                }
            }
            BuildEvent::Done { vertex, seconds } => {
                let name = state.remove(&vertex).map(|v| v.name).unwrap_or_default();
                match self.mode {
                    Mode::Plain => self.write(&format!("#{vertex} DONE {seconds:.1}s\n\n")),
                    _ if lines => self.write(&format!(" => {name} {seconds:.1}s\n")),
                    _ => {}
                }
            }
            BuildEvent::Error { vertex, message } => {
                *self.failed_vertex.lock().unwrap_or_else(|p| p.into_inner()) = Some(vertex);
                if self.mode == Mode::Plain {
                    self.write(&format!("#{vertex} ERROR: {message}\n"));
                }
            }
            // BuildKit's output has no line per instruction.
            BuildEvent::Instruction { .. } => {}
            BuildEvent::Note { vertex, text } => {
                if self.mode == Mode::Plain {
                    self.write(&format!("#{vertex} {text}\n"));
                }
            }
        }
    }
}

/// `builder prune [-a] [-f] [--filter until=DURATION]`.
pub fn prune(engine: &Engine, args: BuilderPruneArgs) -> Result<u8> {
    let mut older_than = None;
    for f in &args.filter {
        match f.split_once('=') {
            Some(("until", d)) => {
                older_than = Some(
                    berth_engine::containers::parse::parse_go_duration("until", d).map_err(
                        |_| {
                            anyhow::anyhow!(
                                "failed to prune build cache: invalid filter 'until={d}': a duration (24h, 30m) expected"
                            )
                        },
                    )?,
                );
            }
            Some((key, _)) => bail!("failed to prune build cache: Invalid filter '{key}'"),
            None => {
                return Err(flag_error(
                    f,
                    "--filter",
                    "bad format of filter (expected name=value)",
                    "builder prune",
                ));
            }
        }
    }
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        if !super::prune::confirm(warning)? {
            return Ok(0);
        }
    }
    let keep = match args.keep_storage.as_deref() {
        None => None,
        Some(s) => Some(
            berth_engine::containers::parse::parse_bytes(s)
                .map_err(|e| flag_error(s, "--keep-storage", &e.message, "builder prune"))?
                .max(0) as u64,
        ),
    };
    let (_, reclaimed) = engine.prune_build_cache(older_than, keep)?;
    crate::output::print(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(reclaimed, 4)
    ))?;
    Ok(0)
}
