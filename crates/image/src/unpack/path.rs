//! What a tar entry's name means: a path in the layer, a whiteout, an opaque
//! marker, or the layer root.
//!
//! These checks exist to give clear errors that name the entry; they are not
//! what keeps extraction inside the layer. The kernel does that (see
//! `confined.rs`): even a name that slipped past these checks could not
//! resolve outside the root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Linux's PATH_MAX: no longer name can be created with one system call.
pub const MAX_PATH_BYTES: usize = 4096;
/// Linux's NAME_MAX for one component.
pub const MAX_COMPONENT_BYTES: usize = 255;

pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";

/// A cleaned relative path: components joined by `/`, no `.` or `..`, never
/// empty (the root is [`Target::Root`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelPath(pub Vec<u8>);

impl RelPath {
    /// The directory part (`b""` for top-level entries) and the last component.
    pub fn split_parent(&self) -> (&[u8], &[u8]) {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => (&self.0[..i], &self.0[i + 1..]),
            None => (&[], &self.0),
        }
    }
    pub fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(&self.0)
    }
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `.` or `./`: the layer root itself.
    Root,
    /// An ordinary path.
    Path(RelPath),
    /// `dir/.wh.name`: `name` is deleted in this layer.
    Whiteout { parent: Vec<u8>, name: Vec<u8> },
    /// `dir/.wh..wh..opq`: `dir` hides everything below it in lower layers.
    Opaque { dir: Vec<u8> },
    /// Other `.wh..wh.*` AUFS metadata, which Docker ignores too.
    Ignored,
}

/// Classifies a raw entry name. The error says what is wrong; the caller adds
/// the entry name.
pub fn classify(raw: &[u8]) -> Result<Target, String> {
    let components = clean(raw)?;
    let Some((last, parents)) = components.split_last() else {
        return Ok(Target::Root);
    };
    if let Some(bad) = parents.iter().find(|c| c.starts_with(WHITEOUT_PREFIX)) {
        return Err(format!(
            "whiteout {:?} cannot have entries below it",
            String::from_utf8_lossy(bad)
        ));
    }
    let parent = parents.join(&b'/');
    if *last == OPAQUE_MARKER {
        return Ok(Target::Opaque { dir: parent });
    }
    if last.starts_with(WHITEOUT_META_PREFIX) {
        return Ok(Target::Ignored);
    }
    if let Some(name) = last.strip_prefix(WHITEOUT_PREFIX) {
        if name.is_empty() || name == b"." || name == b".." {
            return Err(format!(
                "invalid whiteout: {:?} names no file (\".wh.\" must be followed by a file name)",
                String::from_utf8_lossy(last)
            ));
        }
        return Ok(Target::Whiteout {
            parent,
            name: name.to_vec(),
        });
    }
    Ok(Target::Path(RelPath(components.join(&b'/'))))
}

/// Cleans a link target of a hard link (relative to the layer root).
pub fn hardlink_target(raw: &[u8]) -> Result<RelPath, String> {
    match classify(raw)? {
        Target::Path(p) => Ok(p),
        Target::Root => Err("hard link to the layer root".into()),
        _ => Err("hard link to a whiteout".into()),
    }
}

/// Splits a name into components, refusing what cannot be a path inside a
/// layer: absolute names, `..`, NUL bytes, over-long names.
fn clean(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(format!(
            "name is {} bytes long; the limit is {MAX_PATH_BYTES}",
            raw.len()
        ));
    }
    if raw.contains(&0) {
        return Err("name contains a NUL byte".into());
    }
    if raw.first() == Some(&b'/') {
        return Err("absolute path (layer entries must be relative to the layer root)".into());
    }
    let mut out = Vec::new();
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => continue,
            b".." => return Err("path contains \"..\" (entries must stay inside the layer)".into()),
            c if c.len() > MAX_COMPONENT_BYTES => {
                return Err(format!(
                    "a path component is {} bytes long; the limit is {MAX_COMPONENT_BYTES}",
                    c.len()
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Target {
        Target::Path(RelPath(s.as_bytes().to_vec()))
    }

    #[test]
    fn classifies_names() {
        assert_eq!(classify(b"."), Ok(Target::Root));
        assert_eq!(classify(b"./"), Ok(Target::Root));
        assert_eq!(classify(b"./bin/sh"), Ok(path("bin/sh")));
        assert_eq!(classify(b"bin//sh/"), Ok(path("bin/sh")));
        assert_eq!(
            classify(b"etc/.wh.passwd"),
            Ok(Target::Whiteout {
                parent: b"etc".to_vec(),
                name: b"passwd".to_vec()
            })
        );
        assert_eq!(
            classify(b".wh.x"),
            Ok(Target::Whiteout {
                parent: vec![],
                name: b"x".to_vec()
            })
        );
        assert_eq!(
            classify(b"a/b/.wh..wh..opq"),
            Ok(Target::Opaque {
                dir: b"a/b".to_vec()
            })
        );
        assert_eq!(classify(b"a/.wh..wh.plnk"), Ok(Target::Ignored));
    }

    #[test]
    fn refuses_escapes_and_malformed_whiteouts() {
        for bad in [
            &b"../etc/passwd"[..],
            b"a/../../etc",
            b"/etc/passwd",
            b"a/.wh.",
            b".wh..",
            b".wh...",
            b"a/.wh.b/c",
            b"a\0b",
        ] {
            assert!(
                classify(bad).is_err(),
                "{:?} must be refused",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b'a'; 5000];
        assert!(
            classify(&long)
                .expect_err("too long")
                .contains("5000 bytes")
        );
        let long_component = vec![b'a'; 256];
        assert!(classify(&long_component).is_err());
        assert!(hardlink_target(b"../outside").is_err());
        assert!(hardlink_target(b".").is_err());
    }
}
