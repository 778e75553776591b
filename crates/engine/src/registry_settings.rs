//! Registry access outside pull and push: where the settings come from
//! (`BERTH_REGISTRIES_CONFIG`, else `registries.toml` in the data root, else
//! `/etc/berth/registries.toml`; CA certificates in the data root's `certs.d`
//! come before the system ones), login and logout, and the I/O runtime the
//! synchronous engine drives the async registry client with.

use std::path::PathBuf;
use std::time::Duration;

use berth_registry::{Credentials, DockerConfig, RegistriesConfig, Registry};

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

    /// Checks `credentials` against `server` and stores them in Docker's
    /// config file (or its credential helper). Returns the host logged in to.
    pub fn login(&self, server: &str, credentials: Credentials) -> Result<String> {
        let host = normalize_server(server)?;
        let config = self.registries_config()?;
        block_on(async {
            let registry = Registry::connect(&host, &config, Some(credentials.clone())).await?;
            Ok(registry.check_login().await?)
        })?;
        self.docker_config().store(&host, &credentials)?;
        Ok(host)
    }

    /// The credentials file used when a caller gives none.
    pub(crate) fn docker_config(&self) -> DockerConfig {
        DockerConfig::at(self.config.docker_config.clone())
    }

    /// Forgets the credentials for `server`; the host and whether any existed.
    pub fn logout(&self, server: &str) -> Result<(String, bool)> {
        let host = normalize_server(server)?;
        let removed = self.docker_config().erase(&host)?;
        Ok((host, removed))
    }
}

/// The registry host a `login`/`logout` argument names (`docker.io` for
/// Docker Hub in any of its spellings; URLs reduced to their host).
pub fn normalize_server(server: &str) -> Result<String> {
    let trimmed = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = trimmed.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "invalid registry server {server:?}"
        )));
    }
    Ok(match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        h => h.to_string(),
    })
}

/// Runs registry I/O to completion on a short-lived runtime whose threads
/// are gone when this returns (berth later forks and joins namespaces).
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
