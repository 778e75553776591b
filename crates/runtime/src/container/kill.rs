//! `kill`: a signal to the init, or with `all` to every process of the container.

use super::{Runtime, cgroup_of};
use crate::error::{Error, Result};
use crate::state::Status;

/// `9`, `KILL`, `SIGKILL` (any case) -> 9.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::invalid(format!("invalid signal {s:?}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" | "CLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => return Err(Error::invalid(format!("unknown signal {s:?}"))),
    };
    Ok(n)
}

impl Runtime {
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let state = self.state(id)?;
        if state.status(&self.root) == Status::Stopped && !all {
            return Err(Error::state("container not running"));
        }
        let paused = state.status(&self.root) == Status::Paused;
        if all {
            cgroup_of(&state)?.kill_all(signal)?;
        } else {
            send(state.pid, signal)?;
        }
        // A frozen process takes no signal, not even SIGKILL, until it is
        // thawed (v1 freezer): thaw after SIGKILL so it dies now, as runc
        // does. Other signals wait for the unpause.
        if paused && signal == libc::SIGKILL {
            cgroup_of(&state)?.freeze(berth_cgroups::FreezerState::Thawed)?;
        }
        Ok(())
    }
}

pub fn send(pid: i32, signal: i32) -> Result<()> {
    let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(pid),
        rustix::process::Signal::from_named_raw(signal),
    ) else {
        return Err(Error::invalid(format!(
            "invalid pid {pid} or signal {signal}"
        )));
    };
    rustix::process::kill_process(pid, sig)
        .map_err(|e| Error::system(format!("kill {}: {e}", pid.as_raw_nonzero())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert_eq!(parse_signal("KILL").ok(), Some(9));
        assert_eq!(parse_signal("sigterm").ok(), Some(15));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
