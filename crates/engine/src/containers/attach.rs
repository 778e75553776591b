//! The client end of a container's monitor: attach to the container's
//! stdio, or relay an exec's. Every front door uses this (the CLI draws a
//! terminal around it, the API hijacks an HTTP connection onto it); the
//! frame protocol is `monitor::protocol`'s.
//!
//! Also Docker's detach keys (`--detach-keys`, ctrl-p ctrl-q by default).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use super::record::ContainerRow;
use crate::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::monitor::protocol::{self, Hello, Op, Welcome};

/// What an attach asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The terminal's (rows, columns), for a tty.
    pub size: Option<(u16, u16)>,
}

/// What comes from the monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The process ended with this code; the stream ends.
    Exit(i32),
}

/// A connection to a container's monitor.
pub struct MonitorStream {
    reader: BufReader<UnixStream>,
    /// For an exec: its pid (0 for an attach).
    pub pid: i32,
}

/// The sending half of a [`MonitorStream`], for another thread.
pub struct StreamInput {
    stream: UnixStream,
}

impl MonitorStream {
    pub fn input(&self) -> Result<StreamInput> {
        Ok(StreamInput {
            stream: self
                .reader
                .get_ref()
                .try_clone()
                .map_err(|e| Error::internal(format!("monitor connection: {e}")))?,
        })
    }

    /// The next output; None when the stream ended without an exit code
    /// (detached, or the monitor went away).
    pub fn next_output(&mut self) -> io::Result<Option<Output>> {
        loop {
            match protocol::read_frame(&mut self.reader)? {
                None => return Ok(None),
                Some((protocol::STDOUT, data)) => return Ok(Some(Output::Stdout(data))),
                Some((protocol::STDERR, data)) => return Ok(Some(Output::Stderr(data))),
                Some((protocol::EXIT, data)) if data.len() == 4 => {
                    return Ok(Some(Output::Exit(i32::from_be_bytes([
                        data[0], data[1], data[2], data[3],
                    ]))));
                }
                Some(_) => {}
            }
        }
    }
}

impl StreamInput {
    pub fn stdin(&mut self, data: &[u8]) -> io::Result<()> {
        protocol::write_frame(&mut self.stream, protocol::STDIN, data)
    }
    /// The end of the client's input.
    pub fn stdin_eof(&mut self) -> io::Result<()> {
        protocol::write_frame(&mut self.stream, protocol::STDIN_EOF, &[])
    }
    pub fn resize(&mut self, rows: u16, cols: u16) -> io::Result<()> {
        protocol::write_frame(
            &mut self.stream,
            protocol::RESIZE,
            &protocol::size_payload(rows, cols),
        )
    }
    /// Ends the connection both ways (detach).
    pub fn hang_up(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Engine {
    /// Attaches to a running (or about to start) container's stdio.
    pub fn attach(&self, container: &str, options: &AttachOptions) -> Result<MonitorStream> {
        let row = self.container(container)?;
        let hello = Hello {
            stdin: options.stdin,
            stdout: options.stdout,
            stderr: options.stderr,
            size: options.size,
            ..Hello::new(Op::Attach)
        };
        self.connect_monitor(&row, &hello)
    }

    /// Starts a created (or exited) container with a client attached
    /// before its first output: the monitor creates the container, this
    /// attaches, then the monitor starts it.
    pub fn start_attached(
        &self,
        container: &str,
        options: &AttachOptions,
    ) -> Result<MonitorStream> {
        let row = self.container(container)?;
        let mut monitor = self.spawn_monitor(&row.id, true)?;
        match monitor.next_status() {
            crate::monitor::MonitorStatus::Created(_) => {}
            crate::monitor::MonitorStatus::Failed(kind, message) => {
                return Err(Error::new(kind, message));
            }
            _ => {
                return Err(Error::internal(
                    "the container's monitor exited before creating the container",
                ));
            }
        }
        let stream = self.attach(&row.id, options)?;
        monitor.wait_started()?;
        Ok(stream)
    }

    /// Sets the terminal size of a container's init.
    pub fn resize_container(&self, container: &str, rows: u16, cols: u16) -> Result<()> {
        let row = self.container(container)?;
        let hello = Hello {
            size: Some((rows, cols)),
            ..Hello::new(Op::Resize)
        };
        self.connect_monitor(&row, &hello).map(|_| ())
    }

    /// Connects to the monitor of `row`, says `hello` and reads its welcome.
    pub(crate) fn connect_monitor(
        &self,
        row: &ContainerRow,
        hello: &Hello,
    ) -> Result<MonitorStream> {
        let dir = crate::monitor::monitor_dir(&self.run_root, &row.id);
        let not_running = || Error::conflict(format!("Container {} is not running", row.id));
        let (name, version) = if dir.join(protocol::CONTROL_SOCKET).exists() {
            (protocol::CONTROL_SOCKET, protocol::VERSION)
        } else if dir.join(protocol::LEGACY_ATTACH_SOCKET).exists() {
            (protocol::LEGACY_ATTACH_SOCKET, 1)
        } else {
            return Err(not_running());
        };
        if version < 2 && hello.op != Op::Attach {
            return Err(Error::unsupported(format!(
                "container {} was started by an older berth whose monitor cannot do this (protocol version 1); restart the container",
                row.id
            )));
        }
        let socket = crate::monitor::SocketPath::new(&dir, name)?;
        let mut stream = UnixStream::connect(&socket.path).map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) {
                not_running()
            } else {
                Error::internal(format!(
                    "connect to container {}'s monitor ({}): {e}",
                    row.id,
                    dir.join(name).display()
                ))
            }
        })?;
        let mut line =
            serde_json::to_vec(hello).map_err(|e| Error::internal(format!("encode hello: {e}")))?;
        line.push(b'\n');
        stream
            .write_all(&line)
            .map_err(|e| Error::internal(format!("talk to container {}'s monitor: {e}", row.id)))?;
        let mut reader = BufReader::new(stream);
        let mut pid = 0;
        if version >= 2 {
            let mut answer = String::new();
            reader.read_line(&mut answer).map_err(|e| {
                Error::internal(format!("read container {}'s monitor: {e}", row.id))
            })?;
            if answer.is_empty() {
                return Err(not_running());
            }
            let welcome: Welcome = serde_json::from_str(&answer).map_err(|e| {
                Error::internal(format!(
                    "container {}'s monitor answered {answer:?}: {e}",
                    row.id
                ))
            })?;
            if let Some(message) = welcome.error {
                let e = Error::new(welcome.kind.unwrap_or(ErrorKind::Internal), message);
                return Err(if welcome.exec_failed {
                    e.about(crate::error::Subject::Exec)
                } else {
                    e
                });
            }
            pid = welcome.pid;
        } else if let Some((rows, cols)) = hello.size {
            protocol::write_frame(
                reader.get_mut(),
                protocol::RESIZE,
                &protocol::size_payload(rows, cols),
            )
            .map_err(|e| Error::internal(format!("talk to container {}'s monitor: {e}", row.id)))?;
        }
        Ok(MonitorStream { reader, pid })
    }
}

/// Parses Docker's `--detach-keys`: comma-separated `ctrl-<x>` or single
/// characters (`ctrl-p,ctrl-q`, `ctrl-a,x`).
pub fn parse_detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    let spec = spec.unwrap_or("ctrl-p,ctrl-q");
    let mut out = Vec::new();
    for key in spec.split(',') {
        let byte = match key.strip_prefix("ctrl-") {
            Some(k) if k.len() == 1 => {
                let c = k.as_bytes()[0].to_ascii_lowercase();
                match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(Error::invalid(format!("Unknown character: '{key}'"))),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => return Err(Error::invalid(format!("Unknown character: '{key}'"))),
        };
        out.push(byte);
    }
    Ok(out)
}

/// Finds the detach sequence in typed input: bytes that may start it are
/// held back until the sequence completes (detach) or breaks (passed on).
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> DetachMatcher {
        DetachMatcher { keys, held: 0 }
    }

    /// What to send on, or None when the sequence was typed.
    pub fn feed(&mut self, input: &[u8]) -> Option<Vec<u8>> {
        if self.keys.is_empty() {
            return Some(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len() + self.held);
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    return None;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    return None;
                }
            } else {
                out.push(b);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequences() {
        let keys = parse_detach_keys(None).unwrap();
        assert_eq!(keys, vec![0x10, 0x11]);
        let mut m = DetachMatcher::new(keys.clone());
        assert_eq!(m.feed(b"ab\x10"), Some(b"ab".to_vec()));
        assert_eq!(
            m.feed(b"c"),
            Some(b"\x10c".to_vec()),
            "a lone ctrl-p is passed on"
        );
        assert_eq!(m.feed(b"x\x10\x11"), None);
        let mut m = DetachMatcher::new(parse_detach_keys(Some("ctrl-a,x")).unwrap());
        assert_eq!(m.feed(b"\x01\x01x"), None);
        assert!(parse_detach_keys(Some("ctrl-1")).is_err());
        assert!(parse_detach_keys(Some("ab")).is_err());
    }
}
