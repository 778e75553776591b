//! Content digests of a context's files, remembered between builds by
//! what identifies a file's content without reading it: its inode, size,
//! mtime and ctime (a write changes the ctime, which no one can set back).
//! An unchanged rebuild then stats the context instead of reading it; a
//! touched file (new mtime, same content) is read again and hashes the
//! same. Kept per context directory in `<root>/build-context-digests/`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What must be unchanged for a remembered digest to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileKey {
    pub ino: u64,
    pub size: i64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileKey {
    pub fn of(st: &rustix::fs::Stat) -> FileKey {
        FileKey {
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime, st.st_ctime_nsec as i64),
        }
    }
}

pub struct DigestCache {
    file: PathBuf,
    entries: Mutex<HashMap<String, (FileKey, String)>>,
    changed: AtomicBool,
}

impl DigestCache {
    /// The cache of the context `context` in `dir` (empty if none yet).
    pub fn load(dir: &Path, context: &Path) -> DigestCache {
        let name = berth_image::Digest::of(context.as_os_str().as_encoded_bytes());
        let file = dir.join(name.hex());
        let mut entries = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&file) {
            for line in text.lines() {
                let mut f = line.splitn(8, ' ');
                let mut num = || f.next().and_then(|v| v.parse::<i64>().ok());
                let (Some(ino), Some(size), Some(ms), Some(mn), Some(cs), Some(cn)) =
                    (num(), num(), num(), num(), num(), num())
                else {
                    continue;
                };
                let (Some(digest), Some(rel)) = (f.next(), f.next()) else {
                    continue;
                };
                let key = FileKey {
                    ino: ino as u64,
                    size,
                    mtime: (ms, mn),
                    ctime: (cs, cn),
                };
                entries.insert(rel.to_string(), (key, digest.to_string()));
            }
        }
        DigestCache {
            file,
            entries: Mutex::new(entries),
            changed: AtomicBool::new(false),
        }
    }

    pub fn get(&self, rel: &str, key: FileKey) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(rel)
            .filter(|(k, _)| *k == key)
            .map(|(_, d)| d.clone())
    }

    pub fn put(&self, rel: &str, key: FileKey, digest: String) {
        // A name with a newline cannot be written as a line: not kept.
        if rel.contains('\n') {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(rel.to_string(), (key, digest));
        self.changed.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back (atomically) if it learnt anything.
    pub fn save(&self) {
        if !self.changed.load(Ordering::Relaxed) {
            return;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::with_capacity(entries.len() * 120);
        for (rel, (k, d)) in entries.iter() {
            // Into the one buffer: thousands of lines, no allocation each.
            let _ = writeln!(
                text,
                "{} {} {} {} {} {} {d} {rel}",
                k.ino, k.size, k.mtime.0, k.mtime.1, k.ctime.0, k.ctime.1
            );
        }
        let Some(dir) = self.file.parent() else {
            return;
        };
        let _ = std::fs::create_dir_all(dir);
        // Only a speed-up: a failure to keep it costs a re-read next time.
        let tmp = self
            .file
            .with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &self.file);
        }
    }
}
