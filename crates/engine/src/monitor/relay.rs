//! Over 800 lines on purpose: it is one poll loop and the state it owns
//! (processes, clients, the log, the health prober's running check); the
//! pieces that stand alone are elsewhere (`log.rs`, `health.rs`, `exec.rs`,
//! `protocol.rs`), and splitting the loop's handlers from it would spread
//! one borrow of that state over several files.
//!
//! The monitor's event loop: the output of the container's init to the log
//! and to attached clients, the output of each exec to its client, clients'
//! input and resizes to their process, new clients and exec requests on the
//! control socket, until the init exits.
//!
//! One thread and poll(2): the monitor clones processes (the init on
//! restart, execs), which a multi-threaded process must not do, and it
//! stays small. Nothing blocks on a client: each has a bounded queue of
//! output and is dropped when it falls that far behind, so a client that
//! stops reading never stalls the container, its log or other clients.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, WaitOptions};

use super::log::{JsonLog, log_path};
use super::protocol::{self, Hello, Op, Welcome};
use super::setup::Stdio;
use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::error::{Error, Result};

/// Output queued for one client before it counts as fallen behind.
const CLIENT_BACKLOG: usize = 4 << 20;

/// How long a process's output is still read after it exited (children
/// it left may hold its stdout open).
const DRAIN: Duration = Duration::from_secs(2);

/// A process whose stdio the monitor relays.
struct Proc {
    /// None: the container's init.
    exec_id: Option<String>,
    pid: i32,
    pidfd: OwnedFd,
    stdio: Stdio,
    pending_stdin: Vec<u8>,
    /// Close stdin once `pending_stdin` is written.
    stdin_closing: bool,
    exited_at: Option<Instant>,
    tty: bool,
    /// A health check: its output goes to the prober, not to a client.
    probe: bool,
}

struct Client {
    stream: UnixStream,
    hello: Option<Hello>,
    inbuf: Vec<u8>,
    out: VecDeque<u8>,
    dead: bool,
    /// Hang up once `out` is written.
    closing: bool,
}

impl Client {
    /// Whose stdio this client relays: None the init's, else an exec's.
    fn target(&self) -> Option<Option<&str>> {
        let h = self.hello.as_ref()?;
        match h.op {
            Op::Attach => Some(None),
            Op::Exec => Some(h.exec_id.as_deref()),
            Op::Resize => None,
        }
    }

    /// Queues bytes; a client that has fallen too far behind is dropped.
    fn queue(&mut self, bytes: &[u8]) {
        if self.dead {
            return;
        }
        if self.out.len() + bytes.len() > CLIENT_BACKLOG {
            self.hang_up();
            return;
        }
        self.out.extend(bytes);
        self.flush();
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) {
        while !self.out.is_empty() && !self.dead {
            let (front, _) = self.out.as_slices();
            match self.stream.write(front) {
                Ok(0) => self.hang_up(),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.hang_up(),
            }
        }
        if self.out.is_empty() && self.closing {
            self.hang_up();
        }
    }

    fn hang_up(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.dead = true;
    }

    fn welcome(&mut self, w: &Welcome) {
        if let Ok(mut line) = serde_json::to_vec(w) {
            line.push(b'\n');
            self.queue(&line);
        }
    }
}

pub struct Relay<'a> {
    engine: &'a Engine,
    container_id: String,
    rootfs: PathBuf,
    listener: UnixListener,
    clients: Vec<Client>,
    log: JsonLog,
    init: Option<Proc>,
    execs: Vec<Proc>,
    stdin_once: bool,
    /// The current run's health checks, when the container has them.
    health: Option<super::health::Prober>,
}

fn set_nonblocking(fd: &OwnedFd) {
    if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
        let _ = rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
}

/// What a poll slot watches.
#[derive(Clone, Copy)]
enum Slot {
    Listener,
    /// The init (None) or the exec at this index.
    Pidfd(Option<usize>),
    Output(Option<usize>, usize),
    Stdin(Option<usize>),
    Client(usize),
}

impl<'a> Relay<'a> {
    pub fn new(
        engine: &'a Engine,
        row: &ContainerRow,
        listener: UnixListener,
        rootfs: PathBuf,
    ) -> Result<Relay<'a>> {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::internal(format!("control socket: {e}")))?;
        let path = log_path(&engine.paths.container_dir(&row.id), &row.id);
        // `--log-opt max-size/max-file` over the engine's defaults (both
        // were checked at create).
        let log_config = &row.config.host.log_config;
        let max_size = log_config
            .config
            .get("max-size")
            .and_then(|v| crate::containers::parse::parse_bytes(v).ok())
            .map_or(engine.config.log_max_size, |v| (v as u64).max(1024));
        let max_files = log_config
            .config
            .get("max-file")
            .and_then(|v| v.parse().ok())
            .unwrap_or(engine.config.log_max_files);
        let log = JsonLog::open(path.clone(), max_size, max_files, log_config.kind == "none")
            .map_err(|e| Error::internal(format!("open log {}: {e}", path.display())))?;
        Ok(Relay {
            engine,
            container_id: row.id.clone(),
            rootfs,
            listener,
            clients: Vec::new(),
            log,
            init: None,
            execs: Vec::new(),
            stdin_once: row.config.stdin_once,
            health: None,
        })
    }

    /// Relays the stdio of the container's (new) init, `pid`.
    pub fn attach_init(&mut self, pid: i32, stdio: Stdio, tty: bool) -> Result<()> {
        self.init = Some(new_proc(None, pid, stdio, tty)?);
        Ok(())
    }

    /// Runs `row`'s health checks during this run (if it has them).
    pub fn check_health(&mut self, row: &ContainerRow) {
        self.health = super::health::Prober::start(self.engine, row);
    }

    /// Starts a due health check, kills one past its timeout.
    fn health_tick(&mut self) {
        let Some(prober) = self.health.as_mut() else {
            return;
        };
        if let Some(pid) = prober.overdue()
            && let Some(pid) = Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let init_runs = self.init.as_ref().is_some_and(|p| p.exited_at.is_none());
        if !init_runs || !prober.due() {
            return;
        }
        let started =
            super::exec::launch_probe(self.engine, &self.container_id, &self.rootfs, &prober.args)
                .and_then(|s| new_proc(None, s.pid, s.stdio, false));
        match started {
            Ok(mut proc) => {
                proc.probe = true;
                prober.running(proc.pid);
                self.execs.push(proc);
            }
            Err(e) => prober.failed_to_start(self.engine, &self.container_id, &e.message),
        }
    }

    /// Waits until a client has connected and said hello (`run` without -d
    /// attaches before the container starts, so no output is missed), or the
    /// CLI went away (its end of the status pipe closed), or `timeout`.
    pub fn wait_first_client(&mut self, status: &File, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .clients
                .iter()
                .any(|c| c.hello.as_ref().is_some_and(|h| h.op == Op::Attach))
            {
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

    /// Relays until the init exits and its output is drained; returns its
    /// exit code (128 + signal when killed). Execs are served meanwhile.
    pub fn run_until_exit(&mut self) -> Result<i32> {
        loop {
            let init = self
                .init
                .as_ref()
                .ok_or_else(|| Error::internal("relay: no init"))?;
            if let Some(at) = init.exited_at
                && (init.stdio.outputs.is_empty() || at.elapsed() > DRAIN)
            {
                break;
            }
            self.poll_once()?;
        }
        let _ = self.log.flush();
        let init = self
            .init
            .take()
            .ok_or_else(|| Error::internal("relay: no init"))?;
        wait_code(init.pid)
    }

    /// After the container's processes were killed: records how every exec
    /// ended and tells its client.
    pub fn finish_execs(&mut self) {
        let deadline = Instant::now() + DRAIN;
        while !self.execs.is_empty() && Instant::now() < deadline {
            if self.poll_once().is_err() {
                break;
            }
        }
        for i in (0..self.execs.len()).rev() {
            let code = wait_code(self.execs[i].pid).unwrap_or(137);
            self.end_exec(i, code);
        }
    }

    fn poll_once(&mut self) -> Result<()> {
        let mut slots = Vec::new();
        let mut fds = Vec::new();
        fds.push(PollFd::new(&self.listener, PollFlags::IN));
        slots.push(Slot::Listener);
        let procs = self
            .init
            .iter()
            .map(|p| (None, p))
            .chain(self.execs.iter().enumerate().map(|(i, p)| (Some(i), p)));
        let mut waiting_exit = false;
        for (which, p) in procs {
            if p.exited_at.is_none() {
                waiting_exit = true;
                fds.push(PollFd::new(&p.pidfd, PollFlags::IN));
                slots.push(Slot::Pidfd(which));
            }
            for (i, (_, fd)) in p.stdio.outputs.iter().enumerate() {
                fds.push(PollFd::new(fd, PollFlags::IN));
                slots.push(Slot::Output(which, i));
            }
            if let Some(fd) = p
                .stdio
                .stdin
                .as_ref()
                .filter(|_| !p.pending_stdin.is_empty())
            {
                fds.push(PollFd::new(fd, PollFlags::OUT));
                slots.push(Slot::Stdin(which));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::IN;
            if !c.out.is_empty() {
                flags |= PollFlags::OUT;
            }
            fds.push(PollFd::new(&c.stream, flags));
            slots.push(Slot::Client(i));
        }
        // Block while some process runs (until a health check is due);
        // once all exited, only drain.
        let mut wait = (!waiting_exit).then_some(Duration::from_millis(100));
        if let Some(h) = &self.health {
            let due = h.wake_in();
            wait = Some(wait.map_or(due, |w| w.min(due)));
        }
        let timeout = wait.map(timespec);
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::internal(format!("poll: {e}"))),
        }
        let ready: Vec<(Slot, PollFlags)> = slots
            .into_iter()
            .zip(fds.iter().map(|f| f.revents()))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        drop(fds);

        let mut ended: Vec<(Option<usize>, usize)> = Vec::new();
        for (slot, revents) in ready {
            match slot {
                Slot::Listener => self.accept(),
                Slot::Pidfd(which) => {
                    if let Some(p) = self.proc_mut(which) {
                        p.exited_at = Some(Instant::now());
                    }
                }
                Slot::Output(which, i) => {
                    if self.read_output(which, i) {
                        ended.push((which, i));
                    }
                }
                Slot::Stdin(which) => self.flush_stdin(which),
                Slot::Client(i) => {
                    if revents.contains(PollFlags::OUT) {
                        self.clients[i].flush();
                    }
                    if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                        self.read_client(i);
                    }
                }
            }
        }
        // Highest index first, so earlier indexes stay valid.
        ended.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (which, i) in ended {
            if let Some(p) = self.proc_mut(which) {
                p.stdio.outputs.remove(i);
            }
        }
        // Execs whose process ended and whose output is read.
        for i in (0..self.execs.len()).rev() {
            let p = &self.execs[i];
            if let Some(at) = p.exited_at
                && (p.stdio.outputs.is_empty() || at.elapsed() > DRAIN)
            {
                let code = wait_code(p.pid).unwrap_or(137);
                self.end_exec(i, code);
            }
        }
        self.clients.retain(|c| !c.dead);
        self.health_tick();
        Ok(())
    }

    fn proc_mut(&mut self, which: Option<usize>) -> Option<&mut Proc> {
        match which {
            None => self.init.as_mut(),
            Some(i) => self.execs.get_mut(i),
        }
    }

    /// Records an exec's exit and tells its client.
    fn end_exec(&mut self, index: usize, code: i32) {
        let p = self.execs.remove(index);
        if p.probe {
            if let Some(h) = self.health.as_mut() {
                h.finish(self.engine, &self.container_id, code);
            }
            return;
        }
        let Some(exec_id) = p.exec_id else {
            return;
        };
        let _ = crate::containers::exec::record_exit(self.engine, &exec_id, code);
        for c in &mut self.clients {
            if c.target() == Some(Some(exec_id.as_str())) {
                c.queue(&protocol::frame(protocol::EXIT, &code.to_be_bytes()));
                c.closing = true;
                c.flush();
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                hello: None,
                inbuf: Vec::new(),
                out: VecDeque::new(),
                dead: false,
                closing: false,
            });
        }
    }

    /// Reads one output fd; true at its end (EOF, or EIO from a pty whose
    /// other side closed), after which it is no longer polled.
    fn read_output(&mut self, which: Option<usize>, index: usize) -> bool {
        let mut buf = [0u8; 32 * 1024];
        let Some(p) = (match which {
            None => self.init.as_ref(),
            Some(i) => self.execs.get(i),
        }) else {
            return true;
        };
        let Some((stream, fd)) = p.stdio.outputs.get(index) else {
            return true;
        };
        let stream = *stream;
        let exec_id = p.exec_id.clone();
        let probe = p.probe;
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(rustix::io::Errno::IO) => true,
            Ok(n) if probe => {
                if let Some(h) = self.health.as_mut() {
                    h.output(&buf[..n]);
                }
                false
            }
            Ok(n) => {
                let data = &buf[..n];
                if exec_id.is_none() {
                    let _ = self.log.write(stream, data);
                }
                let frame = protocol::frame(stream, data);
                for c in &mut self.clients {
                    let wanted = c.hello.as_ref().is_some_and(|h| {
                        if stream == protocol::STDERR {
                            h.stderr
                        } else {
                            h.stdout
                        }
                    });
                    if wanted && c.target() == Some(exec_id.as_deref()) {
                        c.queue(&frame);
                    }
                }
                false
            }
            Err(_) => false,
        }
    }

    fn read_client(&mut self, index: usize) {
        let mut buf = [0u8; 16 * 1024];
        let mut closed = false;
        {
            let client = &mut self.clients[index];
            loop {
                match client.stream.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => client.inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        if self.clients[index].hello.is_none() {
            let client = &mut self.clients[index];
            let Some(end) = client.inbuf.iter().position(|&b| b == b'\n') else {
                if closed || client.inbuf.len() > 64 * 1024 {
                    client.hang_up();
                }
                return;
            };
            match serde_json::from_slice::<Hello>(&client.inbuf[..end]) {
                Ok(h) => {
                    client.inbuf.drain(..=end);
                    self.greet(index, h);
                }
                Err(_) => {
                    client.hang_up();
                    return;
                }
            }
        }
        let frames = match protocol::take_frames(&mut self.clients[index].inbuf) {
            Ok(f) => f,
            Err(_) => {
                self.clients[index].hang_up();
                return;
            }
        };
        let (may_write, target) = {
            let c = &self.clients[index];
            (
                c.hello.as_ref().is_some_and(|h| h.stdin),
                c.target().map(|t| t.map(str::to_string)),
            )
        };
        let Some(target) = target else {
            return;
        };
        let which = match &target {
            None => None,
            Some(id) => match self
                .execs
                .iter()
                .position(|p| p.exec_id.as_deref() == Some(id))
            {
                Some(i) => Some(i),
                None => return,
            },
        };
        let stdin_once = self.stdin_once;
        for (kind, payload) in frames {
            let Some(p) = self.proc_mut(which) else {
                return;
            };
            match kind {
                protocol::STDIN if may_write => p.pending_stdin.extend_from_slice(&payload),
                // `run -i` (stdin once): the client's end of input is the
                // container's; an exec's client's is always its process's.
                protocol::STDIN_EOF if may_write && !p.tty && (which.is_some() || stdin_once) => {
                    close_stdin(p)
                }
                protocol::RESIZE => {
                    if let Some(size) = protocol::parse_size(&payload) {
                        resize(p, size);
                    }
                }
                _ => {}
            }
        }
        self.flush_stdin(which);
        if closed {
            // A client that goes away (detach) leaves an init's stdin open;
            // an exec's ends with its client.
            if let Some(p) = which.and_then(|i| self.execs.get_mut(i))
                && !p.tty
                && may_write
            {
                close_stdin(p);
                self.flush_stdin(which);
            }
            self.clients[index].hang_up();
        }
    }

    /// Answers a client's hello: an attach joins the init's clients, an
    /// exec starts its process, a resize is applied.
    fn greet(&mut self, index: usize, hello: Hello) {
        let speaks_welcome = hello.version >= 2;
        let mut welcome = Welcome {
            version: protocol::VERSION,
            ..Welcome::default()
        };
        match hello.op {
            Op::Attach => {}
            Op::Exec => match self.start_exec(&hello) {
                Ok(pid) => welcome.pid = pid,
                Err(e) => {
                    welcome.error = Some(e.message.clone());
                    welcome.kind = Some(e.kind);
                    welcome.exec_failed = e.subject == Some(crate::error::Subject::Exec);
                }
            },
            Op::Resize => {
                let which = match &hello.exec_id {
                    None => Some(None),
                    Some(id) => self
                        .execs
                        .iter()
                        .position(|p| p.exec_id.as_deref() == Some(id))
                        .map(Some),
                };
                match (which.and_then(|w| self.proc_mut(w)), hello.size) {
                    (Some(p), Some(size)) => resize(p, size),
                    _ => {
                        welcome.error = Some(format!(
                            "no running process {} to resize",
                            hello.exec_id.as_deref().unwrap_or("(the init)")
                        ));
                        welcome.kind = Some(crate::ErrorKind::Conflict);
                    }
                }
            }
        }
        let client = &mut self.clients[index];
        let done = welcome.error.is_some()
            || hello.op == Op::Resize
            || (hello.op == Op::Exec && hello.detach);
        client.hello = Some(hello);
        if speaks_welcome {
            client.welcome(&welcome);
        }
        if done {
            client.closing = true;
            client.flush();
        }
    }

    fn start_exec(&mut self, hello: &Hello) -> Result<i32> {
        let exec_id = hello
            .exec_id
            .as_deref()
            .ok_or_else(|| Error::invalid("exec: no exec ID given"))?;
        if self.init.as_ref().is_none_or(|p| p.exited_at.is_some()) {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                self.container_id
            )));
        }
        let started = super::exec::start(
            self.engine,
            &self.container_id,
            &self.rootfs,
            exec_id,
            hello,
        )?;
        let proc = new_proc(
            Some(exec_id.to_string()),
            started.pid,
            started.stdio,
            started.tty,
        )?;
        let pid = proc.pid;
        self.execs.push(proc);
        Ok(pid)
    }

    fn flush_stdin(&mut self, which: Option<usize>) {
        let Some(p) = self.proc_mut(which) else {
            return;
        };
        let Some(fd) = p.stdio.stdin.as_ref() else {
            p.pending_stdin.clear();
            return;
        };
        while !p.pending_stdin.is_empty() {
            match rustix::io::write(fd, &p.pending_stdin) {
                Ok(n) => {
                    p.pending_stdin.drain(..n);
                }
                Err(rustix::io::Errno::AGAIN) => return,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => {
                    p.pending_stdin.clear();
                    close_stdin(p);
                    return;
                }
            }
        }
        if p.stdin_closing {
            close_stdin(p);
        }
    }

    /// Tells every attached client how the container ended (waiting a
    /// little for slow ones), then hangs up on them.
    pub fn send_exit(&mut self, code: i32) {
        let frame = protocol::frame(protocol::EXIT, &code.to_be_bytes());
        for c in &mut self.clients {
            if c.target() == Some(None) {
                c.queue(&frame);
            }
            c.closing = true;
            c.flush();
        }
        let deadline = Instant::now() + DRAIN;
        while Instant::now() < deadline && self.clients.iter().any(|c| !c.dead) {
            let mut fds: Vec<PollFd> = self
                .clients
                .iter()
                .filter(|c| !c.dead)
                .map(|c| PollFd::new(&c.stream, PollFlags::OUT))
                .collect();
            let _ = rustix::event::poll(&mut fds, Some(&timespec(Duration::from_millis(100))));
            drop(fds);
            for c in &mut self.clients {
                c.flush();
            }
        }
        self.clients.clear();
    }
}

fn new_proc(exec_id: Option<String>, pid: i32, stdio: Stdio, tty: bool) -> Result<Proc> {
    for (_, fd) in &stdio.outputs {
        set_nonblocking(fd);
    }
    if let Some(fd) = &stdio.stdin {
        set_nonblocking(fd);
    }
    let raw = Pid::from_raw(pid).ok_or_else(|| Error::internal(format!("bad pid {pid}")))?;
    let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty())
        .map_err(|e| Error::internal(format!("pidfd_open {pid}: {e}")))?;
    Ok(Proc {
        exec_id,
        pid,
        pidfd,
        stdio,
        pending_stdin: Vec::new(),
        stdin_closing: false,
        exited_at: None,
        tty,
        probe: false,
    })
}

/// Closes a process's stdin once what was written has gone in.
fn close_stdin(p: &mut Proc) {
    if !p.pending_stdin.is_empty() {
        p.stdin_closing = true;
        return;
    }
    p.stdin_closing = false;
    p.stdio.stdin = None;
}

fn resize(p: &Proc, (rows, cols): (u16, u16)) {
    let Some(pty) = p.stdio.pty.as_ref() else {
        return;
    };
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let _ = rustix::termios::tcsetwinsize(pty, size);
}

fn wait_code(pid: i32) -> Result<i32> {
    let pid = Pid::from_raw(pid).ok_or_else(|| Error::internal(format!("bad pid {pid}")))?;
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
