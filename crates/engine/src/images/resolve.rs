//! Finding an image by what a user typed: a full ID, a tag or digest
//! reference, or any unique ID prefix, in Docker's order of precedence.

use berth_image::{Digest, Reference};
use rusqlite::Connection;

use crate::error::{Error, Result};

/// How a name matched, which `rmi` needs (untag vs delete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matched {
    /// A tag (`busybox:latest`).
    Tag(Reference),
    /// A repo digest (`busybox@sha256:…`).
    Digest(Reference),
    /// An ID or ID prefix.
    Id,
}

/// Resolves `name` to an image ID.
///
/// Order as in Docker: a full 64-hex ID (with or without `sha256:`), then a
/// reference (tag or digest), then a unique ID prefix.
pub fn resolve(conn: &Connection, name: &str) -> Result<(Digest, Matched)> {
    let bare = name.strip_prefix("sha256:").unwrap_or(name);
    let is_hex = !bare.is_empty()
        && bare.len() <= 64
        && bare.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if is_hex && bare.len() == 64 {
        let id = Digest::from_sha256_hex(bare).map_err(|e| Error::invalid(e.to_string()))?;
        return match super::record::exists(conn, &id)? {
            true => Ok((id, Matched::Id)),
            false => Err(no_such_image(name)),
        };
    }
    let reference = Reference::parse_with_default_tag(name);
    if let Ok(reference) = &reference {
        let (by_digest, matched) = match reference.digest() {
            Some(_) => (true, Matched::Digest(reference.clone())),
            None => (false, Matched::Tag(reference.clone())),
        };
        // A reference with both tag and digest is looked up by digest.
        let key = match reference.digest() {
            Some(d) => {
                Reference::parse_normalized(&format!("{}@{d}", reference.name()))?.to_string()
            }
            None => reference.to_string(),
        };
        let found = super::record::name_target(conn, &key, by_digest)?;
        if let Some(id) = found {
            return Ok((super::record::parse_digest(&id)?, matched));
        }
    }
    if is_hex {
        return by_prefix(conn, bare)?
            .map(|id| (id, Matched::Id))
            .ok_or_else(|| no_such_image(name));
    }
    match reference {
        Ok(r) => Err(no_such_image(&r.familiar_string())),
        Err(e) => Err(e.into()),
    }
}

/// Resolves to an ID only.
pub fn resolve_id(conn: &Connection, name: &str) -> Result<Digest> {
    resolve(conn, name).map(|(id, _)| id)
}

/// The one image whose hex ID starts with `prefix`; an error if several do.
fn by_prefix(conn: &Connection, prefix: &str) -> Result<Option<Digest>> {
    let ids = super::record::ids_with_prefix(conn, &format!("sha256:{prefix}"), 3)?;
    match ids.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(super::record::parse_digest(one)?)),
        several => Err(Error::invalid(format!(
            "image ID prefix {prefix:?} is ambiguous: it matches {}{}; give more digits",
            several
                .iter()
                .take(2)
                .map(|s| &s[7..19])
                .collect::<Vec<_>>()
                .join(", "),
            if several.len() > 2 { " and more" } else { "" }
        ))),
    }
}

pub fn no_such_image(name: &str) -> Error {
    Error::not_found(format!("No such image: {name}")).about(crate::error::Subject::Image)
}
