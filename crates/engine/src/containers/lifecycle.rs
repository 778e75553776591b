//! start, stop, kill, pause, unpause, restart and wait.

use std::time::Duration;

use berth_image::owner::ProcessToken;
use rustix::event::{PollFd, PollFlags};

use super::record::{self, ContainerRow, State};
use crate::Engine;
use crate::error::{Error, Result};
use crate::store::event_log;

/// Waits up to `timeout` for process `pid` to end; true if it did (or was
/// never there).
/// Whether a container's init `pid` has ended: gone, or a zombie its
/// monitor has yet to reap (and record).
pub fn init_has_exited(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name's closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
        Err(_) => true,
    }
}

pub fn wait_pid_exit(pid: i32, timeout: Duration) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else {
        return true;
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ts = rustix::time::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: timeout.subsec_nanos() as i64,
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Waits for a monitor to finish (it records the exit before it ends).
fn wait_monitor(owner: ProcessToken, timeout: Duration) -> bool {
    if owner.pid == 0 || !owner.is_alive() {
        return true;
    }
    wait_pid_exit(owner.pid as i32, timeout)
}

/// Whether `pid` is stopped (SIGSTOP, or traced): it will not finish
/// anything until someone continues it.
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| matches!(state, "T" | "t"))
    })
}

/// After the container's init is gone, waits (up to `timeout`) for its
/// monitor to record the exit and end. A monitor that is stopped, or still
/// there at the timeout, will not: every process left in the container is
/// killed, then the monitor, and the next look records the exit as "the
/// container's monitor died" — so `stop` never returns with the container
/// still said to be up. Returns whether the monitor had to be killed.
fn finish_monitor(
    runtime: &crate::runtimes::OciRuntime,
    row: &ContainerRow,
    timeout: Duration,
) -> bool {
    let owner = row.owner;
    let deadline = std::time::Instant::now() + timeout;
    while owner.pid != 0 && owner.is_alive() {
        if is_stopped(owner.pid) || std::time::Instant::now() >= deadline {
            let _ = runtime.kill(&row.id, 9, true);
            // Still the same process (pid and start time): ours to kill.
            if owner.is_alive()
                && let Some(pid) = rustix::process::Pid::from_raw(owner.pid as i32)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            wait_pid_exit(owner.pid as i32, Duration::from_secs(5));
            return true;
        }
        wait_pid_exit(owner.pid as i32, Duration::from_millis(100));
    }
    false
}

pub fn not_running(row: &ContainerRow) -> Error {
    Error::conflict(format!("Container {} is not running", row.id))
}

impl Engine {
    /// `start`: a no-op for a running container, as in Docker.
    pub fn start_container(&self, name: &str) -> Result<ContainerRow> {
        let row = self.container(name)?;
        if row.state.is_live() {
            return Ok(row);
        }
        if row.state == State::Removing || row.state == State::Creating {
            return Err(Error::conflict(format!(
                "container {} is {}",
                row.id,
                row.state.as_str()
            )));
        }
        self.spawn_monitor(&row.id, false)?.wait_started()?;
        self.container(&row.id)
    }

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds (the
    /// container's `--stop-timeout`, else 10); waits until the exit is recorded.
    pub fn stop_container(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<ContainerRow> {
        self.stop_with_events(name, timeout, signal, true)
    }

    /// Stops as `stop_container`, with Docker's events: `kill` (with the
    /// signal) for each signal sent, and `stop` at the end unless the stop
    /// is part of a forced removal (`rm -f` is kill, die, destroy).
    pub(crate) fn stop_with_events(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
        stop_event: bool,
    ) -> Result<ContainerRow> {
        let row = self.container(name)?;
        if !row.state.is_live() {
            return Ok(row);
        }
        self.mark_stop_requested(&row.id)?;
        let runtime = self.runtime(&row);
        if row.state == State::Paused {
            let _ = runtime.resume(&row.id);
        }
        let signal_name = signal
            .map(str::to_string)
            .or_else(|| row.config.stop_signal.clone())
            .unwrap_or_else(|| "SIGTERM".into());
        let signal = berth_runtime::parse_signal(&signal_name)
            .map_err(|e| Error::invalid(format!("invalid stop signal {signal_name:?}: {e}")))?;
        let timeout = timeout.or(row.config.stop_timeout).unwrap_or(10);
        let kill_event = |number: i32| {
            self.event(
                crate::events::container_event(&row, "kill").with("signal", number.to_string()),
            );
        };
        if timeout != 0 {
            wait_for_init_to_take_signals(&row);
            kill_event(signal);
            let _ = runtime.kill(&row.id, signal, false);
        }
        let waited = timeout < 0
            || (timeout > 0 && wait_pid_exit(row.pid, Duration::from_secs(timeout as u64)));
        if timeout >= 0 && !waited {
            kill_event(9);
            let _ = runtime.kill(&row.id, 9, true);
            wait_pid_exit(row.pid, Duration::from_secs(10));
        } else if timeout < 0 {
            wait_pid_exit(row.pid, Duration::from_secs(u64::MAX / 4));
        }
        finish_monitor(&runtime, &row, Duration::from_secs(10));
        if stop_event {
            self.event(crate::events::container_event(&row, "stop"));
        }
        match self.container(&row.id) {
            // `--rm`: its monitor removed it as it stopped, as asked.
            Err(e) if e.kind == crate::error::ErrorKind::NotFound => Ok(row),
            other => other,
        }
    }

    fn mark_stop_requested(&self, id: &str) -> Result<()> {
        self.db.write_relaxed(|c| record::set_stop_requested(c, id))
    }

    /// `kill -s SIGNAL`.
    pub fn kill_container(&self, name: &str, signal: &str) -> Result<ContainerRow> {
        let row = self.container(name)?;
        if !row.state.is_live() || row.pid == 0 {
            return Err(Error::conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                row.id
            )));
        }
        if row.state == State::Paused {
            // A frozen process would only get the signal when thawed.
            return Err(Error::conflict(format!(
                "Cannot kill container: {name}: Container {} is paused. Unpause the container before stopping or killing",
                row.id
            )));
        }
        let number = berth_runtime::parse_signal(signal)
            .map_err(|_| Error::invalid(format!("Invalid signal: {signal}")))?;
        if number == 9 {
            self.mark_stop_requested(&row.id)?;
        }
        wait_for_init_to_take_signals(&row);
        self.runtime(&row)
            .kill(&row.id, number, false)
            .map_err(|e| Error::internal(format!("kill container {}: {e}", row.id)))?;
        self.event(crate::events::container_event(&row, "kill").with("signal", number.to_string()));
        if number == 9 {
            // As dockerd: a SIGKILL returns once the exit is recorded, so
            // `kill; rm` and `kill; inspect` see an exited container.
            self.wait_exit_recorded(&row, Duration::from_secs(10));
        }
        Ok(row)
    }

    /// Waits until the run of `row` (its init `row.pid`) is over in the
    /// store: its monitor recorded the exit (or started it again, per its
    /// policy), or died and the next look recorded it.
    pub(crate) fn wait_exit_recorded(&self, row: &ContainerRow, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        wait_pid_exit(row.pid, timeout);
        while std::time::Instant::now() < deadline {
            match self.container(&row.id) {
                Ok(now) if now.state.is_live() && now.pid == row.pid => {}
                _ => return,
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pause_container(&self, name: &str) -> Result<()> {
        let row = self.container(name)?;
        match row.state {
            State::Running => {}
            State::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is already paused",
                    row.id
                )));
            }
            _ => return Err(not_running(&row)),
        }
        self.runtime(&row)
            .pause(&row.id)
            .map_err(|e| Error::internal(format!("pause container {}: {e}", row.id)))?;
        self.db.write(|c| {
            record::set_state(c, &row.id, State::Paused, Some(row.owner))?;
            event_log::record(c, &crate::events::container_event(&row, "pause"))
        })?;
        self.events_changed();
        Ok(())
    }

    pub fn unpause_container(&self, name: &str) -> Result<()> {
        let row = self.container(name)?;
        if row.state != State::Paused {
            return Err(Error::conflict(format!(
                "Container {} is not paused",
                row.id
            )));
        }
        self.runtime(&row)
            .resume(&row.id)
            .map_err(|e| Error::internal(format!("unpause container {}: {e}", row.id)))?;
        self.db.write(|c| {
            record::set_state(c, &row.id, State::Running, Some(row.owner))?;
            event_log::record(c, &crate::events::container_event(&row, "unpause"))
        })?;
        self.events_changed();
        Ok(())
    }

    pub fn restart_container(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<ContainerRow> {
        let row = self.stop_container(name, timeout, signal)?;
        let row = self.start_container(&row.id)?;
        self.event(crate::events::container_event(&row, "restart"));
        Ok(row)
    }

    /// `wait`: blocks until the container is not running; its exit code.
    /// `wait`: the exit code once the container is not running. A `--rm`
    /// container may be gone before (or while) it is waited for, faster
    /// than dockerd removes one: its exit code then comes from its `die`
    /// event, if it was removed in the last minute, so that `run -d --rm`
    /// then `wait` gives the code as it does with docker.
    pub fn wait_container(&self, name: &str) -> Result<i32> {
        let mut row = match self.container(name) {
            Ok(row) => row,
            Err(e) if e.kind == crate::error::ErrorKind::NotFound => {
                let since = crate::now_nanos() - 60_000_000_000;
                let gone = self
                    .db
                    .read(|c| event_log::destroyed_since(c, name, since))?;
                return match gone.map(|id| self.db.read(|c| event_log::last_exit_code(c, &id))) {
                    Some(Ok(Some(code))) => Ok(code),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        while row.state.is_live() {
            wait_monitor(row.owner, Duration::from_secs(3600));
            row = match self.container(&row.id) {
                Ok(now) => now,
                Err(e) if e.kind == crate::error::ErrorKind::NotFound => {
                    return self
                        .db
                        .read(|c| event_log::last_exit_code(c, &row.id))?
                        .ok_or(e);
                }
                Err(e) => return Err(e),
            };
        }
        Ok(row.exit_code)
    }
}

impl Engine {
    /// Host pids of every process in a running container.
    pub fn container_pids(&self, id: &str) -> Result<Vec<i32>> {
        self.runtime_of(id).pids(id)
    }

    pub fn container_stats(&self, id: &str) -> Result<berth_runtime::ContainerStats> {
        self.runtime_of(id).stats(id)
    }
}

/// berth's `--init` blocks every signal first thing and then waits for
/// them; a signal sent before that, while it still has the default
/// disposition, is dropped by the kernel (a namespace's pid 1 ignores what
/// it has no handler for), so a `stop` right after `run -d` would wait out
/// its timeout. Wait, briefly, until SIGTERM is blocked in it.
fn wait_for_init_to_take_signals(row: &ContainerRow) {
    if !row.config.host.init || row.pid <= 0 {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", row.pid)) else {
            return;
        };
        let blocked = status
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        // SIGTERM is 15: bit 14.
        if blocked & (1 << 14) != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
