//! `start`: releases a created container's init from the exec fifo.

use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};

use super::Runtime;
use crate::error::{Error, IoContext, Result};
use crate::hooks;
use crate::state::{EXEC_FIFO, State, Status};

impl Runtime {
    pub fn start(&self, id: &str) -> Result<()> {
        let state = self.state(id)?;
        match state.status(&self.root) {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::state("cannot start a container that has stopped"));
            }
            Status::Running | Status::Paused => {
                return Err(Error::state("cannot start an already running container"));
            }
            Status::Creating => {
                return Err(Error::state(
                    "cannot start a container that is still being created",
                ));
            }
        }
        let fifo_path = State::dir(&self.root, id).join(EXEC_FIFO);
        // Non-blocking open: the init may have died; never hang on a fifo.
        let fifo = rustix::fs::open(
            &fifo_path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx("open exec fifo", &fifo_path)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut fds = [PollFd::new(&fifo, PollFlags::IN)];
            let ready = rustix::event::poll(
                &mut fds,
                Some(&rustix::time::Timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                }),
            )
            .unwrap_or(0);
            if ready > 0 {
                let mut buf = [0u8; 1];
                match rustix::io::read(&fifo, &mut buf) {
                    Ok(1) => break,
                    Ok(_) | Err(rustix::io::Errno::AGAIN) => {}
                    Err(e) => return Err(Error::system(format!("read exec fifo: {e}"))),
                }
            }
            if !state.init_alive() {
                return Err(Error::state("container init exited before it was started"));
            }
            if Instant::now() > deadline {
                return Err(Error::system(
                    "container init did not open the exec fifo within 30 s",
                ));
            }
        }
        std::fs::remove_file(&fifo_path).ctx("remove exec fifo", &fifo_path)?;
        if let Ok(spec) = self.saved_spec(id)
            && let Some(poststart) = spec.hooks().as_ref().and_then(|h| h.poststart().clone())
            && let Err(e) = hooks::run("poststart", &poststart, &state.to_oci_json(&self.root))
        {
            eprintln!("warning: {e}");
        }
        Ok(())
    }
}
