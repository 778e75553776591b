//! A `berth daemon` on a test's store: the Docker Engine API on a unix
//! socket in the store's temp dir, driven with the real docker CLI (v28)
//! or with raw HTTP/1.1 where a test needs exact status codes and headers.
//! The daemon's log (stderr) goes to a file whose tail every failure
//! message shows. Stopped on drop (SIGTERM, then SIGKILL after 5 s); the
//! store's own drop then removes whatever containers are left.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Store, skip};

/// The docker CLI the tests drive: v28 where installed, else the distro's.
const DOCKER_CLIS: [&str; 2] = ["/usr/local/bin/docker", "/usr/bin/docker"];

/// How long a daemon has to answer `/_ping` after it is spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopped daemon has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Lines of the daemon's log that failure messages show.
const LOG_TAIL_LINES: usize = 60;

/// Response headers, in the order received (names as sent).
pub type Headers = Vec<(String, String)>;

pub struct BerthDaemon<'s> {
    store: &'s Store,
    test: String,
    sock: PathBuf,
    log: PathBuf,
    docker: PathBuf,
    docker_config: PathBuf,
    /// Arguments after `daemon -H unix://…` (more listeners, TLS files).
    extra_args: Vec<String>,
    /// None once killed (and reaped): never signal a pid we reaped.
    child: Option<Child>,
}

impl<'s> BerthDaemon<'s> {
    /// Starts `berth daemon -H unix://STORE_DIR/berth.sock` on `store` and
    /// waits until `/_ping` answers; panics (with its log) when it does not
    /// within 10 s. None (after `skip`) when no docker CLI is installed.
    pub fn start(store: &'s Store, test: &str) -> Option<BerthDaemon<'s>> {
        Self::start_with_args(store, test, &[])
    }

    /// As `start`, with more arguments to `berth daemon` after its `-H
    /// unix://…` (another `-H`, the TLS flags).
    pub fn start_with_args(
        store: &'s Store,
        test: &str,
        extra_args: &[&str],
    ) -> Option<BerthDaemon<'s>> {
        let Some(docker) = DOCKER_CLIS
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        else {
            skip(
                test,
                "no docker CLI at /usr/local/bin/docker or /usr/bin/docker \
                 (docker-ce-cli 28, or apt-get install docker.io)",
            );
            return None;
        };
        let docker_config = store.dir().join("docker-cli-config");
        std::fs::create_dir_all(&docker_config).expect("docker CLI config dir");
        let mut daemon = BerthDaemon {
            store,
            test: test.to_string(),
            sock: store.dir().join("berth.sock"),
            log: store.dir().join("berth-daemon.log"),
            docker,
            docker_config,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        daemon.spawn();
        Some(daemon)
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log file");
        let host = format!("unix://{}", self.sock.display());
        let mut args = vec!["daemon", "-H", &host];
        args.extend(self.extra_args.iter().map(String::as_str));
        let child = self
            .store
            .command(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("daemon log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn berth daemon");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "{}: berth daemon exited before it was ready ({status}); its log:\n{}",
                    self.test,
                    self.log_tail()
                );
            }
            if self.sock.exists() && self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{}: berth daemon did not answer /_ping on {} within {READY_TIMEOUT:?}; its log:\n{}",
            self.test,
            self.sock.display(),
            self.log_tail()
        );
    }

    /// Whether `GET /_ping` answers 200 `OK`.
    fn ping(&self) -> bool {
        self.try_request("GET", "/_ping", None, Duration::from_secs(2))
            .is_ok_and(|(status, _, body)| status == 200 && body.trim_ascii() == b"OK")
    }

    /// The daemon's socket (in the store's temp dir).
    pub fn socket(&self) -> &Path {
        &self.sock
    }

    /// `unix:///…/berth.sock`, for `DOCKER_HOST` or `-H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the daemon logged (all of its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// The docker CLI talking to this daemon, with a private config dir.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.docker);
        cmd.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        cmd
    }

    /// Runs the docker CLI with stdin closed.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// Runs the docker CLI with stdin closed: (exit code, stdout, stderr).
    pub fn outcome(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.docker(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs the docker CLI and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}\nberth daemon log (tail):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the docker CLI and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            !out.status.success(),
            "docker {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// kill -9 of the daemon (reaped); its containers' monitors live on.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon if it runs (SIGTERM, then SIGKILL), starts it again
    /// on the same store and socket and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        if let Ok(mut log) = File::options().append(true).open(&self.log) {
            let _ = writeln!(log, "---- berth-test: daemon restarted ----");
        }
        self.spawn();
    }

    /// SIGTERM, SIGKILL after 5 s, reaped.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Not yet reaped, so the pid is still ours (a zombie at worst).
        if matches!(child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// A raw HTTP/1.1 request over the socket (`Connection: close`):
    /// (status, body), the body de-chunked.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let (status, _, body) = self.request_full(method, path, body);
        (status, body)
    }

    /// As `request`, with the response headers.
    pub fn request_full(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> (u16, Headers, Vec<u8>) {
        self.try_request(method, path, body, Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {path} over {}: {e}\nberth daemon log (tail):\n{}",
                    self.sock.display(),
                    self.log_tail()
                )
            })
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> std::io::Result<(u16, Headers, Vec<u8>)> {
        let mut stream = UnixStream::connect(&self.sock)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n");
        match body {
            Some(body) => head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )),
            None if !matches!(method, "GET" | "HEAD") => head.push_str("Content-Length: 0\r\n"),
            None => {}
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        stream.write_all(&bytes)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw)
    }
}

impl Drop for BerthDaemon<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The value of header `name` (case-insensitive), if present.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Status, headers and (de-chunked) body of one whole HTTP/1.x response.
fn parse_response(raw: &[u8]) -> std::io::Result<(u16, Headers, Vec<u8>)> {
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} in response: {:?}", String::from_utf8_lossy(raw)),
        )
    };
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next().unwrap_or_default().split(' ');
    if !status_line.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(bad("no HTTP/1.x status line"));
    }
    let status: u16 = status_line
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let headers: Headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = &raw[end + 4..];
    let chunked =
        header(&headers, "Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("malformed chunked body"))?
    } else {
        body.to_vec()
    };
    Ok((status, headers, body))
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
