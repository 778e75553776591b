//! The accept loop: HTTP/1.1 on a unix socket or on TCP behind TLS with
//! client verification, with hijacking (upgrades), header size and
//! read-time limits, the version prefix taken off before routing, and
//! Docker's headers on every answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, Uri};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::Daemon;
use crate::versions;

#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The most a request's line and headers may take.
    pub max_header_bytes: usize,
    /// How long a client may take to send its headers.
    pub header_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_header_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// Where the API listens.
pub enum Listener {
    Unix(UnixListener),
    /// TCP, every connection a TLS session whose client has shown a
    /// certificate the acceptor's CA signed.
    Tls(TcpListener, TlsAcceptor),
}

/// Serves the API on `listener` until the future is dropped.
pub async fn serve(listener: Listener, daemon: Arc<Daemon>, options: ServeOptions) {
    let router = crate::system::routes()
        .merge(crate::containers::routes())
        .merge(crate::exec::routes())
        .merge(crate::images::routes())
        .merge(crate::build::routes())
        .merge(crate::volumes::routes())
        .merge(crate::networks::routes())
        .merge(crate::not_swarm::routes())
        .fallback(not_found)
        .with_state(daemon);
    match listener {
        Listener::Unix(listener) => loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            };
            tokio::spawn(serve_connection(stream, router.clone(), options.clone()));
        },
        Listener::Tls(listener, acceptor) => loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            };
            let (router, options, acceptor) = (router.clone(), options.clone(), acceptor.clone());
            tokio::spawn(async move {
                // The handshake counts against the header time limit: a
                // client that connects and says nothing holds no task.
                match tokio::time::timeout(options.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(tls, router, options).await,
                    // As dockerd logs it: the one place a refused client
                    // certificate shows on the daemon's side.
                    Ok(Err(e)) => eprintln!("berth daemon: TLS handshake with {peer}: {e}"),
                    Err(_) => eprintln!("berth daemon: TLS handshake with {peer}: timed out"),
                }
            });
        },
    }
}

/// EMFILE and the like: wait a little rather than spin.
async fn accept_failed(e: std::io::Error) {
    eprintln!("berth daemon: accept: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One client connection, HTTP/1.1 with upgrades, until it closes.
async fn serve_connection<IO>(io: IO, router: Router, options: ServeOptions)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| dispatch(router.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.max_header_bytes.max(8192))
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    // A client that vanished or sent garbage: its connection ends.
    let _ = conn.await;
}

async fn not_found() -> crate::ApiError {
    crate::ApiError::not_found("page not found")
}

/// Takes the version prefix off and routes.
async fn dispatch(
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let mut response = route(router, parts, body).await;
    crate::system::common_headers(response.headers_mut());
    Ok(response)
}

async fn route(
    router: Router,
    mut parts: axum::http::request::Parts,
    body: hyper::body::Incoming,
) -> Response<Body> {
    let (version, path) = match versions::split_path(parts.uri.path()) {
        Ok((v, p)) => (v, p.to_string()),
        Err(e) => return e.into_response(),
    };
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    parts.uri = match Uri::builder().path_and_query(path_and_query).build() {
        Ok(u) => u,
        Err(_) => return crate::ApiError::bad_request("malformed request path").into_response(),
    };
    parts.extensions.insert(version);
    let req = Request::from_parts(parts, Body::new(body));
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}
