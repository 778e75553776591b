//! Hijacked connections (`attach`, `exec/{id}/start`): after a `101
//! Switching Protocols` the connection carries the process's stdio both
//! ways — raw with a tty, Docker's multiplexed frames (8-byte header:
//! stream, 0, 0, 0, big-endian length) without.
//!
//! The docker CLI attaches *before* it starts a container (so no output is
//! missed). Such an attach waits here, in [`PendingAttaches`], until the
//! start request connects it between the monitor's "created" and
//! "started"; a container started by someone else (the berth CLI) is
//! attached to as soon as it runs.
//!
//! `logs=1` first replays the container's log on the connection (compose's
//! `up` attaches so); with `stream=0` that is all, and the connection closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use berth_engine::Engine;
use berth_engine::containers::attach::{
    AttachOptions, DetachMatcher, MonitorStream, Output, StreamInput,
};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// How long a log replay waits after the 101 head (see [`replay_log`]).
const REPLAY_DELAY: Duration = Duration::from_millis(50);

/// Attaches waiting for their container to start, by container ID.
#[derive(Default)]
pub struct PendingAttaches {
    waiting: Mutex<HashMap<String, Vec<Waiter>>>,
}

struct Waiter {
    options: AttachOptions,
    deliver: oneshot::Sender<MonitorStream>,
}

impl PendingAttaches {
    fn add(&self, id: &str, options: AttachOptions) -> oneshot::Receiver<MonitorStream> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            // Waiters whose client went (or that were served) go first.
            w.retain(|_, list| {
                list.retain(|x| !x.deliver.is_closed());
                !list.is_empty()
            });
            w.entry(id.to_string()).or_default().push(Waiter {
                options,
                deliver: tx,
            });
        }
        rx
    }

    /// Whether attaches wait for `id` (whose start then attaches them).
    pub fn any_for(&self, id: &str) -> bool {
        self.waiting.lock().is_ok_and(|w| {
            w.get(id)
                .is_some_and(|list| list.iter().any(|x| !x.deliver.is_closed()))
        })
    }

    /// Starts `id` with every waiting attach connected before its first
    /// output (blocking: call from the blocking pool).
    pub fn start_attached(&self, engine: &Engine, id: &str) -> berth_engine::Result<()> {
        let waiters = self
            .waiting
            .lock()
            .map(|mut w| w.remove(id).unwrap_or_default())
            .unwrap_or_default();
        let live: Vec<Waiter> = waiters
            .into_iter()
            .filter(|w| !w.deliver.is_closed())
            .collect();
        let mut monitor = engine.spawn_monitor(id, true)?;
        match monitor.next_status() {
            berth_engine::monitor::MonitorStatus::Created(_) => {}
            berth_engine::monitor::MonitorStatus::Failed(kind, message) => {
                return Err(berth_engine::Error::new(kind, message));
            }
            _ => {
                return Err(berth_engine::Error::internal(
                    "the container's monitor exited before creating the container",
                ));
            }
        }
        for w in live {
            if let Ok(stream) = engine.attach(id, &w.options) {
                let _ = w.deliver.send(stream);
            }
        }
        monitor.wait_started()?;
        Ok(())
    }
}

/// How the hijacked stream is framed.
#[derive(Clone, Copy)]
pub struct Framing {
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The response that hands the connection over, and the upgrade future.
pub fn switch(
    req: &mut Request<Body>,
    tty: bool,
) -> Result<(Response, hyper::upgrade::OnUpgrade), ApiError> {
    let asked = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !asked {
        return Err(ApiError::bad_request(
            "this endpoint hijacks the connection: send `Connection: Upgrade` and `Upgrade: tcp`",
        ));
    }
    let on_upgrade = hyper::upgrade::on(req);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    Ok((response, on_upgrade))
}

/// An attach request, checked.
pub struct AttachRequest {
    pub id: String,
    pub options: AttachOptions,
    pub framing: Framing,
    pub detach_keys: Vec<u8>,
    /// The container ran when asked: attach at once.
    pub running: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Then relay the live streams.
    pub stream: bool,
}

/// Attach: connect now if the container runs, else wait for its start.
pub fn attach(
    engine: Arc<Engine>,
    pending: &PendingAttaches,
    request: AttachRequest,
    on_upgrade: hyper::upgrade::OnUpgrade,
) {
    let AttachRequest {
        id,
        options,
        framing,
        detach_keys,
        running,
        logs,
        stream,
    } = request;
    // A running container is attached to at once; only an attach before
    // the start waits for it.
    let waiting = if running || !stream {
        oneshot::channel().1
    } else {
        pending.add(&id, options)
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        if logs && replay_log(&engine, &id, framing, &mut io).await.is_err() {
            return;
        }
        if !stream {
            let _ = io.shutdown().await;
            return;
        }
        let Some(stream) = first_stream(engine.clone(), id, options, waiting).await else {
            // The container ended (or went) without starting.
            let _ = io.shutdown().await;
            return;
        };
        relay(stream, io, framing, detach_keys).await;
    });
}

/// Writes the container's log so far (the streams `framing` selects);
/// Err when the client went.
async fn replay_log(
    engine: &Arc<Engine>,
    id: &str,
    framing: Framing,
    io: &mut TokioIo<hyper::upgrade::Upgraded>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(u8, Vec<u8>)>(64);
    let engine = engine.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let options = berth_engine::containers::logs::LogsOptions::default();
        let _ = engine.logs(&id, &options, |entry| {
            let stream = match entry.stream {
                berth_engine::containers::logs::LogStream::Stdout => 1,
                berth_engine::containers::logs::LogStream::Stderr => 2,
            };
            Ok(tx.blocking_send((stream, entry.data.clone())).is_ok())
        });
    });
    let mut first = true;
    while let Some((stream, data)) = rx.recv().await {
        if first {
            // docker-py reads the 101 head through a buffered reader and
            // then the raw socket: bytes that arrive with the head are
            // lost in that buffer. Live output comes later by nature; a
            // replay would come at once, so it waits for the head to be
            // read (dockerd's replay is as late, reading its log file).
            tokio::time::sleep(REPLAY_DELAY).await;
            first = false;
        }
        write_frame(io, framing, stream, &data).await?;
    }
    Ok(())
}

/// Waits for the start to deliver a stream; or attaches once the
/// container runs (started elsewhere); None when it is gone.
async fn first_stream(
    engine: Arc<Engine>,
    id: String,
    options: AttachOptions,
    mut waiting: oneshot::Receiver<MonitorStream>,
) -> Option<MonitorStream> {
    loop {
        let engine = engine.clone();
        let id2 = id.clone();
        let now = tokio::task::spawn_blocking(move || match engine.container(&id2) {
            Ok(row) if row.state.is_live() => Some(engine.attach(&id2, &options).ok()),
            Ok(_) => None,
            Err(_) => Some(None),
        });
        // Checked first: a start that delivered wins over a late look.
        if let Ok(stream) = waiting.try_recv() {
            return Some(stream);
        }
        match now.await {
            Ok(Some(Some(stream))) => return Some(stream),
            Ok(Some(None)) => return None,
            _ => {}
        }
        tokio::select! {
            got = &mut waiting => return got.ok(),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Relays between a monitor stream and a hijacked connection until the
/// process exits, the client detaches or either side goes away.
pub async fn relay(
    stream: MonitorStream,
    io: TokioIo<hyper::upgrade::Upgraded>,
    framing: Framing,
    detach_keys: Vec<u8>,
) {
    let input = stream.input().ok();
    let hang_up = stream.input().ok();
    let (mut read_half, mut write_half) = tokio::io::split(io);
    // Output: a blocking reader of the monitor, frames to the client.
    let (out_tx, mut out_rx) = mpsc::channel::<Output>(32);
    let mut stream = stream;
    tokio::task::spawn_blocking(move || {
        while let Ok(Some(o)) = stream.next_output() {
            let exit = matches!(o, Output::Exit(_));
            if out_tx.blocking_send(o).is_err() || exit {
                break;
            }
        }
    });
    // Input: the client's bytes to the monitor, on a thread of its own
    // (the socket write may block while the container does not read).
    let (in_tx, in_rx) = mpsc::channel::<Option<Vec<u8>>>(8);
    if let Some(input) = input.filter(|_| framing.stdin) {
        std::thread::spawn(move || feed_stdin(input, in_rx));
        let mut matcher = DetachMatcher::new(if framing.tty { detach_keys } else { Vec::new() });
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match read_half.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = in_tx.send(None).await;
                        break;
                    }
                    Ok(n) => match matcher.feed(&buf[..n]) {
                        Some(data) => {
                            if !data.is_empty() && in_tx.send(Some(data)).await.is_err() {
                                break;
                            }
                        }
                        None => {
                            // Detached: end the connection, leave the
                            // container running.
                            drop(in_tx);
                            break;
                        }
                    },
                }
            }
        });
    }
    while let Some(o) = out_rx.recv().await {
        let result = match o {
            Output::Stdout(data) => write_frame(&mut write_half, framing, 1, &data).await,
            Output::Stderr(data) => write_frame(&mut write_half, framing, 2, &data).await,
            Output::Exit(_) => break,
        };
        if result.is_err() {
            // The client went: let go of the monitor.
            if let Some(h) = &hang_up {
                h.hang_up();
            }
            break;
        }
    }
    let _ = write_half.shutdown().await;
}

/// A hijacked connection whose process could not start: the reason goes
/// down the stream as output (dockerd writes it the same way, since the
/// status line has already been sent), then the connection closes.
pub async fn refuse(upgraded: hyper::upgrade::Upgraded, tty: bool, message: &str) {
    let mut io = TokioIo::new(upgraded);
    let framing = Framing {
        tty,
        stdin: false,
        stdout: true,
        stderr: true,
    };
    let _ = write_frame(&mut io, framing, 1, format!("{message}\r\n").as_bytes()).await;
    let _ = io.shutdown().await;
}

async fn write_frame(
    w: &mut (impl AsyncWriteExt + Unpin),
    framing: Framing,
    stream: u8,
    data: &[u8],
) -> std::io::Result<()> {
    if (stream == 1 && !framing.stdout) || (stream == 2 && !framing.stderr) {
        return Ok(());
    }
    if !framing.tty {
        let mut header = [0u8; 8];
        header[0] = stream;
        header[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
        w.write_all(&header).await?;
    }
    w.write_all(data).await?;
    w.flush().await
}

fn feed_stdin(mut input: StreamInput, mut rx: mpsc::Receiver<Option<Vec<u8>>>) {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Some(data) => {
                if input.stdin(&data).is_err() {
                    return;
                }
            }
            None => {
                let _ = input.stdin_eof();
                return;
            }
        }
    }
    // The sender went without an end of input: a detach.
    input.hang_up();
}
