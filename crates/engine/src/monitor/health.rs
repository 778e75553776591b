//! Health checks, run by the container's monitor: every interval it
//! starts the check command in the container (as an exec the relay
//! supervises, its output kept here rather than logged or relayed), kills
//! it at the timeout, and records the result (`containers/health.rs`),
//! announcing a change of status as Docker's `health_status: …` event.

use std::time::{Duration, Instant};

use crate::Engine;
use crate::containers::config::HealthConfig;
use crate::containers::health::{self, CheckResult};
use crate::containers::record::ContainerRow;

pub struct Prober {
    config: HealthConfig,
    pub args: Vec<String>,
    /// The container's start, in the store's nanoseconds and here.
    started_at: i64,
    started: Instant,
    next_due: Instant,
    running: Option<Probe>,
}

struct Probe {
    pid: i32,
    started_at: i64,
    deadline: Instant,
    output: Vec<u8>,
    timed_out: bool,
}

fn nanos(n: i64, default: i64) -> Duration {
    Duration::from_nanos(if n > 0 { n } else { default } as u64)
}

impl Prober {
    /// For a container whose checks are on; resets its health to
    /// `starting` (a new run).
    pub fn start(engine: &Engine, row: &ContainerRow) -> Option<Prober> {
        let config = row.config.healthcheck.clone()?;
        let args = config.probe_args()?;
        let _ = engine.db.write_relaxed(|c| health::reset(c, &row.id));
        let mut p = Prober {
            config,
            args,
            started_at: crate::now_nanos(),
            started: Instant::now(),
            next_due: Instant::now(),
            running: None,
        };
        p.next_due = Instant::now() + p.interval("starting");
        Some(p)
    }

    /// Docker waits `StartInterval` between checks while a container is
    /// starting within its start period, `Interval` otherwise.
    fn interval(&self, status: &str) -> Duration {
        let start_period = nanos(self.config.start_period, 0);
        if status == "starting" && self.started.elapsed() < start_period {
            nanos(self.config.start_interval, health::DEFAULT_START_INTERVAL)
        } else {
            nanos(self.config.interval, health::DEFAULT_INTERVAL)
        }
    }

    /// How long the relay may sleep before this needs it.
    pub fn wake_in(&self) -> Duration {
        let at = match &self.running {
            Some(p) if !p.timed_out => p.deadline,
            Some(_) => return Duration::from_millis(100),
            None => self.next_due,
        };
        at.saturating_duration_since(Instant::now())
    }

    /// Whether a check should start now.
    pub fn due(&self) -> bool {
        self.running.is_none() && Instant::now() >= self.next_due
    }

    pub fn running(&mut self, pid: i32) {
        self.running = Some(Probe {
            pid,
            started_at: crate::now_nanos(),
            deadline: Instant::now() + nanos(self.config.timeout, health::DEFAULT_TIMEOUT),
            output: Vec::new(),
            timed_out: false,
        });
    }

    /// The running check's pid if it has outlived its timeout (to kill,
    /// once).
    pub fn overdue(&mut self) -> Option<i32> {
        let p = self.running.as_mut()?;
        if p.timed_out || Instant::now() < p.deadline {
            return None;
        }
        p.timed_out = true;
        Some(p.pid)
    }

    pub fn output(&mut self, data: &[u8]) {
        if let Some(p) = &mut self.running {
            let room = health::MAX_OUTPUT.saturating_sub(p.output.len());
            p.output.extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    /// A check could not be started: a failure, as in Docker.
    pub fn failed_to_start(&mut self, engine: &Engine, row_id: &str, message: &str) {
        self.running(0);
        self.output(message.as_bytes());
        self.finish(engine, row_id, -1);
    }

    /// Records the check that ended with `code`, schedules the next.
    pub fn finish(&mut self, engine: &Engine, id: &str, code: i32) {
        let Some(p) = self.running.take() else {
            return;
        };
        let timeout = nanos(self.config.timeout, health::DEFAULT_TIMEOUT);
        let (exit_code, output) = if p.timed_out {
            (
                -1,
                format!("Health check exceeded timeout ({}s)", timeout.as_secs_f64()),
            )
        } else {
            (
                i64::from(code),
                String::from_utf8_lossy(&p.output).into_owned(),
            )
        };
        let result = CheckResult {
            start: crate::containers::rfc3339(p.started_at),
            end: crate::now_rfc3339(),
            exit_code,
            output,
        };
        let changed = engine.db.write_relaxed(|c| {
            let changed =
                health::record(c, id, &self.config, self.started_at, p.started_at, result)?;
            if let (Some(status), Some(row)) = (&changed, crate::containers::record::get(c, id)?) {
                crate::store::event_log::record(
                    c,
                    &crate::events::container_event(&row, &format!("health_status: {status}")),
                )?;
            }
            Ok(changed)
        });
        if matches!(changed, Ok(Some(_))) {
            engine.events_changed();
        }
        let status = engine
            .db
            .read(|c| health::get(c, id))
            .ok()
            .flatten()
            .map(|h| h.status)
            .unwrap_or_default();
        self.next_due = Instant::now() + self.interval(&status);
    }
}
