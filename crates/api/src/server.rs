//! The accept loop: HTTP/1.1 on a unix socket, with hijacking (upgrades),
//! header size and read-time limits, the version prefix taken off before
//! routing, and Docker's headers on every answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, Uri};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
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

/// Serves the API on `listener` until the future is dropped.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>, options: ServeOptions) {
    let router = crate::system::routes()
        .merge(crate::containers::routes())
        .merge(crate::exec::routes())
        .merge(crate::images::routes())
        .merge(crate::volumes::routes())
        .merge(crate::networks::routes())
        .merge(crate::not_swarm::routes())
        .fallback(not_found)
        .with_state(daemon);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and the like: wait a little rather than spin.
                eprintln!("berth daemon: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| dispatch(router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(options.header_timeout)
                .max_buf_size(options.max_header_bytes.max(8192))
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            // A client that vanished or sent garbage: its connection ends.
            let _ = conn.await;
        });
    }
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
