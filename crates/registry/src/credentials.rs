//! Credentials in Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): read what `docker login` wrote, write what it
//! would, and use credential helpers (`docker-credential-NAME`) when the file
//! names one for a registry (`credHelpers`) or for all (`credsStore`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Docker Hub's key in `auths` (a legacy URL, kept for compatibility).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in a debug dump.
        write!(f, "Credentials({:?}, ***)", self.username)
    }
}

/// A Docker client configuration file.
pub struct DockerConfig {
    path: PathBuf,
}

impl DockerConfig {
    /// Docker's own location: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub fn default_location() -> DockerConfig {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .unwrap_or_else(|| PathBuf::from("/root/.docker"));
        DockerConfig::at(dir.join("config.json"))
    }

    pub fn at(path: PathBuf) -> DockerConfig {
        DockerConfig { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored credentials for `host` (`docker.io` for Docker Hub).
    pub fn get(&self, host: &str) -> Result<Option<Credentials>> {
        let doc = self.read()?;
        if let Some(helper) = helper_for(&doc, host) {
            return helper_get(&helper, &server_key(host));
        }
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        for key in keys_for(host) {
            if let Some(entry) = auths.get(&key) {
                return self.decode_entry(&key, entry);
            }
        }
        Ok(None)
    }

    /// Stores credentials for `host` (in its helper when one is configured).
    pub fn store(&self, host: &str, credentials: &Credentials) -> Result<()> {
        let mut doc = self.read()?;
        let key = server_key(host);
        let encoded = match helper_for(&doc, host) {
            Some(helper) => {
                helper_run(
                    &helper,
                    "store",
                    &json!({"ServerURL": key, "Username": credentials.username, "Secret": credentials.secret})
                        .to_string(),
                )?;
                // Docker records the registry with an empty entry so that
                // `docker info`-style listings still know about it.
                json!({})
            }
            None => json!({
                "auth": STANDARD.encode(format!("{}:{}", credentials.username, credentials.secret))
            }),
        };
        auths_mut(&mut doc).insert(key, encoded);
        self.write(&doc)
    }

    /// Removes the credentials for `host`; false when there were none.
    pub fn erase(&self, host: &str) -> Result<bool> {
        let mut doc = self.read()?;
        let key = server_key(host);
        let mut removed = false;
        if let Some(helper) = helper_for(&doc, host) {
            removed = helper_run(&helper, "erase", &key).is_ok();
        }
        let auths = auths_mut(&mut doc);
        for k in keys_for(host) {
            removed |= auths.remove(&k).is_some();
        }
        if removed {
            self.write(&doc)?;
        }
        Ok(removed)
    }

    fn read(&self) -> Result<Value> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid_argument(format!("credentials file {}: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
            Err(e) => Err(Error::invalid_argument(format!(
                "read credentials file {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Writes the whole document back (other keys untouched), atomically and
    /// readable by the owner only: it holds secrets.
    fn write(&self, doc: &Value) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let fail = |e: std::io::Error| {
            Error::invalid_argument(format!(
                "write credentials file {}: {e}",
                self.path.display()
            ))
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let tmp = dir.join(format!(".config.json.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        let text = serde_json::to_string_pretty(doc).unwrap_or_default();
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }

    fn decode_entry(&self, key: &str, entry: &Value) -> Result<Option<Credentials>> {
        let bad = |why: &str| {
            Error::invalid_argument(format!(
                "credentials file {}: auths[{key:?}]: {why}",
                self.path.display()
            ))
        };
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some(Credentials {
                username: u.to_string(),
                secret: p.to_string(),
            }));
        }
        let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
            return Ok(None);
        };
        if auth.is_empty() {
            return Ok(None);
        }
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("\"auth\" is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("\"auth\" is not UTF-8"))?;
        let (u, p) = text
            .split_once(':')
            .ok_or_else(|| bad("\"auth\" is not user:password"))?;
        Ok(Some(Credentials {
            username: u.to_string(),
            secret: p.to_string(),
        }))
    }
}

/// The key `docker login` uses for `host`.
pub fn server_key(host: &str) -> String {
    if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// Every spelling of `host` found in config files written by docker over the years.
fn keys_for(host: &str) -> Vec<String> {
    let key = server_key(host);
    if key == DOCKER_HUB_KEY {
        return vec![key, "index.docker.io".into(), "docker.io".into()];
    }
    vec![
        key.clone(),
        format!("https://{key}"),
        format!("http://{key}"),
        format!("https://{key}/v1/"),
        format!("https://{key}/v2/"),
    ]
}

fn helper_for(doc: &Value, host: &str) -> Option<String> {
    let key = server_key(host);
    doc.get("credHelpers")
        .and_then(|h| h.get(&key).or_else(|| h.get(host)))
        .and_then(Value::as_str)
        .or_else(|| doc.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn auths_mut(doc: &mut Value) -> &mut Map<String, Value> {
    if !doc.is_object() {
        *doc = json!({});
    }
    let obj = doc.as_object_mut().expect("made an object above");
    let auths = obj.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    auths.as_object_mut().expect("made an object above")
}

fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>> {
    match helper_run(helper, "get", key) {
        Ok(out) => {
            let v: Value = serde_json::from_str(&out).map_err(|e| {
                Error::invalid(format!(
                    "docker-credential-{helper} get {key}: bad answer: {e}"
                ))
            })?;
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Ok(Some(Credentials {
                username: field("Username"),
                secret: field("Secret"),
            }))
        }
        Err(e) if e.message.contains("credentials not found") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `docker-credential-HELPER VERB` with `input` on stdin (the helper protocol).
fn helper_run(helper: &str, verb: &str, input: &str) -> Result<String> {
    let program = format!("docker-credential-{helper}");
    let fail = |why: String| Error::unauthorized(format!("{program} {verb}: {why}"));
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| fail(format!("write request: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("wait: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(fail(if stdout.is_empty() { stderr } else { stdout }));
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_other_keys_and_reads_docker_spellings() {
        let dir = tempdir();
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}},"psFormat":"x"}"#,
        )
        .unwrap();
        let config = DockerConfig::at(path.clone());
        let hub = config.get("docker.io").unwrap().unwrap();
        assert_eq!((hub.username.as_str(), hub.secret.as_str()), ("u", "p"));
        let creds = Credentials {
            username: "alice".into(),
            secret: "s:e:c".into(),
        };
        config.store("127.0.0.1:5000", &creds).unwrap();
        assert_eq!(config.get("127.0.0.1:5000").unwrap(), Some(creds));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("psFormat"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(config.erase("127.0.0.1:5000").unwrap());
        assert!(!config.erase("127.0.0.1:5000").unwrap());
        assert_eq!(config.get("127.0.0.1:5000").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_auth_field_names_the_file_and_key() {
        let dir = tempdir();
        let path = dir.join("config.json");
        std::fs::write(&path, r#"{"auths":{"reg:1":{"auth":"%%%"}}}"#).unwrap();
        let err = DockerConfig::at(path).get("reg:1").unwrap_err();
        assert!(
            err.message.contains("reg:1") && err.message.contains("base64"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "berth-creds-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
