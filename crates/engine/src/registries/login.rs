//! `login` and `logout`: credentials checked against a registry and kept
//! in Docker's client configuration (or its credential helper).

use berth_registry::{Credentials, Registry};

use super::block_on;
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Checks `credentials` against `server` and stores them in Docker's
    /// config file (or its credential helper). Returns the host logged in to.
    pub fn login(&self, server: &str, credentials: Credentials) -> Result<String> {
        let host = self.check_login(server, &credentials)?;
        self.docker_config().store(&host, &credentials)?;
        Ok(host)
    }

    /// Asks the registry whether `credentials` are good, storing nothing
    /// (the API's `POST /auth`: the client keeps its credentials).
    pub fn check_login(&self, server: &str, credentials: &Credentials) -> Result<String> {
        let host = normalize_server(server)?;
        let config = self.registries_config()?;
        block_on(async {
            let registry = Registry::connect(&host, &config, Some(credentials.clone())).await?;
            Ok(registry.check_login().await?)
        })?;
        Ok(host)
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
