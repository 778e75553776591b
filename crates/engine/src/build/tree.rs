//! A tree COPY reads from: the build context (with its `.dockerignore`)
//! or another stage's root (`COPY --from`), open as a directory fd. Every
//! path is resolved by the kernel inside the tree (`RESOLVE_IN_ROOT`), so
//! neither a symlink nor `..` ever leads out of it; walks open each entry
//! relative to its parent without following links.
//!
//! Sources are found as Docker finds them (a path, or a pattern with `*`,
//! `?`, `[…]` matched element by element), and hashed by content and
//! metadata (never mtimes) for the cache key.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_image::digest::Hasher;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::ignore::{Ignore, element_matches};
use crate::error::{Error, Result};

pub struct Tree {
    pub root: OwnedFd,
    /// What errors call it ("the build context", "stage build").
    pub name: String,
    /// The context's `.dockerignore` and COPY's `--exclude` patterns.
    pub ignore: Ignore,
    /// Remembered file digests (the context's).
    pub digests: Option<std::sync::Arc<super::digest_cache::DigestCache>>,
}

/// One source a COPY names: its path in the tree (`""` is the root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub rel: String,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

impl Tree {
    pub fn open(dir: &Path, name: &str, ignore: Ignore) -> Result<Tree> {
        let root = rustix::fs::open(dir, DIR_FLAGS, Mode::empty())
            .map_err(|e| Error::invalid(format!("open {name} {}: {e}", dir.display())))?;
        Ok(Tree {
            root,
            name: name.to_string(),
            ignore,
            digests: None,
        })
    }

    pub fn from_fd(root: OwnedFd, name: &str) -> Tree {
        Tree {
            root,
            name: name.to_string(),
            ignore: Ignore::default(),
            digests: None,
        }
    }

    /// Another handle on the same tree (its own fd: a step may change
    /// its ignore patterns).
    pub fn try_clone(&self) -> Result<Tree> {
        let root = rustix::io::fcntl_dupfd_cloexec(&self.root, 3)
            .map_err(|e| Error::internal(format!("dup: {e}")))?;
        Ok(Tree {
            root,
            name: self.name.clone(),
            ignore: self.ignore.clone(),
            digests: self.digests.clone(),
        })
    }

    /// Opens `rel` inside the tree, following symlinks inside it.
    pub fn open_in(&self, rel: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
        let path = if rel.is_empty() { "." } else { rel };
        rustix::fs::openat2(
            &self.root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The sources a COPY's source words name, in order. A word with no
    /// wildcard must exist (and not be excluded); a pattern must match
    /// something.
    pub fn sources(&self, word: &str) -> Result<Vec<Source>> {
        let cleaned = clean_source(word)?;
        if !has_wildcard(&cleaned) {
            let found = self.open_in(&cleaned, OFlags::PATH).is_ok();
            if !found || (!cleaned.is_empty() && self.ignore.excludes(&cleaned)) {
                return Err(Error::not_found(format!(
                    "failed to compute cache key: \"/{cleaned}\": not found"
                )));
            }
            return Ok(vec![Source { rel: cleaned }]);
        }
        let elements: Vec<&str> = cleaned.split('/').collect();
        let mut found = Vec::new();
        self.glob("", &elements, &mut found)?;
        found.retain(|s| !self.ignore.excludes(&s.rel));
        if found.is_empty() {
            return Err(Error::not_found(format!(
                "failed to compute cache key: no source files were specified by \"{word}\""
            )));
        }
        Ok(found)
    }

    fn glob(&self, dir: &str, pattern: &[&str], out: &mut Vec<Source>) -> Result<()> {
        let Some((first, rest)) = pattern.split_first() else {
            out.push(Source {
                rel: dir.to_string(),
            });
            return Ok(());
        };
        let join = |name: &str| {
            if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            }
        };
        if !has_wildcard(first) {
            let next = join(first);
            if self.open_in(&next, OFlags::PATH).is_ok() {
                self.glob(&next, rest, out)?;
            }
            return Ok(());
        }
        let Ok(fd) = self.open_in(dir, OFlags::RDONLY | OFlags::DIRECTORY) else {
            return Ok(());
        };
        let mut names = list(&fd, &self.name)?;
        names.sort();
        for name in names {
            if element_matches(first, &name) {
                self.glob(&join(&name), rest, out)?;
            }
        }
        Ok(())
    }

    /// Adds every file under `source` (not excluded) to `hasher`: paths
    /// relative to the source, types, modes, sizes, contents and link
    /// targets, in name order.
    pub fn hash(&self, source: &Source, hasher: &mut Hasher) -> Result<()> {
        // A source that is a symlink is followed (Docker copies its target).
        let fd = self
            .open_in(&source.rel, OFlags::RDONLY)
            .map_err(|e| self.error("open", &source.rel, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| self.error("stat", &source.rel, e))?;
        hasher.update(b"\0source\0");
        hasher.update(source.rel.as_bytes());
        self.hash_entry(fd.as_fd(), &st, &source.rel, "", hasher)
    }

    fn hash_entry(
        &self,
        fd: BorrowedFd<'_>,
        st: &rustix::fs::Stat,
        rel: &str,
        shown: &str,
        hasher: &mut Hasher,
    ) -> Result<()> {
        let kind = FileType::from_raw_mode(st.st_mode);
        hasher.update(format!("\0{shown}\0{:?}\0{:o}\0", kind, st.st_mode & 0o7777).as_bytes());
        match kind {
            FileType::RegularFile => {
                hasher.update(&(st.st_size as u64).to_le_bytes());
                let digest = self.file_digest(rel, st, || {
                    rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| self.error("dup", rel, e))
                })?;
                hasher.update(digest.as_bytes());
            }
            FileType::Directory => {
                let mut names = list(&fd, &self.name)?;
                names.sort();
                if !shown.is_empty() {
                    for name in &names {
                        self.hash_child(fd, name, rel, shown, hasher)?;
                    }
                    return Ok(());
                }
                // The source's own entries: each hashed on its own, on two
                // threads (thousands of stat calls on an unchanged
                // rebuild's critical path), then their digests in order;
                // an excluded entry adds nothing.
                let digests = |names: &[String]| -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    for name in names {
                        let mut own = Hasher::new();
                        if self.hash_child(fd, name, rel, shown, &mut own)? {
                            out.push(own.finish().to_string());
                        }
                    }
                    Ok(out)
                };
                let (mine, theirs) = if names.len() < 8 {
                    (digests(&names)?, Vec::new())
                } else {
                    on_two_threads(&names, digests)?
                };
                for digest in mine.iter().chain(theirs.iter()) {
                    hasher.update(b"\0entry\0");
                    hasher.update(digest.as_bytes());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// One entry `name` of the directory `fd` (at `rel`, shown as `shown`
    /// below the source); whether it added anything (an excluded one does
    /// not).
    fn hash_child(
        &self,
        fd: BorrowedFd<'_>,
        name: &str,
        rel: &str,
        shown: &str,
        hasher: &mut Hasher,
    ) -> Result<bool> {
        let child_rel = join(rel, name);
        // An excluded directory is walked only when an exception may bring
        // back something inside it.
        if self.ignore.excludes(&child_rel) && !self.ignore.may_include_below(&child_rel) {
            return Ok(false);
        }
        let child_st = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.error("stat", &child_rel, e))?;
        let child_shown = join(shown, name);
        match FileType::from_raw_mode(child_st.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(fd, name, Vec::new())
                    .map_err(|e| self.error("read link", &child_rel, e))?;
                if self.ignore.excludes(&child_rel) {
                    return Ok(false);
                }
                hasher.update(format!("\0{child_shown}\0link\0").as_bytes());
                hasher.update(target.as_bytes());
            }
            FileType::RegularFile => {
                if self.ignore.excludes(&child_rel) {
                    return Ok(false);
                }
                hasher.update(
                    format!("\0{child_shown}\0file\0{:o}\0", child_st.st_mode & 0o7777).as_bytes(),
                );
                hasher.update(&(child_st.st_size as u64).to_le_bytes());
                // Opened only when no remembered digest holds.
                let digest = self.file_digest(&child_rel, &child_st, || {
                    rustix::fs::openat(
                        fd,
                        name,
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| self.error("open", &child_rel, e))
                })?;
                hasher.update(digest.as_bytes());
            }
            FileType::Directory => {
                let child = open_dir(fd, name).map_err(|e| self.error("open", &child_rel, e))?;
                self.hash_entry(child.as_fd(), &child_st, &child_rel, &child_shown, hasher)?;
            }
            other => {
                hasher.update(format!("\0{child_shown}\0{other:?}\0").as_bytes());
            }
        }
        Ok(true)
    }

    /// A regular file's content digest: remembered, or read (with `open`).
    fn file_digest(
        &self,
        rel: &str,
        st: &rustix::fs::Stat,
        open: impl FnOnce() -> Result<OwnedFd>,
    ) -> Result<String> {
        let key = super::digest_cache::FileKey::of(st);
        if let Some(d) = self.digests.as_ref().and_then(|c| c.get(rel, key)) {
            return Ok(d);
        }
        let mut file = std::fs::File::from(open()?);
        let mut h = Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)
                .map_err(|e| Error::internal(format!("read {}: {rel}: {e}", self.name)))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest = h.finish().hex().to_string();
        if let Some(c) = &self.digests {
            c.put(rel, key, digest.clone());
        }
        Ok(digest)
    }

    pub fn error(&self, op: &str, rel: &str, e: rustix::io::Errno) -> Error {
        Error::invalid(format!("{op} {rel:?} in {}: {e}", self.name))
    }
}

pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The names in a directory, `.` and `..` left out.
/// A directory `name` in `dir`, never through a symlink.
pub fn open_dir(dir: impl AsFd, name: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// `f` over the two halves of `names`, the second on another thread:
/// a build's walks of thousands of entries are system calls on its
/// critical path while the other core idles. The two results in order.
pub fn on_two_threads<T: Send>(
    names: &[String],
    f: impl Fn(&[String]) -> Result<T> + Sync,
) -> Result<(T, T)> {
    let (first, second) = names.split_at(names.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| f(second));
        let mine = f(first);
        let theirs = other
            .join()
            .unwrap_or_else(|_| Err(Error::internal("build: a worker thread panicked")));
        Ok((mine?, theirs?))
    })
}

pub fn list(dir: &impl AsFd, what: &str) -> Result<Vec<String>> {
    let fd = rustix::fs::openat(dir, ".", DIR_FLAGS, Mode::empty())
        .map_err(|e| Error::internal(format!("list a directory of {what}: {e}")))?;
    let mut out = Vec::new();
    let reader = rustix::fs::Dir::read_from(&fd)
        .map_err(|e| Error::internal(format!("list a directory of {what}: {e}")))?;
    for entry in reader {
        let entry =
            entry.map_err(|e| Error::internal(format!("list a directory of {what}: {e}")))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        out.push(OsStr::from_bytes(name).to_string_lossy().into_owned());
    }
    Ok(out)
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A COPY source as a path in the tree: `.` and empty elements dropped; a
/// `..` that climbs above the root is refused as the classic builder
/// refuses it (BuildKit would quietly stay inside).
pub fn clean_source(word: &str) -> Result<String> {
    let mut out: Vec<&str> = Vec::new();
    for e in word.split('/') {
        match e {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Error::invalid(format!(
                        "forbidden path outside the build context: {word}"
                    )));
                }
            }
            other => out.push(other),
        }
    }
    Ok(out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_inside_and_patterns_match() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src/sub")).unwrap();
        std::fs::write(d.join("src/a.rs"), "a").unwrap();
        std::fs::write(d.join("src/b.rs"), "b").unwrap();
        std::fs::write(d.join("src/sub/c.rs"), "c").unwrap();
        std::fs::write(d.join("notes.txt"), "n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("escape")).unwrap();
        let tree = Tree::open(d, "the build context", Ignore::parse("notes.txt\n")).unwrap();
        let rels = |w: &str| -> Vec<String> {
            tree.sources(w)
                .unwrap()
                .into_iter()
                .map(|s| s.rel)
                .collect()
        };
        assert_eq!(rels("src/*.rs"), ["src/a.rs", "src/b.rs"]);
        assert_eq!(rels("./src/../src/sub"), ["src/sub"]);
        assert_eq!(rels("."), [""]);
        assert!(tree.sources("notes.txt").is_err(), "excluded");
        assert!(tree.sources("../x").is_err());
        // The link resolves inside the context, where there is no etc/passwd.
        assert!(tree.sources("escape").is_err());
        assert!(tree.open_in("escape", OFlags::RDONLY).is_err());

        let digest = |t: &Tree| {
            let mut h = Hasher::new();
            t.hash(&Source { rel: "src".into() }, &mut h).unwrap();
            h.finish()
        };
        let before = digest(&tree);
        // mtimes do not count, contents do.
        std::fs::File::options()
            .write(true)
            .open(d.join("src/a.rs"))
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(digest(&tree), before);
        std::fs::write(d.join("src/sub/c.rs"), "changed").unwrap();
        assert_ne!(digest(&tree), before);
    }
}
