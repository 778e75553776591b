//! `logs`: a container's json-file log (rotated files oldest first) with
//! Docker's `--since`, `--until`, `--tail` and `--follow`.
//!
//! Following waits on the kernel, not on a timer: inotify on the
//! container's directory says the log grew or rotated, and the monitor's
//! pidfd says the container stopped (the monitor lives as long as the
//! container, restarts included), after which what remains is read and the
//! stream ends. A [`Cancel`] ends it early (the reader went away).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::inotify;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Engine;
use crate::cancel::Cancel;
use crate::error::{Error, IoContext, Result};
use crate::monitor::log::{log_path, rotated};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[derive(Clone, Debug)]
pub struct LogEntry {
    pub stream: LogStream,
    /// As the log has it (RFC 3339 with nanoseconds).
    pub time: String,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct LogsOptions {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// The last N entries only.
    pub tail: Option<usize>,
    /// Then wait for more until the container stops.
    pub follow: bool,
    /// Ends a follow early.
    pub cancel: Option<Cancel>,
}

fn parse_line(line: &str) -> Option<(LogEntry, Option<OffsetDateTime>)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let stream = match v["stream"].as_str()? {
        "stderr" => LogStream::Stderr,
        _ => LogStream::Stdout,
    };
    let time = v["time"].as_str()?.to_string();
    let parsed = OffsetDateTime::parse(&time, &Rfc3339).ok();
    Some((
        LogEntry {
            stream,
            time,
            data: v["log"].as_str()?.as_bytes().to_vec(),
        },
        parsed,
    ))
}

impl LogsOptions {
    fn keeps(&self, t: Option<OffsetDateTime>) -> bool {
        self.since.is_none_or(|s| t.is_some_and(|t| t >= s))
            && self.until.is_none_or(|u| t.is_some_and(|t| t <= u))
    }
}

/// Go's `url.QueryEscape`: what Docker writes keys and values of log
/// details with.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The details `logs --details` puts before each line: the labels and
/// environment variables the log options `labels`, `labels-regex`, `env`
/// and `env-regex` name, `k=v` sorted by key and joined by commas, as
/// Docker's json-file driver records them (berth computes them when read:
/// a container's labels and environment never change).
pub fn details(config: &super::config::ContainerConfig) -> String {
    let opts = &config.host.log_config.config;
    let listed = |key: &str| -> Vec<String> {
        opts.get(key)
            .map(|v| v.split(',').map(|k| k.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let regex = |key: &str| opts.get(key).and_then(|r| regex_lite::Regex::new(r).ok());
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    let (labels, labels_re) = (listed("labels"), regex("labels-regex"));
    for (k, v) in &config.labels {
        if labels.contains(k) || labels_re.as_ref().is_some_and(|r| r.is_match(k)) {
            attrs.insert(k.clone(), v.clone());
        }
    }
    let (env, env_re) = (listed("env"), regex("env-regex"));
    for kv in &config.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if env.iter().any(|e| e == k) || env_re.as_ref().is_some_and(|r| r.is_match(k)) {
            attrs.insert(k.to_string(), v.to_string());
        }
    }
    attrs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

impl Engine {
    /// The `--details` prefix of `container`'s log lines (see [`details`]).
    pub fn log_details(&self, container: &str) -> Result<String> {
        Ok(details(&self.container(container)?.config))
    }

    /// Calls `emit` with each entry, oldest first, until it returns false
    /// or (with `follow`) the container stops.
    pub fn logs(
        &self,
        container: &str,
        options: &LogsOptions,
        mut emit: impl FnMut(&LogEntry) -> Result<bool>,
    ) -> Result<()> {
        let row = self.container(container)?;
        if row.config.host.log_config.kind == "none" {
            return Err(Error::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let dir = self.paths.container_dir(&row.id);
        let path = log_path(&dir, &row.id);
        // Watch before reading, so nothing written in between is missed.
        let watch = if options.follow && row.state.is_live() && row.owner.is_alive() {
            Some(Watch::new(
                &dir,
                row.owner.pid as i32,
                options.cancel.clone(),
            )?)
        } else {
            None
        };
        let mut files: Vec<PathBuf> = (1..1000)
            .map(|n| rotated(&path, n))
            .take_while(|p| p.exists())
            .collect();
        files.reverse();
        files.push(path.clone());
        let mut entries = Vec::new();
        // Where the current file's reading stopped, for following.
        let mut current: Option<(File, u64)> = None;
        for (i, file) in files.iter().enumerate() {
            let Ok(f) = File::open(file) else {
                continue;
            };
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            let mut pos = 0u64;
            while reader.read_line(&mut line).ctx("read", file)? > 0 {
                if !line.ends_with('\n') {
                    break;
                }
                pos += line.len() as u64;
                if let Some((e, _)) = parse_line(line.trim_end()).filter(|(_, t)| options.keeps(*t))
                {
                    entries.push(e);
                }
                line.clear();
            }
            if i == files.len() - 1 {
                current = Some((reader.into_inner(), pos));
            }
        }
        if let Some(n) = options.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        for e in &entries {
            if !emit(e)? {
                return Ok(());
            }
        }
        let Some(watch) = watch else {
            return Ok(());
        };
        let (mut file, mut pos) = match current {
            Some(c) => c,
            None => (File::open(&path).ctx("open", &path)?, 0),
        };
        loop {
            let stopped = match watch.wait()? {
                Woke::Cancelled => return Ok(()),
                Woke::Changed => false,
                Woke::Stopped => true,
            };
            // A rotation: finish the old file, then read the new one.
            let rotated_away = std::fs::metadata(&path)
                .map(|m| m.ino() != file.metadata().map(|f| f.ino()).unwrap_or(0))
                .unwrap_or(false);
            if !read_new(&mut file, &mut pos, &path, options, &mut emit)? {
                return Ok(());
            }
            if rotated_away && let Ok(f) = File::open(&path) {
                file = f;
                pos = 0;
                if !read_new(&mut file, &mut pos, &path, options, &mut emit)? {
                    return Ok(());
                }
            }
            if stopped {
                return Ok(());
            }
        }
    }
}

/// Emits the complete lines after `pos`; false when `emit` wants no more.
fn read_new(
    file: &mut File,
    pos: &mut u64,
    path: &Path,
    options: &LogsOptions,
    emit: &mut impl FnMut(&LogEntry) -> Result<bool>,
) -> Result<bool> {
    file.seek(SeekFrom::Start(*pos)).ctx("seek", path)?;
    let mut reader = BufReader::new(&*file);
    let mut line = String::new();
    while reader.read_line(&mut line).ctx("read", path)? > 0 {
        if !line.ends_with('\n') {
            // A line still being written: read it whole next time.
            break;
        }
        *pos += line.len() as u64;
        if let Some((e, t)) = parse_line(line.trim_end())
            && options.keeps(t)
            && !emit(&e)?
        {
            return Ok(false);
        }
        line.clear();
    }
    Ok(true)
}

/// The log's directory and the container's monitor, watched together
/// (and the follower's cancel).
struct Watch {
    inotify: std::os::fd::OwnedFd,
    monitor: std::os::fd::OwnedFd,
    cancel: Option<Cancel>,
}

enum Woke {
    Changed,
    Stopped,
    Cancelled,
}

impl Watch {
    fn new(dir: &Path, monitor_pid: i32, cancel: Option<Cancel>) -> Result<Watch> {
        let inotify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| Error::internal(format!("inotify: {e}")))?;
        inotify::add_watch(
            &inotify,
            dir,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::CREATE
                | inotify::WatchFlags::MOVED_TO,
        )
        .map_err(|e| Error::internal(format!("watch {}: {e}", dir.display())))?;
        let pid = rustix::process::Pid::from_raw(monitor_pid)
            .ok_or_else(|| Error::internal(format!("bad monitor pid {monitor_pid}")))?;
        let monitor = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| Error::internal(format!("pidfd_open {monitor_pid}: {e}")))?;
        Ok(Watch {
            inotify,
            monitor,
            cancel,
        })
    }

    /// Waits for the log to change, the container to stop or the cancel.
    fn wait(&self) -> Result<Woke> {
        let mut fds = vec![
            PollFd::new(&self.inotify, PollFlags::IN),
            PollFd::new(&self.monitor, PollFlags::IN),
        ];
        if let Some(c) = &self.cancel {
            fds.push(PollFd::new(c, PollFlags::IN));
        }
        loop {
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::internal(format!("poll: {e}"))),
            }
        }
        if fds.get(2).is_some_and(|c| !c.revents().is_empty()) {
            return Ok(Woke::Cancelled);
        }
        let stopped = !fds[1].revents().is_empty();
        // Empty the event queue: what changed is re-read from the file.
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.inotify, &mut buf);
        while reader.next().is_ok() {}
        Ok(if stopped {
            Woke::Stopped
        } else {
            Woke::Changed
        })
    }
}
