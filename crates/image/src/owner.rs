//! Process identity that survives pid reuse: (pid, start time).
//!
//! Temp files and leases carry the identity of the process that made them, so
//! the next berth process can tell whether their owner is still at work or died
//! and left them behind.

use std::fmt;
use std::fs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessToken {
    pub pid: u32,
    /// Start time in clock ticks since boot (field 22 of /proc/PID/stat).
    pub start_time: u64,
}

impl ProcessToken {
    /// This process.
    pub fn current() -> ProcessToken {
        let pid = std::process::id();
        ProcessToken {
            pid,
            start_time: start_time_of(pid).unwrap_or(0),
        }
    }

    /// Whether the process is still running (the same one, not a reuse of its pid).
    pub fn is_alive(&self) -> bool {
        start_time_of(self.pid) == Some(self.start_time)
    }

    /// `PID.START`, as used in temp file names.
    pub fn file_tag(&self) -> String {
        format!("{}.{}", self.pid, self.start_time)
    }

    /// Parses what [`ProcessToken::file_tag`] wrote.
    pub fn from_file_tag(tag: &str) -> Option<ProcessToken> {
        let (pid, start) = tag.split_once('.')?;
        Some(ProcessToken {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }
}

impl fmt::Display for ProcessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)
    }
}

fn start_time_of(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields
    // after the last ')'. Field 3 (state) is the first one there, so field 22
    // (starttime) is the 20th.
    let after = &stat[stat.rfind(')')? + 1..];
    let state = after.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive_and_tag_round_trips() {
        let me = ProcessToken::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        assert_eq!(ProcessToken::from_file_tag(&me.file_tag()), Some(me));
        let other = ProcessToken {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(
            !other.is_alive(),
            "a different start time is a different process"
        );
    }
}
