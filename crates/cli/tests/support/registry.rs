//! A real registry for tests: Debian's `docker-registry` (distribution
//! 2.8.2) on 127.0.0.1 with a free port, filesystem storage in its own
//! temp dir, optionally TLS (a throwaway CA from `TestCa`) and htpasswd or
//! token auth (`token_server`). Killed and removed on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::token_server::TokenServerConfig;

/// A throwaway CA, a server certificate it signed for `127.0.0.1` (IP
/// SAN) and `localhost` (DNS SAN), and a client certificate it signed (for
/// servers that verify clients), all PEM.
pub struct TestCa {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "berth test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA cert");

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
        // CertificateParams::new makes IP SANs of what parses as an address.
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "berth test registry");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // webpki-based clients want serverAuth spelled out.
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca).expect("server cert");

        let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("client key");
        let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client
            .distinguished_name
            .push(DnType::CommonName, "berth test client");
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &ca).expect("client cert");
        TestCa {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Writes `certs_dir/HOST/ca.crt`, Docker's per-registry trust layout
    /// (`/etc/docker/certs.d/127.0.0.1:5443/ca.crt`).
    pub fn install_certs_d(&self, certs_dir: &Path, host: &str) {
        let dir = certs_dir.join(host);
        std::fs::create_dir_all(&dir).expect("create certs.d host dir");
        std::fs::write(dir.join("ca.crt"), &self.ca_pem).expect("write ca.crt");
    }
}

pub enum RegistryAuth {
    None,
    /// One user in an htpasswd file (bcrypt), realm `berth-test`.
    Htpasswd {
        user: String,
        password: String,
    },
    /// Bearer tokens from a `token_server::TokenServer`.
    Token(TokenServerConfig),
}

pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    storage: PathBuf,
    port: u16,
    tls: bool,
}

const BINARY: &str = "docker-registry";

impl Registry {
    /// Starts the registry and waits until `GET /v2/` answers. None (after
    /// `skip`) when docker-registry is not installed.
    pub fn start(test: &str, tls: Option<&TestCa>, auth: RegistryAuth) -> Option<Registry> {
        let Some(binary) = find_binary() else {
            super::skip(
                test,
                "docker-registry not installed (apt-get install docker-registry)",
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .expect("registry tempdir");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let mut tls_yaml = String::new();
        if let Some(ca) = tls {
            let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert, &ca.cert_pem).expect("write server.crt");
            std::fs::write(&key, &ca.key_pem).expect("write server.key");
            tls_yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Htpasswd { user, password } => {
                // Cost 4 (the minimum) keeps each request's check fast.
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    path.display()
                )
            }
            RegistryAuth::Token(t) => {
                let bundle = dir.path().join("token-ca.pem");
                std::fs::write(&bundle, &t.rootcertbundle_pem).expect("write rootcertbundle");
                format!(
                    "auth:\n  token:\n    realm: \"{}\"\n    service: \"{}\"\n    issuer: \"{}\"\n    rootcertbundle: {}\n",
                    t.realm,
                    t.service,
                    t.issuer,
                    bundle.display()
                )
            }
        };
        // The port is picked by binding :0 and releasing it, so another
        // process can take it first: retry with a new one when the
        // registry dies saying the address is in use.
        let mut last_log = String::new();
        // Why a token was refused (issuer, audience, expiry, chain) is
        // logged only at info: BERTH_TEST_REGISTRY_LOG=info shows it.
        let level = std::env::var("BERTH_TEST_REGISTRY_LOG")
            .ok()
            .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphabetic()))
            .unwrap_or_else(|| "warn".into());
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\nlog:\n  level: {level}\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: berth-test-secret\n{tls_yaml}{auth_yaml}",
                storage.display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("write registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut cmd = Command::new(&binary);
            cmd.arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log);
            // REGISTRY_* variables override the config file; none may leak in.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("REGISTRY_") {
                    cmd.env_remove(k);
                }
            }
            let mut child = cmd.spawn().expect("spawn docker-registry");
            let host = format!("127.0.0.1:{port}");
            let log_path = dir.path().join("registry.log");
            match wait_ready(&mut child, &host, &log_path, Duration::from_secs(20)) {
                Ok(()) => {
                    return Some(Registry {
                        child,
                        dir,
                        storage,
                        port,
                        tls: tls.is_some(),
                    });
                }
                Err(log) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if !log.contains("address already in use") {
                        panic!("docker-registry did not become ready; its log:\n{log}");
                    }
                    last_log = log;
                }
            }
        }
        panic!("docker-registry found no free port; last log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://` or `https://` and the host.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Filesystem storage root (`docker/registry/v2/...` below it), for
    /// tests that corrupt or inspect what the registry stored.
    pub fn storage_dir(&self) -> &Path {
        &self.storage
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    /// The registry's log so far (stderr and stdout).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /v2/` over plain TCP until any HTTP status comes back. A
/// TLS listener (Go) answers a plaintext request with `400 Bad Request`,
/// which counts: the server is up. Err carries the log.
fn wait_ready(child: &mut Child, host: &str, log: &Path, timeout: Duration) -> Result<(), String> {
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("(exited: {status})\n{}", read_log()));
        }
        if http_status(host).is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("(timed out after {timeout:?})\n{}", read_log()))
}

fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(BINARY))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// The status code of `GET /v2/` over plain HTTP, if anything HTTP answered.
fn http_status(host: &str) -> Option<u16> {
    let addr = host.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    let mut parts = head.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}
