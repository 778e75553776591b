//! berth-image: everything about images that needs no registry and no running
//! container: references and platforms, digests, the content store, image-spec
//! documents, layer unpack into snapshot directories, and image archives
//! (docker-archive and OCI layout) in both directions.
//!
//! Mechanism only: no database and no policy. The engine decides what is
//! stored and when it becomes visible.

#![forbid(unsafe_code)]

pub mod archive;
pub mod compression;
pub mod content;
pub mod diff;
pub mod digest;
pub mod error;
pub mod owner;
pub mod platform;
pub mod rawtar;
pub mod reference;
pub mod spec;
pub mod unpack;

pub use digest::Digest;
pub use error::{Error, Result};
pub use reference::Reference;
