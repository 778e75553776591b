//! Registry settings (berth's `registries.toml`): mirrors for Docker Hub,
//! registries reachable over plain HTTP, where per-registry CA certificates
//! live, and how many layers download at once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistriesConfig {
    /// Base URLs tried, in order, before Docker Hub itself for `docker.io` images.
    pub registry_mirrors: Vec<String>,
    /// Hosts (`host[:port]`) or CIDR ranges allowed over plain HTTP (HTTPS is
    /// tried first). 127.0.0.0/8 and ::1 always are, as in Docker.
    pub insecure_registries: Vec<String>,
    /// Directories holding `HOST[:PORT]/ca.crt` (Docker's certs.d layout).
    pub certs_dirs: Vec<PathBuf>,
    /// Layers downloaded at once.
    pub max_concurrent_downloads: usize,
    /// Seconds a connection may stay silent before it counts as dropped.
    pub read_timeout_secs: u64,
    /// Attempts for a request that fails with a network error or a 5xx/429.
    pub attempts: u32,
    /// Seconds a whole small document (manifest, config, token, tag list)
    /// may take, so a registry trickling an endless body cannot hang a pull.
    pub document_timeout_secs: u64,
}

impl Default for RegistriesConfig {
    fn default() -> Self {
        RegistriesConfig {
            registry_mirrors: Vec::new(),
            insecure_registries: Vec::new(),
            certs_dirs: vec![
                PathBuf::from("/etc/berth/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            max_concurrent_downloads: 3,
            read_timeout_secs: 30,
            attempts: 4,
            document_timeout_secs: 60,
        }
    }
}

impl RegistriesConfig {
    /// Reads a TOML file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<RegistriesConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistriesConfig::default());
            }
            Err(e) => {
                return Err(Error::invalid_argument(format!(
                    "read registry settings {}: {e}",
                    path.display()
                )));
            }
        };
        let config: RegistriesConfig = toml::from_str(&text).map_err(|e| {
            Error::invalid_argument(format!("registry settings {}: {e}", path.display()))
        })?;
        if config.max_concurrent_downloads == 0 || config.attempts == 0 {
            return Err(Error::invalid_argument(format!(
                "registry settings {}: max_concurrent_downloads and attempts must be at least 1",
                path.display()
            )));
        }
        for mirror in &config.registry_mirrors {
            if !(mirror.starts_with("https://") || mirror.starts_with("http://")) {
                return Err(Error::invalid_argument(format!(
                    "registry settings {}: mirror {mirror:?} is not an http(s) URL",
                    path.display()
                )));
            }
        }
        Ok(config)
    }

    /// Whether `host` (`name[:port]`) may be reached over plain HTTP.
    pub fn is_insecure(&self, host: &str) -> bool {
        let name = host_name(host);
        if name == "localhost" {
            return true;
        }
        let ip: Option<IpAddr> = name.trim_matches(['[', ']']).parse().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure_registries.iter().any(|entry| {
            entry == host || entry == name || ip.is_some_and(|ip| cidr_contains(entry, ip))
        })
    }
}

/// The host name of `host[:port]` (IPv6 literals keep their brackets).
pub fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[');
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_hosts_are_insecure() {
        let mut c = RegistriesConfig::default();
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert!(c.is_insecure("127.9.9.9"));
        assert!(c.is_insecure("localhost:5000"));
        assert!(c.is_insecure("[::1]:5000"));
        assert!(!c.is_insecure("10.1.2.3:5000"));
        assert!(!c.is_insecure("registry.example:5000"));
        c.insecure_registries = vec!["10.0.0.0/8".into(), "registry.example:5000".into()];
        assert!(c.is_insecure("10.1.2.3:5000"));
        assert!(c.is_insecure("registry.example:5000"));
        assert!(!c.is_insecure("registry.example:5001"));
    }

    #[test]
    fn settings_file_is_checked() {
        let dir = std::env::temp_dir().join(format!("berth-regcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("registries.toml");
        std::fs::write(&path, "registry_mirrors = [\"ftp://x\"]\n").unwrap();
        assert!(
            RegistriesConfig::load(&path)
                .unwrap_err()
                .message
                .contains("ftp://x")
        );
        std::fs::write(&path, "max_concurrent_downloads = 5\nbogus = 1\n").unwrap();
        assert!(
            RegistriesConfig::load(&path)
                .unwrap_err()
                .message
                .contains("bogus")
        );
        std::fs::write(&path, "max_concurrent_downloads = 5\n").unwrap();
        assert_eq!(
            RegistriesConfig::load(&path)
                .unwrap()
                .max_concurrent_downloads,
            5
        );
        assert_eq!(
            RegistriesConfig::load(&dir.join("none")).unwrap().attempts,
            4
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
