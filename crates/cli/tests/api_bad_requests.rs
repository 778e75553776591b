//! Over 800 lines on purpose: it is one corpus (each bad request beside the
//! answer Docker gives it), read as a whole; split, a reader would lose
//! which answers are meant to be alike.
//!
//! Hostile and malformed requests to `berth daemon`, over raw unix-socket
//! connections so the test controls every byte: broken and mistyped
//! create bodies, a 100 MB body, headers sent a byte at a time, a header
//! block over 1 MB, garbage and broken framing, a hijacked attach the
//! client drops, 500 clients at once, and path traversal through IDs and
//! names. Each case asserts the status Docker gives (or that the
//! connection is closed, where there is no answer to give), that nothing
//! outside the store is read or touched, and that the daemon still
//! answers `/_ping` afterwards; each test ends with `system check` clean.
//! Real namespaces, overlayfs and cgroups; root only.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Store;
use support::berth_daemon::BerthDaemon;

/// How long a raw exchange waits for the daemon's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the daemon's resident memory must stay under, whatever it is sent.
const RSS_LIMIT_KIB: u64 = 200 * 1024;

fn prerequisites(test: &str) -> Option<Store> {
    support::container_store(test)
}

/// What came back on one raw connection.
struct Reply {
    /// None: no HTTP response (nothing, or not HTTP).
    status: Option<u16>,
    headers: Vec<(String, String)>,
    /// De-chunked when the response was chunked.
    body: Vec<u8>,
    /// Everything read, as received.
    raw: Vec<u8>,
    /// The daemon ended the connection (EOF or reset), rather than the
    /// read timing out with the connection still open.
    closed: bool,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.describe()))
    }

    /// For failure messages (the raw bytes, cut short).
    fn describe(&self) -> String {
        let raw = String::from_utf8_lossy(&self.raw[..self.raw.len().min(2000)]).into_owned();
        format!(
            "status {:?}, closed {}, {} bytes: {raw:?}",
            self.status,
            self.closed,
            self.raw.len()
        )
    }

    /// A Docker error: `{"message": "…"}` with the status.
    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {}", self.describe()))
            .to_string()
    }
}

fn connect(sock: &Path, timeout: Duration) -> UnixStream {
    let stream =
        UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect to {}: {e}", sock.display()));
    stream
        .set_read_timeout(Some(timeout))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(timeout))
        .expect("write timeout");
    stream
}

/// Sends `bytes` on a new connection and reads until the daemon ends it
/// (or `timeout` passes). A failed write (the daemon answered early and
/// hung up) ends the sending, not the test.
fn exchange(sock: &Path, bytes: &[u8], timeout: Duration) -> Reply {
    let mut stream = connect(sock, timeout);
    let _ = stream.write_all(bytes);
    read_reply(&mut stream)
}

/// A whole request: `method path`, `Connection: close`, and a JSON body
/// with its length when given.
fn request(method: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n");
    match body {
        Some(b) => head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )),
        None if !matches!(method, "GET" | "HEAD") => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

fn send(daemon: &BerthDaemon, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
    exchange(daemon.socket(), &request(method, path, body), REPLY_TIMEOUT)
}

/// Reads until EOF, a reset or the read timeout.
fn read_reply(stream: &mut UnixStream) -> Reply {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false;
            }
            // ECONNRESET: the daemon closed with our bytes unread.
            Err(_) => break true,
        }
    };
    parse_reply(raw, closed)
}

/// The first HTTP/1.x response in `raw`, if any.
fn parse_reply(raw: Vec<u8>, closed: bool) -> Reply {
    let mut reply = Reply {
        status: None,
        headers: Vec::new(),
        body: Vec::new(),
        raw,
        closed,
    };
    let Some(end) = reply.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return reply;
    };
    let head = String::from_utf8_lossy(&reply.raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next().unwrap_or_default().split(' ');
    if !status_line.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return reply;
    }
    reply.status = status_line.next().and_then(|c| c.parse().ok());
    reply.headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = &reply.raw[end + 4..];
    let chunked = support::berth_daemon::header(&reply.headers, "Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    reply.body = if chunked {
        dechunk(body).unwrap_or_else(|| body.to_vec())
    } else {
        body.to_vec()
    };
    reply
}

/// The payload of a chunked body; None when it is malformed or cut short.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The daemon still answers `/_ping` with 200 `OK`.
fn assert_alive(daemon: &BerthDaemon, after: &str) {
    let reply = send(daemon, "GET", "/_ping", None);
    assert!(
        reply.status == Some(200) && reply.body == b"OK",
        "after {after}: /_ping answers {}\nberth daemon log (tail):\n{}",
        reply.describe(),
        daemon.log_tail()
    );
}

/// Either a status in `allowed`, or no answer and the connection closed.
fn assert_refused_or_closed(reply: &Reply, allowed: &[u16], what: &str) {
    match reply.status {
        Some(s) => assert!(
            allowed.contains(&s),
            "{what}: status {s}, wanted one of {allowed:?} or a closed connection: {}",
            reply.describe()
        ),
        None => assert!(
            reply.closed,
            "{what}: neither an answer nor a closed connection after {REPLY_TIMEOUT:?}: {}",
            reply.describe()
        ),
    }
}

/// The daemon's resident memory, KiB (`VmRSS` of /proc/PID/status).
fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"))
}

/// Creates a container (`name`, `cmd`, stdin open) over the API; its ID.
fn create_container(daemon: &BerthDaemon, name: &str, cmd: &[&str]) -> String {
    let body = json!({"Image": "busybox", "Cmd": cmd, "OpenStdin": true}).to_string();
    let reply = send(
        daemon,
        "POST",
        &format!("/containers/create?name={name}"),
        Some(body.as_bytes()),
    );
    assert_eq!(
        reply.status,
        Some(201),
        "create {name}: {}",
        reply.describe()
    );
    let id = reply.json()["Id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 64, "{}", reply.describe());
    id
}

fn inspect(daemon: &BerthDaemon, id: &str) -> Value {
    let reply = send(daemon, "GET", &format!("/containers/{id}/json"), None);
    assert_eq!(
        reply.status,
        Some(200),
        "inspect {id}: {}",
        reply.describe()
    );
    reply.json()
}

#[test]
fn malformed_and_mistyped_create_bodies() {
    let test = "malformed_and_mistyped_create_bodies";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    let refused: [(&str, &[u8]); 12] = [
        ("malformed JSON", b"{"),
        ("malformed JSON", br#"{"Image": "busybox","#),
        ("malformed JSON", b"not json at all"),
        ("a number for Image", br#"{"Image": 5}"#),
        ("a string for Tty", br#"{"Image":"busybox","Tty":"yes"}"#),
        (
            "a string for HostConfig.Memory",
            br#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#,
        ),
        (
            "a string for Cmd's items",
            br#"{"Image":"busybox","Cmd":[1,2]}"#,
        ),
        ("null", b"null"),
        ("a list", b"[]"),
        ("a string", br#""busybox""#),
        ("no Image", br#"{"Cmd":["true"]}"#),
        ("invalid UTF-8", b"{\"Image\":\"busy\xff\xfebox\"}"),
    ];
    for (what, body) in refused {
        let reply = send(&daemon, "POST", "/containers/create", Some(body));
        assert_eq!(
            reply.status,
            Some(400),
            "{what} ({:?}): {}",
            String::from_utf8_lossy(body),
            reply.describe()
        );
        assert!(!reply.message().is_empty(), "{what}: {}", reply.describe());
        assert_alive(&daemon, what);
    }

    // No body at all, with and without a Content-Length.
    let reply = send(&daemon, "POST", "/containers/create", Some(b""));
    assert_eq!(reply.status, Some(400), "empty body: {}", reply.describe());
    assert!(!reply.message().is_empty(), "{}", reply.describe());
    let reply = exchange(
        daemon.socket(),
        b"POST /containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
        REPLY_TIMEOUT,
    );
    assert_eq!(reply.status, Some(400), "no body: {}", reply.describe());
    assert_alive(&daemon, "empty bodies");

    // Unknown fields are ignored, as Docker's decoder does.
    let reply = send(
        &daemon,
        "POST",
        "/containers/create?name=unknown-fields",
        Some(br#"{"Image":"busybox","Bogus":1,"HostConfig":{"AlsoBogus":{"x":[1]}}}"#),
    );
    assert_eq!(
        reply.status,
        Some(201),
        "unknown fields: {}",
        reply.describe()
    );
    let id = reply.json()["Id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 64, "{}", reply.describe());
    assert_eq!(inspect(&daemon, &id)["Name"], "/unknown-fields");
    let reply = send(&daemon, "DELETE", &format!("/containers/{id}"), None);
    assert_eq!(reply.status, Some(204), "delete: {}", reply.describe());
    let reply = send(&daemon, "GET", &format!("/containers/{id}/json"), None);
    assert_eq!(reply.status, Some(404), "{}", reply.describe());
    assert_alive(&daemon, "unknown fields");

    // Other bodies that are JSON but the wrong shape.
    let reply = send(
        &daemon,
        "POST",
        "/volumes/create",
        Some(br#"{"Name": ["a"]}"#),
    );
    assert_eq!(reply.status, Some(400), "volume: {}", reply.describe());
    let reply = send(&daemon, "POST", "/containers/nosuch/exec", Some(b"{"));
    assert!(
        matches!(reply.status, Some(400 | 404)),
        "exec: {}",
        reply.describe()
    );
    assert_alive(&daemon, "wrong shapes");
    store.assert_check_clean();
}

#[test]
fn hundred_megabyte_body_is_refused_without_ballooning() {
    let test = "hundred_megabyte_body_is_refused_without_ballooning";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let pid = daemon.pid().expect("the daemon's pid");
    let mut peak = vm_rss_kib(pid);

    let mut stream = connect(daemon.socket(), REPLY_TIMEOUT);
    let head = "POST /containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\
                Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n\
                {\"Image\":\"busybox\",\"Env\":[\"X=";
    let mut sent = 0usize;
    let mut write_failed = None;
    if let Err(e) = stream.write_all(head.as_bytes()) {
        write_failed = Some(e);
    }
    let chunk = vec![b'a'; 1 << 20];
    // 64 of the 100 MiB promised: enough to see it buffered or refused.
    while write_failed.is_none() && sent < 64 << 20 {
        match stream.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(e) => write_failed = Some(e),
        }
        peak = peak.max(vm_rss_kib(pid));
    }
    let reply = read_reply(&mut stream);
    peak = peak.max(vm_rss_kib(pid));
    drop(stream);
    assert_refused_or_closed(&reply, &[400, 413], "a 100 MB create body");
    assert_alive(&daemon, "a 100 MB create body");
    peak = peak.max(vm_rss_kib(pid));
    assert!(
        peak < RSS_LIMIT_KIB,
        "the daemon's VmRSS peaked at {peak} KiB (limit {RSS_LIMIT_KIB}); sent {sent} bytes ({write_failed:?})"
    );

    // Nothing was created from it.
    let reply = send(&daemon, "GET", "/containers/json?all=1", None);
    assert_eq!(reply.status, Some(200), "{}", reply.describe());
    assert_eq!(reply.json(), json!([]));
    store.assert_check_clean();
}

#[test]
fn slow_and_pipelined_requests_are_answered() {
    let test = "slow_and_pipelined_requests_are_answered";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    // Headers a byte at a time, 1 ms apart; other clients are served
    // meanwhile.
    let bytes = request("GET", "/_ping", None);
    let mut stream = connect(daemon.socket(), REPLY_TIMEOUT);
    for (i, b) in bytes.iter().enumerate() {
        stream.write_all(&[*b]).expect("write a byte");
        std::thread::sleep(Duration::from_millis(1));
        if i == bytes.len() / 2 {
            assert_alive(&daemon, "half the headers of a slow client");
        }
    }
    let reply = read_reply(&mut stream);
    assert_eq!(
        reply.status,
        Some(200),
        "slow headers: {}",
        reply.describe()
    );
    assert_eq!(reply.body, b"OK", "{}", reply.describe());

    // A body a byte at a time too.
    let body = br#"{"Image":"busybox","Cmd":["true"]}"#;
    let bytes = request("POST", "/containers/create?name=slow-body", Some(body));
    let mut stream = connect(daemon.socket(), REPLY_TIMEOUT);
    for b in &bytes {
        stream.write_all(&[*b]).expect("write a byte");
        std::thread::sleep(Duration::from_millis(1));
    }
    let reply = read_reply(&mut stream);
    assert_eq!(reply.status, Some(201), "slow body: {}", reply.describe());
    let reply = send(&daemon, "DELETE", "/containers/slow-body", None);
    assert_eq!(reply.status, Some(204), "{}", reply.describe());

    // Two requests in one write: two answers, in order.
    let mut bytes = b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n".to_vec();
    bytes.extend_from_slice(&request("GET", "/v1.24/version", None));
    let reply = exchange(daemon.socket(), &bytes, REPLY_TIMEOUT);
    let raw = String::from_utf8_lossy(&reply.raw).into_owned();
    assert_eq!(reply.status, Some(200), "{}", reply.describe());
    assert_eq!(
        raw.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "two pipelined answers: {raw}"
    );
    assert!(raw.contains("\"ApiVersion\""), "{raw}");
    assert_alive(&daemon, "pipelined requests");
    store.assert_check_clean();
}

#[test]
fn oversized_headers_are_refused() {
    let test = "oversized_headers_are_refused";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let pid = daemon.pid().expect("the daemon's pid");

    // One header over 1 MB.
    let mut bytes = b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: ".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', (1 << 20) + 1024));
    bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let reply = exchange(daemon.socket(), &bytes, REPLY_TIMEOUT);
    assert_refused_or_closed(&reply, &[431], "a 1 MB header");
    assert_alive(&daemon, "a 1 MB header");

    // Many small headers, over 1 MB in all.
    let mut bytes = b"GET /_ping HTTP/1.1\r\nHost: d\r\n".to_vec();
    for i in 0..20_000 {
        bytes.extend_from_slice(format!("X-Header-{i}: {}\r\n", "v".repeat(40)).as_bytes());
    }
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    assert!(bytes.len() > 1 << 20);
    let reply = exchange(daemon.socket(), &bytes, REPLY_TIMEOUT);
    assert_refused_or_closed(&reply, &[431], "20000 headers");
    assert_alive(&daemon, "20000 headers");

    // A request line (URI) over 1 MB.
    let mut bytes = b"GET /containers/json?x=".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', (1 << 20) + 1024));
    bytes.extend_from_slice(b" HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
    let reply = exchange(daemon.socket(), &bytes, REPLY_TIMEOUT);
    assert_refused_or_closed(&reply, &[400, 414, 431], "a 1 MB request line");
    assert_alive(&daemon, "a 1 MB request line");

    let rss = vm_rss_kib(pid);
    assert!(
        rss < RSS_LIMIT_KIB,
        "the daemon's VmRSS is {rss} KiB (limit {RSS_LIMIT_KIB})"
    );
    store.assert_check_clean();
}

#[test]
fn garbage_and_broken_framing() {
    let test = "garbage_and_broken_framing";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    let cases: [(&str, &[u8], &[u16]); 7] = [
        (
            "binary garbage",
            b"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
            &[400],
        ),
        ("a bare line", b"hello\r\n\r\n", &[400]),
        (
            "an unknown HTTP version",
            b"GET /_ping HTTP/9.9\r\nHost: d\r\n\r\n",
            &[400, 505],
        ),
        (
            "a header without a colon",
            b"GET /_ping HTTP/1.1\r\nHost: d\r\nno colon here\r\n\r\n",
            &[400],
        ),
        (
            "a Content-Length that is not a number",
            b"POST /containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: abc\r\n\r\n{}",
            &[400],
        ),
        (
            "two different Content-Lengths",
            b"POST /containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
            &[400],
        ),
        (
            "a chunk size that is not hex",
            b"POST /containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            &[400, 413],
        ),
    ];
    for (what, bytes, allowed) in cases {
        let reply = exchange(daemon.socket(), bytes, REPLY_TIMEOUT);
        assert_refused_or_closed(&reply, allowed, what);
        assert_alive(&daemon, what);
    }

    // A client that connects and says nothing, and one that goes
    // mid-request: neither holds anything up.
    let idle = connect(daemon.socket(), REPLY_TIMEOUT);
    let mut half = connect(daemon.socket(), REPLY_TIMEOUT);
    half.write_all(
        b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\n{\"Im",
    )
    .expect("write half a request");
    assert_alive(&daemon, "an idle and a half-sent connection");
    drop(half);
    drop(idle);
    assert_alive(&daemon, "a client that went mid-request");

    let reply = send(&daemon, "GET", "/containers/json?all=1", None);
    assert_eq!(reply.json(), json!([]), "nothing was created");
    store.assert_check_clean();
}

/// Opens a hijacked attach (stdin and stdout) to `id`; the stream, past the
/// `101 Switching Protocols` head, and any bytes read beyond the head.
fn open_attach(daemon: &BerthDaemon, id: &str) -> (UnixStream, Vec<u8>) {
    let mut stream = connect(daemon.socket(), REPLY_TIMEOUT);
    let head = format!(
        "POST /containers/{id}/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: d\r\n\
         Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("send the attach");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "the attach closed before its head: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "reading the attach's head: {e}: {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "attach answered:\n{head}\nberth daemon log (tail):\n{}",
        daemon.log_tail()
    );
    assert!(
        head.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    (stream, got[end + 4..].to_vec())
}

/// Reads one multiplexed frame (8-byte header, then the payload).
fn read_frame(stream: &mut UnixStream, mut got: Vec<u8>) -> (u8, Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        if got.len() >= 8 {
            let len = u32::from_be_bytes([got[4], got[5], got[6], got[7]]) as usize;
            if got.len() >= 8 + len {
                assert_eq!(&got[1..4], &[0, 0, 0], "frame header {:?}", &got[..8]);
                return (got[0], got[8..8 + len].to_vec());
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => panic!("the attach ended mid-frame: {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading a frame: {e}; got {got:?}"),
        }
    }
}

#[test]
fn dropped_attach_leaves_the_container_running() {
    let test = "dropped_attach_leaves_the_container_running";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let id = create_container(&daemon, "hijacked", &["cat"]);
    let reply = send(&daemon, "POST", &format!("/containers/{id}/start"), None);
    assert_eq!(reply.status, Some(204), "start: {}", reply.describe());
    let pid = inspect(&daemon, &id)["State"]["Pid"]
        .as_u64()
        .expect("a pid");

    // Dropped right after the 101.
    let (stream, _) = open_attach(&daemon, &id);
    drop(stream);
    // Dropped after sending part of a line.
    let (mut stream, _) = open_attach(&daemon, &id);
    stream.write_all(b"half a li").expect("send some input");
    drop(stream);
    // Dropped before the answer came.
    let mut stream = connect(daemon.socket(), REPLY_TIMEOUT);
    stream
        .write_all(
            format!(
                "POST /containers/{id}/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: d\r\n\
                 Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            )
            .as_bytes(),
        )
        .expect("send the attach");
    drop(stream);

    std::thread::sleep(Duration::from_millis(500));
    assert_alive(&daemon, "dropped attaches");
    let state = inspect(&daemon, &id)["State"].clone();
    assert_eq!(state["Running"], true, "{state}");
    assert_eq!(state["Pid"], pid, "the same process: {state}");

    // A new attach works: its input reaches cat, cat's output comes back.
    let (mut stream, rest) = open_attach(&daemon, &id);
    stream.write_all(b"ping\n").expect("send ping");
    let deadline = Instant::now() + Duration::from_secs(20);
    // The half line an earlier client sent may come first.
    let mut seen = Vec::new();
    let mut rest = rest;
    while !seen.ends_with(b"ping\n") {
        assert!(Instant::now() < deadline, "no ping back; got {seen:?}");
        let (kind, payload) = read_frame(&mut stream, std::mem::take(&mut rest));
        assert_eq!(kind, 1, "stdout frames only");
        seen.extend_from_slice(&payload);
    }
    assert!(
        seen == b"ping\n" || seen == b"half a liping\n",
        "the new attach's output: {:?}",
        String::from_utf8_lossy(&seen)
    );
    drop(stream);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(inspect(&daemon, &id)["State"]["Running"], true);

    let reply = send(
        &daemon,
        "DELETE",
        &format!("/containers/{id}?force=1"),
        None,
    );
    assert_eq!(reply.status, Some(204), "remove: {}", reply.describe());
    assert_alive(&daemon, "removing the attached container");
    store.assert_check_clean();
}

#[test]
fn five_hundred_concurrent_clients() {
    let test = "five_hundred_concurrent_clients";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let id = create_container(&daemon, "listed", &["true"]);
    const CLIENTS: usize = 500;
    let barrier = std::sync::Barrier::new(CLIENTS);
    let sock = daemon.socket().to_path_buf();
    let bytes = request("GET", "/containers/json?all=1", None);
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (barrier, sock, bytes) = (&barrier, &sock, &bytes);
                std::thread::Builder::new()
                    .stack_size(512 * 1024)
                    .spawn_scoped(s, move || {
                        barrier.wait();
                        exchange(sock, bytes, Duration::from_secs(120))
                    })
                    .expect("spawn a client thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let failed: Vec<String> = replies
        .iter()
        .filter(|r| {
            r.status != Some(200)
                || serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|v| v.as_array().map(|a| a.len()))
                    != Some(1)
        })
        .map(Reply::describe)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {CLIENTS} clients failed; the first: {}\nberth daemon log (tail):\n{}",
        failed.len(),
        failed[0],
        daemon.log_tail()
    );
    assert_alive(&daemon, "500 clients");
    let reply = send(&daemon, "DELETE", &format!("/containers/{id}"), None);
    assert_eq!(reply.status, Some(204), "{}", reply.describe());
    store.assert_check_clean();
}

#[test]
fn path_traversal_reads_and_touches_nothing() {
    let test = "path_traversal_reads_and_touches_nothing";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    // A directory beside the data root that `root/volumes/../../victim` and
    // the like would reach; it must survive every request below.
    let victim = store.dir().join("victim");
    std::fs::create_dir_all(victim.join("_data")).unwrap();
    std::fs::write(victim.join("_data/keep"), "keep\n").unwrap();

    let cases: [(&str, &str, &[u16]); 17] = [
        ("GET", "/containers/..%2F..%2Fetc%2Fpasswd/json", &[404]),
        (
            "GET",
            "/containers/..%2F..%2F..%2F..%2Fetc%2Fpasswd/logs?stdout=1",
            &[404],
        ),
        ("GET", "/containers/..%2F..%2F..%2F..%2Fetc/export", &[404]),
        (
            "GET",
            "/containers/%2e%2e%2f%2e%2e%2fetc%2fpasswd/json",
            &[404],
        ),
        ("GET", "/containers/../../etc/passwd/json", &[404, 400]),
        ("GET", "/images/..%2F..%2Fetc%2Fpasswd/json", &[404, 400]),
        ("GET", "/images/../../etc/passwd/json", &[404, 400]),
        ("GET", "/images/..%2F..%2Fetc%2Fpasswd/get", &[404, 400]),
        (
            "GET",
            "/images/get?names=..%2F..%2Fetc%2Fpasswd",
            &[404, 400],
        ),
        (
            "GET",
            "/volumes/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
            &[404, 400],
        ),
        ("GET", "/v1.50/../../etc/passwd", &[404, 400]),
        ("GET", "/_ping/../../../etc/passwd", &[404, 400]),
        ("GET", "/..%2F..%2F..%2Fetc%2Fpasswd", &[404, 400]),
        ("DELETE", "/volumes/..%2F..%2Fvictim", &[404, 400]),
        (
            "DELETE",
            "/volumes/..%2F..%2Fvictim?force=1",
            &[204, 404, 400],
        ),
        (
            "DELETE",
            "/containers/..%2F..%2Fvictim?force=1",
            &[404, 400],
        ),
        ("DELETE", "/images/..%2F..%2Fvictim?force=1", &[404, 400]),
    ];
    for (method, path, allowed) in cases {
        let reply = send(&daemon, method, path, None);
        let what = format!("{method} {path}");
        let status = reply
            .status
            .unwrap_or_else(|| panic!("{what}: no answer: {}", reply.describe()));
        assert!(
            allowed.contains(&status),
            "{what}: status {status}, wanted one of {allowed:?}: {}",
            reply.describe()
        );
        assert!(
            !reply.text().contains("root:x:0:0") && !reply.text().contains("keep\n"),
            "{what}: file content in the answer: {}",
            reply.describe()
        );
        if status != 204 {
            assert!(!reply.message().is_empty(), "{what}: {}", reply.describe());
        }
        assert_alive(&daemon, &what);
    }

    // Names that climb, where names are made.
    let reply = send(
        &daemon,
        "POST",
        "/volumes/create",
        Some(br#"{"Name":"../../victim2"}"#),
    );
    assert_eq!(reply.status, Some(400), "volume name: {}", reply.describe());
    let reply = send(
        &daemon,
        "POST",
        "/containers/create?name=..%2F..%2Fvictim3",
        Some(br#"{"Image":"busybox"}"#),
    );
    assert_eq!(
        reply.status,
        Some(400),
        "container name: {}",
        reply.describe()
    );
    let reply = send(
        &daemon,
        "POST",
        "/images/busybox/tag?repo=..%2F..%2Fvictim4&tag=x",
        None,
    );
    assert!(
        matches!(reply.status, Some(400 | 404)),
        "tag: {}",
        reply.describe()
    );
    for made in ["victim2", "victim3", "victim4"] {
        assert!(!store.dir().join(made).exists(), "{made} was made");
    }
    assert_eq!(
        std::fs::read_to_string(victim.join("_data/keep"))
            .ok()
            .as_deref(),
        Some("keep\n"),
        "the victim directory was touched"
    );
    assert_alive(&daemon, "traversing names");
    store.assert_check_clean();
}

#[test]
fn versions_unknown_paths_and_head() {
    let test = "versions_unknown_paths_and_head";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };

    let reply = send(&daemon, "GET", "/v1.99/version", None);
    assert_eq!(reply.status, Some(400), "{}", reply.describe());
    assert!(
        reply.message().contains("is too new"),
        "{}",
        reply.describe()
    );
    assert_alive(&daemon, "a version too new");

    for path in [
        "/nosuch",
        "/v1.50/nosuch/path",
        "/containers/json/extra/segments",
    ] {
        let reply = send(&daemon, "GET", path, None);
        assert_eq!(reply.status, Some(404), "{path}: {}", reply.describe());
        assert_eq!(
            reply.json(),
            json!({"message": "page not found"}),
            "{path}: {}",
            reply.describe()
        );
        assert!(
            support::berth_daemon::header(&reply.headers, "Content-Type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{path}: {:?}",
            reply.headers
        );
    }
    assert_alive(&daemon, "unknown paths");

    let reply = send(&daemon, "HEAD", "/_ping", None);
    assert_eq!(reply.status, Some(200), "{}", reply.describe());
    assert!(
        reply.body.is_empty(),
        "HEAD has no body: {}",
        reply.describe()
    );
    assert_eq!(
        support::berth_daemon::header(&reply.headers, "Api-Version"),
        Some("1.50"),
        "{:?}",
        reply.headers
    );
    assert_alive(&daemon, "HEAD /_ping");
    store.assert_check_clean();
}
