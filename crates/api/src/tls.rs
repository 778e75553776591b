//! TLS for `-H tcp://`: the daemon's certificate and key, and client
//! certificates verified against a CA (Docker's `--tlsverify`). Whoever
//! reaches the API is root on the host, so a TCP listener without client
//! verification is not offered at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// The three PEM files of `--tlscacert`, `--tlscert` and `--tlskey`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// CA whose signature a client's certificate must carry.
    pub ca: PathBuf,
    /// The daemon's certificate (chain).
    pub cert: PathBuf,
    /// The daemon's private key.
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {path}: {source}")]
    Read {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{flag} {path}: not PEM: {reason}")]
    Pem {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{flag} {path}: no {what} in the file")]
    Empty {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("--tlscacert {path}: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("--tlscert {cert} with --tlskey {key}: {reason}")]
    BadPair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(flag, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            flag,
            path: path.to_path_buf(),
            what: "CERTIFICATE",
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("--tlskey", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            flag: "--tlskey",
            path: path.to_path_buf(),
            what: "PRIVATE KEY",
        },
        e => TlsError::Pem {
            flag: "--tlskey",
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })
}

/// A TLS acceptor that requires a client certificate signed by `files.ca`.
/// The ring provider is named explicitly: it is the one the workspace
/// builds (no process-wide default is installed).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in certificates("--tlscacert", &files.ca)? {
        roots.add(ca).map_err(|e| TlsError::BadCa {
            path: files.ca.clone(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::BadCa {
            path: files.ca.clone(),
            reason: e.to_string(),
        })?;
    let chain = certificates("--tlscert", &files.cert)?;
    let key = private_key(&files.key)?;
    let bad_pair = |e: rustls::Error| TlsError::BadPair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: e.to_string(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(bad_pair)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(bad_pair)?;
    // The API is HTTP/1.1 only (hijacked attach and exec need it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
