//! Reading an image archive (`docker save` output, legacy or Docker 25+, or an
//! OCI layout tar) from a stream.
//!
//! The stream is read once: every regular file goes into a content-store ingest
//! (hashed on the way) under a name of ours, never under the archive's name, so
//! nothing in the archive chooses a path on disk. Archive names are only keys;
//! symlinks between them (legacy archives dedupe layers that way) are resolved
//! as strings within the archive and may not point outside it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};

use crate::compression;
use crate::content::{ContentStore, Ingested};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::owner::ProcessToken;

/// A regular file of the archive, ingested but not committed.
pub struct ArchiveFile {
    pub ingested: Ingested,
}

/// Everything an archive held, by cleaned name.
#[derive(Default)]
pub struct ArchiveContents {
    files: HashMap<String, ArchiveFile>,
    links: HashMap<String, String>,
}

/// The piece an archive's file is copied into the store in.
const COPY_BUFFER: usize = 256 * 1024;

/// Cap on documents (manifest.json, index.json, configs) read into memory.
pub const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

impl ArchiveContents {
    /// Reads the archive stream, ingesting every regular file.
    pub fn read(
        reader: impl Read,
        store: &ContentStore,
        owner: &ProcessToken,
    ) -> Result<ArchiveContents> {
        let (_, decompressed) = compression::decompress(reader)
            .map_err(|e| Error::Invalid(format!("cannot read archive: {e}")))?;
        let mut archive = tar::Archive::new(decompressed);
        let mut contents = ArchiveContents::default();
        let entries = archive.entries().map_err(|e| archive_error(&e, None))?;
        let mut last: Option<String> = None;
        let mut buf = vec![0u8; COPY_BUFFER];
        for entry in entries {
            let mut entry = entry.map_err(|e| archive_error(&e, last.as_deref()))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = clean(&raw) else {
                // A name that escapes cannot be referred to by a clean path: skip it.
                last = Some(raw);
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut ingest = store.ingest(owner)?;
                    // Read and write apart: a full disk is the store's
                    // fault, not a corrupt archive.
                    loop {
                        let n = match entry.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(archive_error(&e, Some(&raw))),
                        };
                        ingest.write_all(&buf[..n]).ctx("write", ingest.path())?;
                    }
                    let ingested = ingest.finish()?;
                    contents.links.remove(&name);
                    contents.files.insert(name, ArchiveFile { ingested });
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let base = if entry.header().entry_type() == tar::EntryType::Symlink {
                        name.rsplit_once('/')
                            .map(|(dir, _)| dir.to_string())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    };
                    contents.files.remove(&name);
                    contents.links.insert(name, join(&base, &target));
                }
                _ => {}
            }
            last = Some(raw);
        }
        Ok(contents)
    }

    /// Finds a file by the name a manifest uses, following in-archive links.
    /// `field` names the manifest field for the error message.
    pub fn lookup(&self, name: &str, field: &str) -> Result<&ArchiveFile> {
        let mut key = clean(name).ok_or_else(|| {
            Error::Invalid(format!("{field} {name:?}: path points outside the archive"))
        })?;
        for _ in 0..16 {
            if let Some(file) = self.files.get(&key) {
                return Ok(file);
            }
            match self.links.get(&key) {
                Some(target) => {
                    key = clean(target).ok_or_else(|| {
                        Error::Invalid(format!(
                            "{field} {name:?}: link to {target:?} points outside the archive"
                        ))
                    })?;
                }
                None => {
                    return Err(Error::Invalid(format!(
                        "{field} {name:?}: no such file in the archive"
                    )));
                }
            }
        }
        Err(Error::Invalid(format!(
            "{field} {name:?}: too many levels of links"
        )))
    }

    pub fn has(&self, name: &str) -> bool {
        clean(name).is_some_and(|k| self.files.contains_key(&k) || self.links.contains_key(&k))
    }

    /// Reads a small document (JSON) whole.
    pub fn read_document(&self, name: &str, field: &str) -> Result<(Digest, Vec<u8>)> {
        let file = self.lookup(name, field)?;
        let ingested = &file.ingested;
        if ingested.size() > MAX_DOCUMENT_BYTES {
            return Err(Error::Invalid(format!(
                "{field} {name:?}: {} bytes is larger than the {MAX_DOCUMENT_BYTES}-byte limit for documents",
                ingested.size()
            )));
        }
        let data = fs::read(ingested.path()).ctx("read", ingested.path())?;
        Ok((ingested.digest().clone(), data))
    }

    /// Takes a file out (to commit it), if no other name still needs it.
    pub fn take(&mut self, name: &str) -> Option<ArchiveFile> {
        let key = clean(name)?;
        self.files.remove(&key)
    }

    /// The cleaned name a lookup ends at (for taking the file later).
    pub fn resolve_name(&self, name: &str) -> Option<String> {
        let mut key = clean(name)?;
        for _ in 0..16 {
            if self.files.contains_key(&key) {
                return Some(key);
            }
            key = clean(self.links.get(&key)?)?;
        }
        None
    }
}

fn archive_error(err: &io::Error, entry: Option<&str>) -> Error {
    let what = if err.kind() == io::ErrorKind::UnexpectedEof || err.to_string().contains("EOF") {
        "truncated archive"
    } else {
        "corrupt archive"
    };
    match entry {
        Some(name) => Error::Invalid(format!("{what}: at entry {name:?}: {err}")),
        None => Error::Invalid(format!("{what}: {err}")),
    }
}

/// Joins a link target to the link's directory (absolute targets are taken
/// from the archive root).
fn join(base: &str, target: &str) -> String {
    if target.starts_with('/') || base.is_empty() {
        target.to_string()
    } else {
        format!("{base}/{target}")
    }
}

/// Cleans an archive name: drops `.` and empty components, applies `..`, and
/// returns `None` if it climbs above the archive root or is absolute.
pub fn clean(name: &str) -> Option<String> {
    if name.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_keeps_names_inside_the_archive() {
        assert_eq!(clean("./manifest.json").as_deref(), Some("manifest.json"));
        assert_eq!(clean("a/../b/layer.tar").as_deref(), Some("b/layer.tar"));
        assert_eq!(clean("../etc/passwd"), None);
        assert_eq!(clean("a/../../x"), None);
        assert_eq!(clean("/etc/passwd"), None);
        assert_eq!(clean("."), None);
    }
}
