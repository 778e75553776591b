//! The event source: what happened to containers, images and volumes, with
//! Docker's types, actions and attributes, as `docker events` and the API's
//! `/events` stream show them.
//!
//! Every berth process (CLI commands, monitors, the daemon) appends events
//! to the store, in the transaction of the change where there is one; the
//! newest few thousand are kept. A follower does not poll: every append touches
//! `<run>/events.notify`, and followers wait on inotify for that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::inotify;
use serde::Serialize;
use time::OffsetDateTime;

use crate::Engine;
use crate::error::{Error, Result};
use crate::store::event_log;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Volume,
    Network,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Volume => "volume",
            EventType::Network => "network",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    pub time_nano: i64,
    pub kind: EventType,
    pub action: String,
    /// The object's ID (a volume's name, an image's reference or ID).
    pub actor: String,
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    pub fn new(kind: EventType, action: &str, actor: &str) -> Event {
        Event {
            seq: 0,
            time_nano: crate::now_nanos(),
            kind,
            action: action.to_string(),
            actor: actor.to_string(),
            attributes: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    /// Docker's JSON message (`/events`, `--format '{{json .}}'`).
    pub fn docker_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "Type": self.kind.as_str(),
            "Action": self.action,
            "Actor": {"ID": self.actor, "Attributes": self.attributes},
            "scope": "local",
            "time": self.time_nano / 1_000_000_000,
            "timeNano": self.time_nano,
        });
        // The old fields docker still sends for containers (and images).
        if !matches!(self.kind, EventType::Volume | EventType::Network) {
            v["status"] = self.action.clone().into();
            v["id"] = self.actor.clone().into();
            if let Some(image) = self.attributes.get("image") {
                v["from"] = image.clone().into();
            }
        }
        v
    }
}

/// An image event: the image's ID (or the reference, for pull and push)
/// and its name, as Docker's.
pub(crate) fn image_event(
    action: &str,
    actor: &str,
    name: Option<&berth_image::Reference>,
) -> Event {
    let e = Event::new(EventType::Image, action, actor);
    match name {
        Some(r) => e.with("name", r.familiar_string()),
        None => e,
    }
}

/// A container event with Docker's attributes: the image as the user
/// named it, the name, and the container's labels.
pub(crate) fn container_event(row: &crate::containers::ContainerRow, action: &str) -> Event {
    let mut e = Event::new(EventType::Container, action, &row.id);
    for (k, v) in &row.config.labels {
        e.attributes.insert(k.clone(), v.clone());
    }
    e.with("image", row.image_name.clone())
        .with("name", row.name.clone())
}

/// Docker's event filters: `type`, `event` (action), `container`,
/// `image`, `volume`, `label` (`k` or `k=v`); values of one key are OR'ed,
/// keys AND'ed; other keys are ignored, as dockerd ignores them.
#[derive(Clone, Debug, Default)]
pub struct EventFilters {
    pub by_key: BTreeMap<String, Vec<String>>,
}

impl EventFilters {
    /// From `--filter KEY=VALUE` arguments.
    pub fn parse(args: &[String]) -> Result<EventFilters> {
        let mut f = EventFilters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                Error::invalid(format!("bad format of filter (expected name=value): {a}"))
            })?;
            let k = k.to_ascii_lowercase();
            if !matches!(
                k.as_str(),
                "type" | "event" | "container" | "image" | "volume" | "label" | "scope"
            ) {
                // dockerd takes any key and filters by the ones it knows:
                // a key it does not know selects nothing away.
                continue;
            }
            f.by_key.entry(k).or_default().push(v.to_string());
        }
        Ok(f)
    }

    pub fn matches(&self, e: &Event) -> bool {
        self.by_key.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "type" => e.kind.as_str() == v,
                "event" => e.action == *v || e.action.split(':').next() == Some(v),
                "container" => {
                    e.kind == EventType::Container
                        && (e.actor.starts_with(v.as_str()) || e.attributes.get("name") == Some(v))
                }
                "image" => {
                    e.attributes.get("image") == Some(v)
                        || (e.kind == EventType::Image
                            && (e.actor == *v || e.attributes.get("name") == Some(v)))
                }
                "volume" => e.kind == EventType::Volume && e.actor == *v,
                "network" => {
                    e.kind == EventType::Network
                        && (e.actor.starts_with(v.as_str()) || e.attributes.get("name") == Some(v))
                }
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => e.attributes.get(lk).is_some_and(|x| x == lv),
                    None => e.attributes.contains_key(v),
                },
                "scope" => v == "local",
                _ => false,
            })
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventsOptions {
    /// Past events from this time (none without it).
    pub since: Option<OffsetDateTime>,
    /// Stop at this time; without it, follow until `emit` says stop.
    pub until: Option<OffsetDateTime>,
    pub filters: EventFilters,
    /// Ends a follow early (the reader went away).
    pub cancel: Option<crate::cancel::Cancel>,
}

impl Engine {
    /// Records an event (in its own transaction) and wakes followers.
    pub(crate) fn event(&self, event: Event) {
        if self
            .db
            .write_relaxed(|c| event_log::record(c, &event))
            .is_ok()
        {
            self.events_changed();
        }
    }

    /// Wakes followers after a transaction recorded events.
    pub(crate) fn events_changed(&self) {
        let path = notify_path(&self.run_root);
        // A write both creates the file and counts as a modification.
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path);
    }

    /// Calls `emit` with each event, oldest first: past ones from `since`,
    /// then new ones as they happen, until `until` (or `emit` returns false).
    pub fn events(
        &self,
        options: &EventsOptions,
        mut emit: impl FnMut(&Event) -> Result<bool>,
    ) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        let since = options.since.map(nanos);
        let until = options.until.map(nanos);
        let keep = |e: &Event| {
            since.is_none_or(|s| e.time_nano >= s)
                && until.is_none_or(|u| e.time_nano <= u)
                && options.filters.matches(e)
        };
        // Watch before reading, so nothing recorded in between is missed.
        let follow = options.until.is_none_or(|u| u > now);
        let watch = if follow {
            Some(Notify::new(&self.run_root, options.cancel.clone())?)
        } else {
            None
        };
        let mut last = match since {
            Some(_) => 0,
            None => self.db.read(event_log::last_seq)?,
        };
        loop {
            for e in self.db.read(|c| event_log::read_after(c, last))? {
                last = e.seq;
                if until.is_some_and(|u| e.time_nano > u) {
                    return Ok(());
                }
                if keep(&e) && !emit(&e)? {
                    return Ok(());
                }
            }
            let Some(watch) = &watch else {
                return Ok(());
            };
            let timeout = options
                .until
                .map(|u| (u - OffsetDateTime::now_utc()).max(time::Duration::ZERO));
            if timeout.is_some_and(|t| t.is_zero()) {
                return Ok(());
            }
            if watch.wait(timeout)? {
                return Ok(());
            }
        }
    }
}

fn nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

fn notify_path(run_root: &Path) -> PathBuf {
    run_root.join("events.notify")
}

/// inotify on the run root's notify file (and the follower's cancel).
struct Notify {
    fd: std::os::fd::OwnedFd,
    cancel: Option<crate::cancel::Cancel>,
}

impl Notify {
    fn new(run_root: &Path, cancel: Option<crate::cancel::Cancel>) -> Result<Notify> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| Error::internal(format!("inotify: {e}")))?;
        // The directory, not the file: the file may not exist yet.
        inotify::add_watch(
            &fd,
            run_root,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::CREATE
                | inotify::WatchFlags::CLOSE_WRITE,
        )
        .map_err(|e| Error::internal(format!("watch {}: {e}", run_root.display())))?;
        Ok(Notify { fd, cancel })
    }

    /// Waits for events to be recorded or the timeout; true when cancelled.
    fn wait(&self, timeout: Option<time::Duration>) -> Result<bool> {
        let ts = timeout.map(|t| rustix::time::Timespec {
            tv_sec: t.whole_seconds(),
            tv_nsec: t.subsec_nanoseconds() as i64,
        });
        let mut fds = vec![PollFd::new(&self.fd, PollFlags::IN)];
        if let Some(c) = &self.cancel {
            fds.push(PollFd::new(c, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::internal(format!("poll: {e}"))),
        }
        if fds.get(1).is_some_and(|c| !c.revents().is_empty()) {
            return Ok(true);
        }
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        while reader.next().is_ok() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_docker() {
        let e = Event::new(EventType::Container, "die", "abcdef")
            .with("name", "web")
            .with("image", "busybox")
            .with("exitCode", "3");
        let f = |args: &[&str]| {
            EventFilters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert!(f(&["type=container", "event=die"]).matches(&e));
        assert!(f(&["event=start", "event=die"]).matches(&e));
        assert!(!f(&["type=image"]).matches(&e));
        assert!(f(&["container=web"]).matches(&e));
        assert!(f(&["container=abc"]).matches(&e));
        assert!(f(&["image=busybox"]).matches(&e));
        assert!(f(&["label=exitCode=3"]).matches(&e));
        // Keys dockerd does not know filter nothing away, as there.
        assert!(f(&["bogus=1"]).matches(&e));
        assert!(EventFilters::parse(&["bogus".into()]).is_err());
        let json = e.docker_json();
        assert_eq!(json["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(json["status"], "die");
    }
}
