//! A small fake OCI distribution registry that serves what the test put in
//! and misbehaves on purpose, for tests of the client's defenses: bytes
//! that do not match their digest, lying or missing lengths, cut
//! connections, endless bodies, transient errors, cross-host redirects and
//! auth challenges. Pull only (GET/HEAD); every request is recorded.
//!
//! Routes: `/v2/` (200 `{}`), `/v2/<name>/manifests/<ref>`,
//! `/v2/<name>/blobs/<digest>` (honours `Range: bytes=N-` and `bytes=N-M`
//! with 206 + Content-Range), `/v2/<name>/tags/list`. Anything else is 404;
//! methods other than GET/HEAD are 405.
//!
//! Faults are keyed by manifest reference (as requested: a fault on `latest`
//! does not touch requests by digest) or blob digest, in any repository.
//! HEAD requests see Status/RedirectTo/Unauthorized but never body faults.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mini_http::{self, Server};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Same length, one byte changed (an alphanumeric one near the middle
    /// where there is one, so JSON stays JSON and only a digest check sees it).
    WrongBytes,
    /// Only the first n bytes, with an honest `Content-Length: n`.
    Truncated(usize),
    /// The content then `extra` more bytes, `Content-Length` covering all.
    TooLong(usize),
    /// The full `Content-Length`, but the connection closes after n body
    /// bytes; first GET only, later GETs (e.g. a Range resume) are served.
    CutAfter(usize),
    /// The full `Content-Length`, n body bytes, then silence with the
    /// connection held open (until the server stops or 120 s); first GET
    /// only. For killing a client mid-download.
    StallAfter(usize),
    /// A chunked body that never ends, trickling 16 bytes every 100 ms (the
    /// server gives up after 120 s). Defeats per-read timeouts.
    Endless,
    /// A chunked body that never ends, as fast as the client reads (server
    /// stops at 4 GiB or 120 s). Defeats clients without a size cap.
    Flood,
    /// The first `times` requests get this status (with an `errors` body),
    /// later ones are served.
    Status(u16, u32),
    /// 307 to this base URL plus the request's path and query, e.g.
    /// `http://localhost:PORT2` (another host as far as the client knows).
    RedirectTo(String),
    /// 401 with this `WWW-Authenticate` to requests without an
    /// `Authorization` header; requests with one are served (assert on
    /// what they carried via `requests()`).
    Unauthorized(String),
}

/// One request the fault registry saw.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Ping,
    Manifest(String),
    Blob(String),
}

struct Armed {
    fault: Fault,
    requests: u32,
    gets: u32,
}

#[derive(Default)]
struct State {
    /// (repo, reference) → (media type, bytes)
    manifests: HashMap<(String, String), (String, Vec<u8>)>,
    blobs: HashMap<(String, String), Vec<u8>>,
    faults: HashMap<Target, Armed>,
    requests: Vec<RecordedRequest>,
}

pub struct FaultRegistry {
    state: Arc<Mutex<State>>,
    server: Server,
}

/// `sha256:<hex>` of the bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl FaultRegistry {
    pub fn start() -> FaultRegistry {
        let state = Arc::new(Mutex::new(State::default()));
        let s2 = state.clone();
        let server = Server::start(move |conn, stop| serve(&s2, conn, stop));
        FaultRegistry { state, server }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The same server named `localhost`: another host to a client, for
    /// cross-host redirect tests.
    pub fn localhost_url(&self) -> String {
        format!("http://localhost:{}", self.server.port())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fault registry state")
    }

    /// Stores a manifest under `reference` (tag or digest) and, when that is
    /// a tag, under its own digest too. Returns the bytes' digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = sha256_digest(bytes);
        let mut st = self.lock();
        let value = (media_type.to_string(), bytes.to_vec());
        st.manifests
            .insert((repo.into(), reference.into()), value.clone());
        if !reference.contains(':') {
            st.manifests.insert((repo.into(), digest.clone()), value);
        }
        digest
    }

    /// Stores a blob under `digest`, which need not match the bytes (a
    /// lying registry): Docker-Content-Digest echoes the requested digest.
    pub fn put_blob(&self, repo: &str, digest: &str, bytes: &[u8]) {
        self.lock()
            .blobs
            .insert((repo.into(), digest.into()), bytes.to_vec());
    }

    /// Stores a blob under its true digest; returns it.
    pub fn add_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        self.put_blob(repo, &digest, bytes);
        digest
    }

    fn arm(&self, target: Target, fault: Fault) {
        let armed = Armed {
            fault,
            requests: 0,
            gets: 0,
        };
        self.lock().faults.insert(target, armed);
    }

    pub fn fault_manifest(&self, reference: &str, fault: Fault) {
        self.arm(Target::Manifest(reference.into()), fault);
    }

    pub fn fault_blob(&self, digest: &str, fault: Fault) {
        self.arm(Target::Blob(digest.into()), fault);
    }

    /// A fault on `/v2/` itself (e.g. an auth challenge on the ping).
    pub fn fault_ping(&self, fault: Fault) {
        self.arm(Target::Ping, fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// How many requests had this method and a path ending in `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(path_suffix))
            .count()
    }
}

fn error_body(code: &str, message: &str) -> Vec<u8> {
    serde_json::json!({"errors": [{"code": code, "message": message}]})
        .to_string()
        .into_bytes()
}

/// What the fault (if any) decided before the content is looked at.
enum Decision {
    Serve { body_fault: Option<Fault> },
    Status(u16),
    Redirect(String),
    Unauthorized(String),
}

fn serve(state: &Mutex<State>, mut conn: TcpStream, stop: &AtomicBool) {
    let req = match mini_http::read_request(&conn) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(_) => {
            let _ = mini_http::respond(&mut conn, 400, &[], b"", false);
            return;
        }
    };
    let Ok(mut st) = state.lock() else { return };
    st.requests.push(RecordedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
    });
    let api = (
        "Docker-Distribution-API-Version",
        "registry/2.0".to_string(),
    );
    let json = ("Content-Type", "application/json".to_string());
    let head = req.method == "HEAD";
    if !(head || req.method == "GET") {
        drop(st);
        let body = error_body("UNSUPPORTED", "the fault registry serves pulls only");
        let _ = mini_http::respond(&mut conn, 405, &[api, json], &body, false);
        return;
    }
    let path = mini_http::percent_decode(&req.path);
    let Some(rest) = path.strip_prefix("/v2") else {
        drop(st);
        let _ = mini_http::respond(&mut conn, 404, &[api], b"", head);
        return;
    };
    let rest = rest.trim_start_matches('/');
    // (target, content: (media type, bytes, digest header), 404 code)
    let (target, content, missing) = if rest.is_empty() {
        let c = Some(("application/json".to_string(), b"{}".to_vec(), None));
        (Target::Ping, c, "")
    } else if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        let c = st
            .manifests
            .get(&(name.to_string(), reference.to_string()))
            .map(|(mt, b)| {
                let digest = if reference.contains(':') {
                    reference.to_string()
                } else {
                    sha256_digest(b)
                };
                (mt.clone(), b.clone(), Some(digest))
            });
        (Target::Manifest(reference.into()), c, "MANIFEST_UNKNOWN")
    } else if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        let c = st
            .blobs
            .get(&(name.to_string(), digest.to_string()))
            .map(|b| {
                (
                    "application/octet-stream".to_string(),
                    b.clone(),
                    Some(digest.to_string()),
                )
            });
        (Target::Blob(digest.into()), c, "BLOB_UNKNOWN")
    } else if let Some(name) = rest.strip_suffix("/tags/list") {
        let mut tags: Vec<&str> = st
            .manifests
            .keys()
            .filter(|(r, t)| r == name && !t.contains(':'))
            .map(|(_, t)| t.as_str())
            .collect();
        tags.sort();
        let body = serde_json::json!({"name": name, "tags": tags}).to_string();
        drop(st);
        let _ = mini_http::respond(&mut conn, 200, &[api, json], body.as_bytes(), head);
        return;
    } else {
        drop(st);
        let _ = mini_http::respond(&mut conn, 404, &[api], b"", head);
        return;
    };
    let decision = match st.faults.get_mut(&target) {
        None => Decision::Serve { body_fault: None },
        Some(armed) => {
            armed.requests += 1;
            if !head {
                armed.gets += 1;
            }
            match &armed.fault {
                Fault::Status(code, times) if armed.requests <= *times => Decision::Status(*code),
                Fault::Status(..) => Decision::Serve { body_fault: None },
                Fault::RedirectTo(base) => {
                    Decision::Redirect(format!("{}{}", base.trim_end_matches('/'), req.target))
                }
                Fault::Unauthorized(www) if req.header("authorization").is_none() => {
                    Decision::Unauthorized(www.clone())
                }
                Fault::Unauthorized(_) => Decision::Serve { body_fault: None },
                Fault::CutAfter(_) | Fault::StallAfter(_) if armed.gets > 1 => {
                    Decision::Serve { body_fault: None }
                }
                _ if head => Decision::Serve { body_fault: None },
                f => Decision::Serve {
                    body_fault: Some(f.clone()),
                },
            }
        }
    };
    drop(st);
    let body_fault = match decision {
        Decision::Serve { body_fault } => body_fault,
        Decision::Status(code) => {
            let body = error_body("UNKNOWN", &format!("injected fault: status {code}"));
            let _ = mini_http::respond(&mut conn, code, &[api, json], &body, head);
            return;
        }
        Decision::Redirect(location) => {
            let _ = mini_http::respond(&mut conn, 307, &[api, ("Location", location)], b"", head);
            return;
        }
        Decision::Unauthorized(www) => {
            let body = error_body("UNAUTHORIZED", "authentication required");
            let www = ("WWW-Authenticate", www);
            let _ = mini_http::respond(&mut conn, 401, &[api, json, www], &body, head);
            return;
        }
    };
    let Some((media_type, bytes, digest)) = content else {
        let body = error_body(missing, "unknown to the fault registry");
        let _ = mini_http::respond(&mut conn, 404, &[api, json], &body, head);
        return;
    };
    let mut headers = vec![api, ("Content-Type", media_type)];
    if let Some(d) = digest {
        headers.push(("Docker-Content-Digest", d));
    }
    if matches!(target, Target::Blob(_)) {
        headers.push(("Accept-Ranges", "bytes".into()));
    }
    let stall = matches!(body_fault, Some(Fault::StallAfter(_)));
    let (body, cut) = match body_fault {
        None => (bytes, None),
        Some(Fault::StallAfter(n)) => (bytes, Some(n)),
        Some(Fault::WrongBytes) => (wrong_bytes(bytes), None),
        Some(Fault::Truncated(n)) => (bytes[..n.min(bytes.len())].to_vec(), None),
        Some(Fault::TooLong(extra)) => {
            let mut b = bytes;
            b.extend(std::iter::repeat_n(b'x', extra));
            (b, None)
        }
        Some(Fault::CutAfter(n)) => (bytes, Some(n)),
        Some(f @ (Fault::Endless | Fault::Flood)) => {
            let _ = endless(&mut conn, &headers, &bytes, f == Fault::Flood, stop);
            return;
        }
        // Handled in the decision above.
        Some(_) => (bytes, None),
    };
    // Range applies to blobs only, like distribution.
    let range = match target {
        Target::Blob(_) if !head => req.header("range").and_then(parse_range),
        _ => None,
    };
    let (status, body) = match range {
        None => (200, body),
        Some((start, _)) if start >= body.len() => {
            headers.push(("Content-Range", format!("bytes */{}", body.len())));
            let _ = mini_http::respond(&mut conn, 416, &headers, b"", false);
            return;
        }
        Some((start, end)) => {
            let end = end.map_or(body.len() - 1, |e| e.min(body.len() - 1));
            let end = end.max(start);
            headers.push((
                "Content-Range",
                format!("bytes {start}-{end}/{}", body.len()),
            ));
            (206, body[start..=end].to_vec())
        }
    };
    match cut {
        None => {
            let _ = mini_http::respond(&mut conn, status, &headers, &body, head);
        }
        Some(n) => {
            headers.push(("Content-Length", body.len().to_string()));
            if mini_http::write_head(&mut conn, status, &headers).is_ok() {
                let _ = conn.write_all(&body[..n.min(body.len())]);
                let _ = conn.flush();
            }
            let since = Instant::now();
            while stall
                && !stop.load(Ordering::Relaxed)
                && since.elapsed() < Duration::from_secs(120)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            // Dropping the stream closes it mid-body.
        }
    }
}

/// `bytes=N-` or `bytes=N-M` → (N, M); anything else is ignored (served
/// whole, as servers do with ranges they do not understand).
fn parse_range(v: &str) -> Option<(usize, Option<usize>)> {
    let spec = v.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    Some((start, end))
}

/// Changes one alphanumeric byte near the middle into another of its class
/// (falls back to flipping the middle byte).
fn wrong_bytes(mut b: Vec<u8>) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    let mid = b.len() / 2;
    let pos = (mid..b.len())
        .chain(0..mid)
        .find(|&i| b[i].is_ascii_alphanumeric());
    match pos {
        Some(i) => {
            b[i] = match b[i] {
                b'9' => b'0',
                b'z' => b'a',
                b'Z' => b'A',
                c => c + 1,
            }
        }
        None => b[mid] ^= 0x01,
    }
    b
}

/// A chunked 200 whose body never ends (until the client goes away, the
/// server is dropped, or the safety bounds hit).
fn endless(
    conn: &mut TcpStream,
    headers: &[(&str, String)],
    content: &[u8],
    fast: bool,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut headers = headers.to_vec();
    headers.push(("Transfer-Encoding", "chunked".into()));
    mini_http::write_head(conn, 200, &headers)?;
    let pattern: Vec<u8> = if content.is_empty() {
        b"x".to_vec()
    } else {
        content.to_vec()
    };
    let chunk_len = if fast { 64 * 1024 } else { 16 };
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut sent, mut pos) = (0u64, 0usize);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && sent < 4 << 30 {
        // The content repeated, so the stream's start looks plausible.
        let chunk: Vec<u8> = (0..chunk_len)
            .map(|i| pattern[(pos + i) % pattern.len()])
            .collect();
        pos = (pos + chunk_len) % pattern.len();
        conn.write_all(format!("{chunk_len:x}\r\n").as_bytes())?;
        conn.write_all(&chunk)?;
        conn.write_all(b"\r\n")?;
        sent += chunk_len as u64;
        if !fast {
            conn.flush()?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
