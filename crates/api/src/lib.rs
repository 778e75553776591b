//! berth-api: the Docker Engine API on a unix socket (or TCP with TLS
//! client verification), for `berth daemon`.
//!
//! Translation only: Docker's wire types in, [`berth_engine::Engine`] calls
//! out, engine results and errors back as Docker's JSON and status codes.
//! The daemon keeps no state of its own that the CLI cannot see, except
//! what lives only as long as a connection: an attach waiting for its
//! container to start (see `hijack`).
//!
//! Engine calls are synchronous and may block (a stop waits for the
//! container); handlers run them on tokio's blocking pool
//! ([`blocking`]), so a slow call never holds up another client.

#![forbid(unsafe_code)]

mod archive;
mod build;
mod container_json;
mod containers;
mod create;
mod error;
mod exec;
mod hijack;
mod images;
mod networks;
mod not_swarm;
mod progress;
mod query;
mod server;
mod system;
mod tls;
mod versions;
mod volumes;

use std::sync::Arc;

use berth_engine::Engine;

pub use error::ApiError;
pub use server::{Listener, ServeOptions, serve};
pub use system::server_version;
pub use tls::{TlsError, TlsFiles, acceptor as tls_acceptor};
pub use versions::{MAX_VERSION, MIN_VERSION};

/// What every handler shares.
pub struct Daemon {
    pub engine: Arc<Engine>,
    pub(crate) pending: hijack::PendingAttaches,
    /// The version string `GET /version` reports.
    pub version: String,
}

impl Daemon {
    pub fn new(engine: Arc<Engine>, version: impl Into<String>) -> Arc<Daemon> {
        Arc::new(Daemon {
            engine,
            pending: hijack::PendingAttaches::default(),
            version: version.into(),
        })
    }
}

pub(crate) type State = axum::extract::State<Arc<Daemon>>;

/// Runs a (blocking) engine call on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    daemon: &Arc<Daemon>,
    f: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = daemon.engine.clone();
    tokio::task::spawn_blocking(move || f(&engine))
        .await
        .map_err(|e| ApiError::internal(format!("engine call panicked: {e}")))?
}
