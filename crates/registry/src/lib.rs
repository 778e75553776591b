//! berth-registry: the OCI distribution client.
//!
//! It knows registries, not images: it yields manifests (bytes, media type,
//! digest of those bytes) and blob byte streams, and pushes the same; the
//! engine parses, verifies layer digests while writing, and stores. Async
//! (tokio + reqwest with rustls); the engine drives it from its own runtime.
#![forbid(unsafe_code)]

mod auth;
pub mod blob;
pub mod challenge;
mod client;
pub mod config;
pub mod credentials;
pub mod digest;
pub mod download;
mod error;
pub mod manifest;
pub mod push;
pub mod search;

pub use blob::BlobStream;
pub use client::Registry;
pub use config::RegistriesConfig;
pub use credentials::{Credentials, DockerConfig};
pub use error::{Error, ErrorKind, Result};
pub use manifest::FetchedManifest;
pub use push::BlobPushed;
/// Request bodies (a streamed blob for push).
pub use reqwest::Body;
