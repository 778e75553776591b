//! The monitor's event loop: container output to the log and to attached
//! clients, clients' input to the container, until the init exits.
//!
//! One thread and poll(2): the monitor must stay single-threaded (it clones
//! the container's init on restart) and small.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, WaitOptions};

use super::log::{JsonLog, log_path};
use super::protocol::{self, Hello};
use super::setup::Stdio;
use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};

struct Client {
    stream: UnixStream,
    hello: Option<Hello>,
    buf: Vec<u8>,
    dead: bool,
}

pub struct Relay {
    listener: UnixListener,
    clients: Vec<Client>,
    log: JsonLog,
    stdio: Option<Stdio>,
    pending_stdin: Vec<u8>,
    stdin_once: bool,
    /// Close stdin once `pending_stdin` is written.
    stdin_closing: bool,
    tty: bool,
}

fn set_nonblocking(fd: &OwnedFd) {
    if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
        let _ = rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
}

impl Relay {
    pub fn new(engine: &Engine, row: &ContainerRow, listener: UnixListener) -> Result<Relay> {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::internal(format!("attach socket: {e}")))?;
        let path = log_path(&engine.paths.container_dir(&row.id), &row.id);
        let log = JsonLog::open(
            path.clone(),
            engine.config.log_max_size,
            engine.config.log_max_files,
        )
        .map_err(|e| Error::internal(format!("open log {}: {e}", path.display())))?;
        Ok(Relay {
            listener,
            clients: Vec::new(),
            log,
            stdio: None,
            pending_stdin: Vec::new(),
            stdin_once: row.config.stdin_once,
            stdin_closing: false,
            tty: row.config.tty,
        })
    }

    pub fn attach_stdio(&mut self, stdio: Stdio) {
        for (_, fd) in &stdio.outputs {
            set_nonblocking(fd);
        }
        if let Some(fd) = &stdio.stdin {
            set_nonblocking(fd);
        }
        self.stdio = Some(stdio);
    }

    /// Waits until a client has connected and said hello (`run` without -d
    /// attaches before the container starts, so no output is missed), or the
    /// CLI went away (its end of the status pipe closed), or `timeout`.
    pub fn wait_first_client(&mut self, status: &File, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.clients.iter().any(|c| c.hello.is_some()) {
                return Ok(());
            }
            let mut fds = vec![
                PollFd::new(&self.listener, PollFlags::IN),
                PollFd::new(status, PollFlags::empty()),
            ];
            for c in &self.clients {
                fds.push(PollFd::new(&c.stream, PollFlags::IN));
            }
            let _ = rustix::event::poll(&mut fds, Some(&timespec(Duration::from_millis(200))));
            let cli_gone = fds[1].revents().intersects(PollFlags::ERR | PollFlags::HUP);
            let readable: Vec<bool> = fds[2..].iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            if cli_gone {
                return Ok(());
            }
            self.accept();
            for (i, ready) in readable.into_iter().enumerate() {
                if ready {
                    self.read_client(i);
                }
            }
            self.clients.retain(|c| !c.dead);
        }
        Ok(())
    }

    /// Relays until the init `pid` exits and its output is drained; returns
    /// its exit code (128 + signal when killed).
    pub fn run_until_exit(&mut self, pid: i32) -> Result<i32> {
        let raw = Pid::from_raw(pid).ok_or_else(|| Error::internal(format!("bad pid {pid}")))?;
        let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty())
            .map_err(|e| Error::internal(format!("pidfd_open {pid}: {e}")))?;
        let mut exited: Option<Instant> = None;
        loop {
            let outputs_open = self.stdio.as_ref().is_some_and(|s| !s.outputs.is_empty());
            if let Some(at) = exited
                && (!outputs_open || at.elapsed() > Duration::from_secs(2))
            {
                break;
            }
            self.poll_once(&pidfd, exited.is_none())?;
            if exited.is_none() && pid_exited(&pidfd) {
                exited = Some(Instant::now());
            }
        }
        let _ = self.log.flush();
        self.stdio = None;
        self.pending_stdin.clear();
        wait_code(raw)
    }

    fn poll_once(&mut self, pidfd: &OwnedFd, watch_pid: bool) -> Result<()> {
        let stdio = self.stdio.as_ref();
        let outputs: Vec<(u8, &OwnedFd)> = stdio
            .map(|s| s.outputs.iter().map(|(k, fd)| (*k, fd)).collect())
            .unwrap_or_default();
        let stdin = stdio
            .and_then(|s| s.stdin.as_ref())
            .filter(|_| !self.pending_stdin.is_empty());
        let mut fds = Vec::new();
        fds.push(PollFd::new(
            pidfd,
            if watch_pid {
                PollFlags::IN
            } else {
                PollFlags::empty()
            },
        ));
        fds.push(PollFd::new(&self.listener, PollFlags::IN));
        for (_, fd) in &outputs {
            fds.push(PollFd::new(*fd, PollFlags::IN));
        }
        for c in &self.clients {
            fds.push(PollFd::new(&c.stream, PollFlags::IN));
        }
        if let Some(fd) = stdin {
            fds.push(PollFd::new(fd, PollFlags::OUT));
        }
        let timeout = if watch_pid {
            None
        } else {
            Some(timespec(Duration::from_millis(100)))
        };
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::internal(format!("poll: {e}"))),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let n_out = outputs.len();
        let n_clients = self.clients.len();
        if ready[1] {
            self.accept();
        }
        let mut ended = Vec::new();
        for i in 0..n_out {
            if ready[2 + i] && self.read_output(i) {
                ended.push(i);
            }
        }
        if let Some(stdio) = self.stdio.as_mut() {
            for i in ended.into_iter().rev() {
                stdio.outputs.remove(i);
            }
        }
        for i in 0..n_clients {
            if ready[2 + n_out + i] {
                self.read_client(i);
            }
        }
        self.clients.retain(|c| !c.dead);
        self.flush_stdin();
        Ok(())
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                hello: None,
                buf: Vec::new(),
                dead: false,
            });
        }
    }

    /// Reads one output fd; true at its end (EOF, or EIO from a pty whose
    /// other side closed), after which it is no longer polled.
    fn read_output(&mut self, index: usize) -> bool {
        let mut buf = [0u8; 32 * 1024];
        let Some(stdio) = self.stdio.as_ref() else {
            return true;
        };
        let (stream, fd) = &stdio.outputs[index];
        let stream = *stream;
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => true,
            Ok(n) => {
                let _ = self.log.write(stream, &buf[..n]);
                self.broadcast(stream, &buf[..n]);
                false
            }
            Err(_) => false,
        }
    }

    fn broadcast(&mut self, stream: u8, data: &[u8]) {
        for c in &mut self.clients {
            let Some(hello) = c.hello.as_ref().filter(|_| !c.dead) else {
                continue;
            };
            let wanted = if stream == protocol::STDERR {
                hello.stderr
            } else {
                hello.stdout
            };
            if wanted && write_blocking(&mut c.stream, stream, data).is_err() {
                mark_dead(c);
            }
        }
    }

    fn read_client(&mut self, index: usize) {
        let mut buf = [0u8; 16 * 1024];
        let client = &mut self.clients[index];
        loop {
            match client.stream.read(&mut buf) {
                // A client that goes away (detach) leaves stdin open; only
                // the end of its input (STDIN_EOF) closes it.
                Ok(0) => {
                    mark_dead(client);
                    return;
                }
                Ok(n) => client.buf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    mark_dead(client);
                    return;
                }
            }
        }
        if client.hello.is_none() {
            let Some(end) = client.buf.iter().position(|&b| b == b'\n') else {
                return;
            };
            match serde_json::from_slice::<Hello>(&client.buf[..end]) {
                Ok(h) => client.hello = Some(h),
                Err(_) => {
                    mark_dead(client);
                    return;
                }
            }
            client.buf.drain(..=end);
        }
        let frames = match protocol::take_frames(&mut client.buf) {
            Ok(f) => f,
            Err(_) => {
                mark_dead(client);
                return;
            }
        };
        let may_write = client.hello.as_ref().is_some_and(|h| h.stdin);
        for (kind, payload) in frames {
            match kind {
                protocol::STDIN if may_write => self.pending_stdin.extend_from_slice(&payload),
                // `run -i` (stdin once): the client's end of input is the container's.
                protocol::STDIN_EOF if may_write && !self.tty && self.stdin_once => {
                    self.close_stdin()
                }
                protocol::RESIZE if payload.len() == 4 => self.resize(&payload),
                _ => {}
            }
        }
    }

    fn resize(&self, payload: &[u8]) {
        let Some(pty) = self.stdio.as_ref().and_then(|s| s.pty.as_ref()) else {
            return;
        };
        let size = rustix::termios::Winsize {
            ws_row: u16::from_be_bytes([payload[0], payload[1]]),
            ws_col: u16::from_be_bytes([payload[2], payload[3]]),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = rustix::termios::tcsetwinsize(pty, size);
    }

    fn flush_stdin(&mut self) {
        let Some(fd) = self.stdio.as_ref().and_then(|s| s.stdin.as_ref()) else {
            self.pending_stdin.clear();
            return;
        };
        while !self.pending_stdin.is_empty() {
            match rustix::io::write(fd, &self.pending_stdin) {
                Ok(n) => {
                    self.pending_stdin.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    self.pending_stdin.clear();
                    self.close_stdin();
                    return;
                }
            }
        }
        if self.stdin_closing {
            self.close_stdin();
        }
    }

    /// Closes the container's stdin once what was written has gone in.
    fn close_stdin(&mut self) {
        if !self.pending_stdin.is_empty() {
            self.stdin_closing = true;
            return;
        }
        self.stdin_closing = false;
        if let Some(s) = self.stdio.as_mut() {
            s.stdin = None;
        }
    }

    /// Tells every client how the container ended.
    pub fn send_exit(&mut self, code: i32) {
        for c in &mut self.clients {
            if c.hello.is_some() {
                let _ = write_blocking(&mut c.stream, protocol::EXIT, &code.to_be_bytes());
            }
        }
        self.clients.clear();
    }
}

fn mark_dead(c: &mut Client) {
    let _ = c.stream.shutdown(std::net::Shutdown::Both);
    c.dead = true;
}

/// Writes a frame to a non-blocking client, waiting a little when its
/// buffer is full; a client that stays stuck is dropped.
fn write_blocking(stream: &mut UnixStream, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    protocol::write_frame(&mut frame, kind, payload)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut at = 0;
    while at < frame.len() {
        match stream.write(&frame[at..]) {
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(e);
                }
                let fd = stream.as_fd();
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut fds, Some(&timespec(Duration::from_millis(100))));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn pid_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&timespec(Duration::ZERO))), Ok(n) if n > 0)
}

fn wait_code(pid: Pid) -> Result<i32> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(code);
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(128 + sig);
                }
            }
            Ok(None) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::internal(format!("wait for pid {pid:?}: {e}"))),
        }
    }
}

fn timespec(d: Duration) -> rustix::time::Timespec {
    rustix::time::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    }
}
