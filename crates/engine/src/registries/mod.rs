//! Registries, outside pull and push: where the settings come from
//! (`BERTH_REGISTRIES_CONFIG`, else `registries.toml` in the data root, else
//! `/etc/berth/registries.toml`; CA certificates in the data root's `certs.d`
//! come before the system ones), the credentials file, and the I/O runtime
//! that synchronous callers drive the async registry client with. Login and
//! logout are in `login.rs`, the index search in `search.rs`.

mod login;
mod search;

pub use login::normalize_server;
pub use search::SearchOptions;

use std::path::PathBuf;
use std::time::Duration;

use berth_registry::{DockerConfig, RegistriesConfig};

use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    pub fn registries_config(&self) -> Result<RegistriesConfig> {
        let path = self
            .config
            .registries_file
            .clone()
            .or_else(|| {
                let local = self.paths.root.join("registries.toml");
                local.is_file().then_some(local)
            })
            .unwrap_or_else(|| PathBuf::from("/etc/berth/registries.toml"));
        let mut config = RegistriesConfig::load(&path)?;
        config.certs_dirs.insert(0, self.paths.root.join("certs.d"));
        Ok(config)
    }

    /// The credentials file used when a caller gives none.
    pub(crate) fn docker_config(&self) -> DockerConfig {
        DockerConfig::at(self.config.docker_config.clone())
    }
}

/// Runs registry I/O to completion for a synchronous caller, on a
/// short-lived runtime of its own whose threads are gone when this returns
/// (the CLI; async callers use `pull_async`/`push_async` on theirs).
pub(crate) fn block_on<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("berth-registry")
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("start the registry I/O runtime: {e}")))?;
    let outcome = runtime.block_on(future);
    runtime.shutdown_timeout(Duration::from_secs(2));
    outcome
}
