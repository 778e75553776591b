//! `attach`, and the terminal around an engine stream (an attach or an
//! exec): raw mode,
//! stdin and window sizes to the container, its output to stdout/stderr,
//! the exit code at the end, and detaching with the detach keys (with a tty
//! and stdin).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use berth_engine::Engine;
use berth_engine::containers::attach::{DetachMatcher, MonitorStream, Output, StreamInput};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::cli::AttachArgs;

pub use berth_engine::containers::attach::parse_detach_keys;

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
    /// Which output streams to relay (`run -a`; both otherwise).
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// Forward SIGINT, SIGTERM, ... to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    /// The detach sequence (`--detach-keys`, default ctrl-p ctrl-q).
    pub detach_keys: Vec<u8>,
}

/// `-it` needs a terminal to put in raw mode; docker refuses a pipe with
/// these words and exit status 1 rather than hang on it.
pub fn require_terminal_stdin() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(super::ExitError {
        code: 1,
        message: "the input device is not a TTY".into(),
    }
    .into())
}

impl AttachOptions {
    pub fn engine_options(&self) -> berth_engine::containers::attach::AttachOptions {
        berth_engine::containers::attach::AttachOptions {
            stdin: self.stdin,
            stdout: self.stdout,
            stderr: self.stderr,
            size: if self.tty { window_size() } else { None },
        }
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

/// The terminal's (rows, columns).
pub fn window_size() -> Option<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    Some((ws.ws_row, ws.ws_col))
}

/// Relays until the process exits or the user detaches. `proxy`: the
/// container that gets the terminal's signals (without a tty).
pub fn relay(
    engine: &Engine,
    mut stream: MonitorStream,
    opts: &AttachOptions,
    proxy: Option<&str>,
) -> Result<Ended> {
    let input = Arc::new(Mutex::new(stream.input()?));
    let terminal = opts.tty && rustix::termios::isatty(io::stdin());
    let _raw = if terminal && opts.stdin {
        RawMode::enter()
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));

    if opts.stdin {
        let input = input.clone();
        let detached = detached.clone();
        let keys = if terminal {
            opts.detach_keys.clone()
        } else {
            Vec::new()
        };
        std::thread::spawn(move || forward_stdin(&input, &detached, keys));
    }

    if let Ok(mut signals) = Signals::new([SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT]) {
        let input = input.clone();
        let tty = opts.tty;
        let proxy = proxy
            .filter(|_| opts.sig_proxy && !opts.tty)
            .map(str::to_string);
        let options = engine.options();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGWINCH {
                    if tty
                        && let Some((rows, cols)) = window_size()
                        && let Ok(mut w) = input.lock()
                    {
                        let _ = w.resize(rows, cols);
                    }
                    continue;
                }
                match &proxy {
                    Some(id) => {
                        if let Ok(engine) = Engine::open(&options) {
                            let _ = engine.kill_container(id, &sig.to_string());
                        }
                    }
                    None if !tty => std::process::exit(128 + sig),
                    None => {}
                }
            }
        });
    }

    let stdout = io::stdout();
    let stderr = io::stderr();
    loop {
        match stream.next_output() {
            Ok(Some(Output::Stdout(data))) => {
                let mut out = stdout.lock();
                out.write_all(&data)?;
                out.flush()?;
            }
            Ok(Some(Output::Stderr(data))) => {
                let mut err = stderr.lock();
                err.write_all(&data)?;
                err.flush()?;
            }
            Ok(Some(Output::Exit(code))) => return Ok(Ended::Exited(code)),
            Ok(None) | Err(_) => {
                if detached.load(Ordering::SeqCst) {
                    return Ok(Ended::Detached);
                }
                return Ok(Ended::Lost);
            }
        }
    }
}

/// This process's stdin to the stream, watching for the detach keys.
fn forward_stdin(input: &Mutex<StreamInput>, detached: &AtomicBool, keys: Vec<u8>) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 8192];
    let mut matcher = DetachMatcher::new(keys);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(data) = matcher.feed(&buf[..n]) else {
            detached.store(true, Ordering::SeqCst);
            if let Ok(w) = input.lock() {
                w.hang_up();
            }
            return;
        };
        if data.is_empty() {
            continue;
        }
        let Ok(mut w) = input.lock() else { break };
        if w.stdin(&data).is_err() {
            return;
        }
    }
    if let Ok(mut w) = input.lock() {
        let _ = w.stdin_eof();
    }
}

pub fn attach(engine: &Engine, a: AttachArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    if !row.state.is_live() {
        bail!("You cannot attach to a stopped container, start it first");
    }
    let opts = AttachOptions {
        stdin: !a.no_stdin && row.config.open_stdin,
        stdout: true,
        stderr: true,
        tty: row.config.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: parse_detach_keys(a.detach_keys.as_deref())?,
    };
    let stream = engine.attach(&row.id, &opts.engine_options())?;
    Ok(match relay(engine, stream, &opts, Some(&row.id))? {
        Ended::Exited(code) => code.clamp(0, 255) as u8,
        // As docker's attach (its `run -it` detaches quietly, with 0).
        Ended::Detached => {
            eprintln!("read escape sequence");
            1
        }
        Ended::Lost => engine
            .container(&row.id)
            .map(|r| r.exit_code.clamp(0, 255) as u8)
            .unwrap_or(0),
    })
}
