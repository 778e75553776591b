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
        let detach_keys = terminal;
        std::thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 8192];
            // A ctrl-p is held back until the next byte says whether it
            // starts the detach sequence (ctrl-p ctrl-q).
            let mut pending_ctrl_p = false;
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut data = Vec::with_capacity(n + 1);
                for &b in &buf[..n] {
                    if !detach_keys {
                        data.push(b);
                        continue;
                    }
                    if pending_ctrl_p {
                        pending_ctrl_p = false;
                        if b == 0x11 {
                            detached.store(true, std::sync::atomic::Ordering::SeqCst);
                            if let Ok(w) = writer.lock() {
                                let _ = w.shutdown(std::net::Shutdown::Both);
                            }
                            return;
                        }
                        data.push(0x10);
                    }
                    if b == 0x10 {
                        pending_ctrl_p = true;
                    } else {
                        data.push(b);
                    }
                }
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
