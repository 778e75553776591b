//! A connection to one registry: endpoint choice (mirrors, HTTPS then plain
//! HTTP for insecure hosts), CA certificates from certs.d, and the request
//! loop every operation goes through — authentication, redirects (followed by
//! hand so credentials never reach another host), and retries with backoff
//! for network errors and 5xx/429 answers.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};

use crate::auth::Auth;
use crate::challenge;
use crate::config::RegistriesConfig;
use crate::credentials::Credentials;
use crate::error::{Error, ErrorKind, Result, describe};

/// A registry reached and pinged; cheap to share by reference between tasks.
pub struct Registry {
    /// The host as the reference names it (`docker.io`, `127.0.0.1:5000`).
    host: String,
    /// The base URL in use (`https://registry-1.docker.io`, a mirror, ...).
    base: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) auth: Auth,
    attempts: u32,
    pub(crate) document_timeout: Duration,
}

/// One request as the loop sends (and may resend) it.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub scope: Option<&'a str>,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// Names the operation in errors (`get manifest library/busybox:latest`).
    pub what: &'a str,
}

impl Registry {
    /// Finds a working endpoint for `host` and learns how it authenticates.
    pub async fn connect(
        host: &str,
        config: &RegistriesConfig,
        credentials: Option<Credentials>,
    ) -> Result<Registry> {
        let mut failures = Vec::new();
        for base in candidates(host, config) {
            let url = Url::parse(&base)
                .map_err(|e| Error::invalid_argument(format!("registry URL {base:?}: {e}")))?;
            let origin = origin_host(&url);
            let http = build_http(&origin, config)?;
            let registry = Registry {
                host: host.to_string(),
                base: url,
                http,
                auth: Auth::new(origin, credentials.clone()),
                attempts: config.attempts,
                document_timeout: Duration::from_secs(config.document_timeout_secs.max(1)),
            };
            match registry.ping().await {
                Ok(()) => return Ok(registry),
                Err(e) if e.kind == ErrorKind::Unavailable => failures.push(format!("{base}: {e}")),
                Err(e) => return Err(e),
            }
        }
        Err(Error::unavailable(format!(
            "cannot reach registry {host}: {}",
            failures.join("; ")
        )))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v2/`: any HTTP answer proves the endpoint; a 401 tells the scheme.
    async fn ping(&self) -> Result<()> {
        let url = self.url("/v2/")?;
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Error::unavailable(describe(&e)))?;
        match response.status() {
            StatusCode::UNAUTHORIZED => {
                self.auth.learn(challenge_of(&response), None);
                Ok(())
            }
            s if s.is_success() => Ok(()),
            s if s.is_server_error() => Err(Error::unavailable(format!("GET {url}: {s}"))),
            // A 404 here means the endpoint is not a v2 registry.
            s => Err(Error::unavailable(format!(
                "GET {url}: {s}: not an OCI distribution registry"
            ))),
        }
    }

    /// Checks the credentials the way `docker login` does: a token fetch with
    /// them (Bearer) or an authenticated `GET /v2/` (Basic).
    pub async fn check_login(&self) -> Result<()> {
        match self.auth.challenge() {
            None => Ok(()),
            Some(challenge::Challenge::Bearer { realm, service, .. }) => self
                .auth
                .fetch_token(&self.http, &realm, service.as_deref(), None)
                .await
                .map(|_| ()),
            Some(challenge::Challenge::Basic) => {
                let request = Request {
                    method: Method::GET,
                    url: self.url("/v2/")?,
                    scope: None,
                    headers: HeaderMap::new(),
                    body: None,
                    what: "log in",
                };
                let response = self.send(&request).await?;
                if response.status() == StatusCode::UNAUTHORIZED {
                    return Err(Error::unauthorized(format!(
                        "log in to {}: unauthorized: incorrect username or password",
                        self.host
                    )));
                }
                check_status(response, "log in").await.map(|_| ())
            }
        }
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| Error::invalid_argument(format!("registry URL {base}{path}: {e}")))
    }

    /// Sends with authentication, redirects and retries; returns the final
    /// answer whatever its status (callers map statuses to errors).
    pub(crate) async fn send(&self, request: &Request<'_>) -> Result<Response> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(request).await;
            let retryable = match &outcome {
                Ok(r) => matches!(
                    r.status(),
                    StatusCode::INTERNAL_SERVER_ERROR
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                        | StatusCode::TOO_MANY_REQUESTS
                ),
                Err(e) => e.kind == ErrorKind::Unavailable,
            };
            if !retryable || attempt >= self.attempts {
                return outcome;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            attempt += 1;
        }
    }

    async fn send_once(&self, request: &Request<'_>) -> Result<Response> {
        let mut url = request.url.clone();
        let mut reauthenticated = false;
        let mut hops = 0;
        loop {
            let mut builder = self
                .http
                .request(request.method.clone(), url.clone())
                .headers(request.headers.clone());
            let same_origin =
                origin_host(&url) == origin_host(&self.base) && url.scheme() == self.base.scheme();
            if same_origin && let Some(h) = self.auth.header(&self.http, request.scope).await? {
                builder = builder.header(reqwest::header::AUTHORIZATION, h);
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|e| {
                Error::unavailable(format!(
                    "{}: {} {url}: {}",
                    request.what,
                    request.method,
                    describe(&e)
                ))
            })?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                hops += 1;
                if hops > 10 {
                    return Err(Error::invalid(format!(
                        "{}: more than 10 redirects",
                        request.what
                    )));
                }
                let location = location.to_str().unwrap_or_default();
                url = url.join(location).map_err(|e| {
                    Error::invalid(format!("{}: bad redirect {location:?}: {e}", request.what))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(Error::invalid(format!(
                        "{}: redirect to {url} is not http(s)",
                        request.what
                    )));
                }
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && same_origin && !reauthenticated {
                // Either the first contact (no scheme known yet) or a token
                // without enough rights: learn, fetch anew, try once more.
                let had_challenge = self.auth.challenge().is_some();
                let challenge = challenge_of(&response);
                if challenge.is_none() && had_challenge {
                    return Ok(response);
                }
                self.auth.learn(challenge, request.scope);
                reauthenticated = true;
                url = request.url.clone();
                continue;
            }
            return Ok(response);
        }
    }
}

/// Base URLs to try for `host`, best first.
fn candidates(host: &str, config: &RegistriesConfig) -> Vec<String> {
    if host == "docker.io" || host == "index.docker.io" {
        let mut out: Vec<String> = config
            .registry_mirrors
            .iter()
            .map(|m| m.trim_end_matches('/').to_string())
            .collect();
        out.push("https://registry-1.docker.io".to_string());
        return out;
    }
    let mut out = vec![format!("https://{host}")];
    if config.is_insecure(host) {
        out.push(format!("http://{host}"));
    }
    out
}

/// `host[:port]` of a URL, the port only when explicit.
pub(crate) fn origin_host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn build_http(origin: &str, config: &RegistriesConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(config.read_timeout_secs))
        .tcp_nodelay(true);
    for dir in &config.certs_dirs {
        for cert in ca_files(&dir.join(origin))? {
            let pem = std::fs::read(&cert).map_err(|e| {
                Error::invalid_argument(format!("read CA certificate {}: {e}", cert.display()))
            })?;
            let parsed = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::invalid_argument(format!("CA certificate {}: {e}", cert.display()))
            })?;
            for c in parsed {
                builder = builder.add_root_certificate(c);
            }
        }
    }
    builder
        .build()
        .map_err(|e| Error::invalid_argument(format!("HTTP client for {origin}: {}", describe(&e))))
}

/// `*.crt` files in a certs.d host directory (Docker reads every one as a CA).
fn ca_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::invalid_argument(format!(
                "read certificates directory {}: {e}",
                dir.display()
            )));
        }
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    out.sort();
    Ok(out)
}

fn challenge_of(response: &Response) -> Option<challenge::Challenge> {
    challenge::parse(
        response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Reads a whole body, refusing more than `cap` bytes (an endless or huge
/// answer must not exhaust memory).
pub(crate) async fn read_capped(response: Response, cap: usize, what: &str) -> Result<Vec<u8>> {
    read_capped_within(response, cap, what, Duration::from_secs(60)).await
}

/// [`read_capped`] with a deadline for the whole body.
pub(crate) async fn read_capped_within(
    response: Response,
    cap: usize,
    what: &str,
    deadline: Duration,
) -> Result<Vec<u8>> {
    match tokio::time::timeout(deadline, read_body(response, cap, what)).await {
        Ok(result) => result,
        Err(_) => Err(Error::unavailable(format!(
            "{what}: the answer did not arrive within {} s",
            deadline.as_secs()
        ))),
    }
}

async fn read_body(mut response: Response, cap: usize, what: &str) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("{what}: the answer is larger than the limit of {cap} bytes"),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::unavailable(format!("{what}: read answer: {}", describe(&e))))?
    {
        if body.len() + chunk.len() > cap {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("{what}: the answer is larger than the limit of {cap} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns a non-success answer into an error with the registry's own words
/// (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":…}]}`).
pub(crate) async fn check_status(response: Response, what: &str) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_capped_within(response, 64 << 10, what, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    let detail = registry_errors(&body).unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    });
    let message = format!("{what}: {detail} (HTTP {})", status.as_u16());
    Err(match status {
        StatusCode::NOT_FOUND => Error::not_found(message),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::unauthorized(message),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            Error::unavailable(message)
        }
        _ => Error::invalid(message),
    })
}

fn registry_errors(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let message = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            format!("{}: {message}", code.to_ascii_lowercase().replace('_', " "))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub(crate) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}
