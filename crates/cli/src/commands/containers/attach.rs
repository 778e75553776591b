//! The CLI's end of the monitor's attach socket: the terminal in raw mode,
//! stdin and resizes to the container, its output to stdout/stderr, and the
//! exit code at the end. Detach with ctrl-p ctrl-q (with a tty and stdin).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use berth_engine::Engine;
use berth_engine::containers::monitor::protocol::{self, Hello};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
use signal_hook::iterator::Signals;

/// How an attach session ended.
pub enum Ended {
    Exited(i32),
    Detached,
    /// The stream ended without an exit code (the monitor died or the
    /// container was removed by someone else).
    Lost,
}

pub struct AttachOptions {
    pub stdin: bool,
    pub tty: bool,
    pub sig_proxy: bool,
    /// The detach sequence (`--detach-keys`, default ctrl-p ctrl-q).
    pub detach_keys: Vec<u8>,
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
                    _ => anyhow::bail!("Unknown character: '{key}'"),
                }
            }
            None if key.len() == 1 => key.as_bytes()[0],
            _ => anyhow::bail!("Unknown character: '{key}'"),
        };
        out.push(byte);
    }
    Ok(out)
}

/// Finds the detach sequence in typed input: bytes that may start it are
/// held back until the sequence completes (detach) or breaks (passed on).
struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

impl DetachMatcher {
    fn new(keys: Vec<u8>) -> DetachMatcher {
        DetachMatcher { keys, held: 0 }
    }

    /// What to send on, or None when the sequence was typed.
    fn feed(&mut self, input: &[u8]) -> Option<Vec<u8>> {
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

/// Restores the terminal's settings when dropped.
struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

fn window_size() -> Option<[u8; 4]> {
    let ws = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    let mut out = [0u8; 4];
    out[..2].copy_from_slice(&ws.ws_row.to_be_bytes());
    out[2..].copy_from_slice(&ws.ws_col.to_be_bytes());
    Some(out)
}

/// Connects to a running (or about to start) container's monitor.
pub fn connect(engine: &Engine, id: &str, opts: &AttachOptions) -> Result<UnixStream> {
    let path = berth_engine::containers::monitor::attach_socket(engine.run_root(), id);
    let dir = path.parent().unwrap_or(engine.run_root());
    let socket = berth_engine::containers::monitor::SocketPath::new(dir, "attach.sock")?;
    let mut stream = UnixStream::connect(&socket.path)
        .with_context(|| format!("attach to container {id}: connect {}", path.display()))?;
    let hello = Hello {
        stdin: opts.stdin,
        stdout: true,
        stderr: true,
    };
    let mut line = serde_json::to_vec(&hello)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    if opts.tty
        && let Some(size) = window_size()
    {
        protocol::write_frame(&mut stream, protocol::RESIZE, &size)?;
    }
    Ok(stream)
}

/// Relays until the container exits or the user detaches.
pub fn relay(engine: &Engine, id: &str, stream: UnixStream, opts: &AttachOptions) -> Result<Ended> {
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let terminal = opts.tty && rustix::termios::isatty(io::stdin());
    let _raw = if terminal && opts.stdin {
        RawMode::enter()
    } else {
        None
    };
    let detached = Arc::new(std::sync::atomic::AtomicBool::new(false));

    if opts.stdin {
        let writer = writer.clone();
        let detached = detached.clone();
        let keys = if terminal {
            opts.detach_keys.clone()
        } else {
            Vec::new()
        };
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 8192];
            let mut matcher = DetachMatcher::new(keys);
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let Some(data) = matcher.feed(&buf[..n]) else {
                    detached.store(true, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(w) = writer.lock() {
                        let _ = w.shutdown(std::net::Shutdown::Both);
                    }
                    return;
                };
                if data.is_empty() {
                    continue;
                }
                let Ok(mut w) = writer.lock() else { break };
                if protocol::write_frame(&mut *w, protocol::STDIN, &data).is_err() {
                    return;
                }
            }
            if let Ok(mut w) = writer.lock() {
                let _ = protocol::write_frame(&mut *w, protocol::STDIN_EOF, &[]);
            }
        });
    }

    if let Ok(mut signals) = Signals::new([SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT]) {
        let writer = writer.clone();
        let tty = opts.tty;
        let proxy = opts.sig_proxy && !opts.tty;
        let root = engine.root().to_path_buf();
        let run_root = engine.run_root().to_path_buf();
        let id = id.to_string();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGWINCH {
                    if tty
                        && let Some(size) = window_size()
                        && let Ok(mut w) = writer.lock()
                    {
                        let _ = protocol::write_frame(&mut *w, protocol::RESIZE, &size);
                    }
                    continue;
                }
                if proxy
                    && let Ok(engine) = Engine::open(&berth_engine::EngineOptions {
                        root: root.clone(),
                        run_root: run_root.clone(),
                    })
                {
                    let _ = engine.kill_container(&id, &sig.to_string());
                } else if !proxy && !tty {
                    std::process::exit(128 + sig);
                }
            }
        });
    }

    let mut reader = io::BufReader::new(stream);
    let stdout = io::stdout();
    let stderr = io::stderr();
    loop {
        match protocol::read_frame(&mut reader) {
            Ok(Some((protocol::STDOUT, data))) => {
                let mut out = stdout.lock();
                out.write_all(&data)?;
                out.flush()?;
            }
            Ok(Some((protocol::STDERR, data))) => {
                let mut err = stderr.lock();
                err.write_all(&data)?;
                err.flush()?;
            }
            Ok(Some((protocol::EXIT, data))) if data.len() == 4 => {
                return Ok(Ended::Exited(i32::from_be_bytes([
                    data[0], data[1], data[2], data[3],
                ])));
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                if detached.load(std::sync::atomic::Ordering::SeqCst) {
                    return Ok(Ended::Detached);
                }
                return Ok(Ended::Lost);
            }
        }
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
