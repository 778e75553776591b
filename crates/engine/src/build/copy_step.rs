//! COPY, ADD and WORKDIR's directory: files written into a snapshot
//! prepared on the stage's layers and mounted nowhere, then committed as a
//! layer; no container runs. The cache key is the parent's, the step's
//! flags and destination, and the content digest of every file it copies
//! (contents, modes, link targets; never the context's mtimes).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use berth_dockerfile::instruction::Flag;
use berth_dockerfile::lines::Heredoc;
use berth_image::compression::Compression;
use berth_image::digest::Hasher;

use super::copy::{self, Options};
use super::ignore::Ignore;
use super::plan::flag;
use super::stage::{State, clean_abs};
use super::tree::{Source, Tree};
use super::{Build, BuildEvent, cache};
use crate::error::{Error, Result};
use crate::images::record::LayerRow;
use crate::snapshotter::Snapshot;

pub(super) struct CopyStep<'a> {
    pub add: bool,
    pub flags: &'a [Flag],
    /// Expanded (heredoc markers as written).
    pub sources: &'a [String],
    pub dest: &'a str,
    pub from: Option<&'a str>,
    pub chown: Option<&'a str>,
    pub heredocs: &'a [Heredoc],
    pub stage: usize,
}

/// What one source word is.
enum Item {
    Files(Vec<Source>),
    Heredoc(String, Vec<u8>),
    /// ADD of a URL: downloaded into the scratch directory.
    Url(String, PathBuf),
}

impl Build<'_> {
    pub(super) fn copy_step(
        &self,
        title: &str,
        step: &CopyStep<'_>,
        state: &mut State,
        created_by: &str,
    ) -> Result<()> {
        let vertex = self.next_vertex();
        self.progress.event(BuildEvent::Start {
            vertex,
            name: title,
        });
        let started = std::time::Instant::now();
        let keyword = if step.add { "ADD" } else { "COPY" };
        for f in ["parents"] {
            if flag(step.flags, f).is_some() {
                return Err(Error::unsupported(format!(
                    "{keyword} --{f} is not supported by berth yet"
                )));
            }
        }
        let workdir = state
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into());
        let dest = absolute_dest(step.dest, &workdir);
        let chmod = flag(step.flags, "chmod")
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| Error::invalid(format!("invalid chmod parameter: {m:?}")))
            })
            .transpose()?;
        // Where the sources are read: the context, a stage, or an image.
        let excludes: Vec<&str> = step
            .flags
            .iter()
            .filter(|f| f.name == "exclude")
            .filter_map(|f| f.value.as_deref())
            .collect();
        let source_image = step
            .from
            .map(|from| self.source_image(step.stage, from))
            .transpose()?;
        let flags: Vec<String> = step
            .flags
            .iter()
            .map(|f| format!("--{}={}", f.name, f.value.as_deref().unwrap_or_default()))
            .collect();
        let key_of = |hasher: Hasher, state: &State| {
            cache::chain(
                &state.key,
                &[
                    keyword,
                    &flags.join(" "),
                    step.chown.unwrap_or_default(),
                    source_image.as_ref().map_or("", |d| d.as_str()),
                    &dest,
                    hasher.finish().as_str(),
                ],
            )
        };
        // Another stage or an image: its ID names its content, so the key
        // needs only the words naming the sources, and a hit needs no
        // mount of that image.
        let from_words = source_image.is_some()
            && !step.add
            && step.sources.iter().all(|w| !w.starts_with("<<"));
        let mut words_key = None;
        if from_words {
            let mut hasher = Hasher::new();
            for word in step.sources {
                hasher.update(format!("\0from\0{word}").as_bytes());
            }
            let key = key_of(hasher, state);
            if self.cached(&key, state)? {
                self.progress.event(BuildEvent::Cached { vertex });
                return Ok(());
            }
            words_key = Some(key);
        }
        let mut layers = Vec::new();
        let mut tree = match (step.from, &source_image) {
            (Some(from), Some(id)) => {
                layers = self.engine.image_layers(id)?;
                self.image_tree(id, from)?
            }
            _ => self.context.try_clone()?,
        };
        // Every source, and the digest of what it holds.
        let mut items = Vec::new();
        let mut hasher = Hasher::new();
        for word in step.sources {
            if let Some(name) = word.strip_prefix("<<") {
                let name = name.trim_start_matches('-').trim_matches(['"', '\'']);
                let doc = step
                    .heredocs
                    .iter()
                    .find(|h| h.name == name)
                    .ok_or_else(|| Error::invalid(format!("no heredoc named {name}")))?;
                hasher.update(format!("\0heredoc\0{name}\0").as_bytes());
                hasher.update(doc.body.as_bytes());
                items.push(Item::Heredoc(
                    name.to_string(),
                    doc.body.clone().into_bytes(),
                ));
            } else if step.add && (word.starts_with("http://") || word.starts_with("https://")) {
                let file = self.download(word, flag(step.flags, "checksum"))?;
                let digest = berth_image::Digest::of(
                    &std::fs::read(&file)
                        .map_err(|e| Error::internal(format!("read the download: {e}")))?,
                );
                hasher.update(format!("\0url\0{word}\0{digest}").as_bytes());
                items.push(Item::Url(word.clone(), file));
            } else {
                let mut sources = tree.sources(word)?;
                // `--exclude`: patterns of paths as the sources name them
                // and of paths inside a directory source.
                if !excludes.is_empty() {
                    let own = Ignore::parse(&excludes.join("\n"));
                    sources.retain(|s| !own.excludes(&s.rel));
                    let mut patterns = excludes.join("\n");
                    for s in sources.iter().filter(|s| !s.rel.is_empty()) {
                        for p in &excludes {
                            patterns.push_str(&format!("\n{}/{p}", s.rel));
                        }
                    }
                    tree.ignore.extend(&Ignore::parse(&patterns));
                }
                if step.from.is_some() {
                    hasher.update(format!("\0from\0{word}").as_bytes());
                } else {
                    for s in &sources {
                        tree.hash(s, &mut hasher)?;
                    }
                }
                items.push(Item::Files(sources));
            }
        }
        let count: usize = items
            .iter()
            .map(|i| match i {
                Item::Files(f) => f.len(),
                _ => 1,
            })
            .sum();
        if count > 1 && !dest.ends_with('/') {
            return Err(Error::invalid(format!(
                "When using {keyword} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let key = match words_key {
            Some(key) => key,
            None => {
                let key = key_of(hasher, state);
                if self.cached(&key, state)? {
                    self.progress.event(BuildEvent::Cached { vertex });
                    return Ok(());
                }
                key
            }
        };
        if let (Some(image), [Item::Files(sources)], None, None, true, false) = (
            &source_image,
            items.as_slice(),
            step.chown,
            chmod,
            excludes.is_empty(),
            step.add,
        ) && let [source] = sources.as_slice()
            && let Some(reused) = self.reusable_layer(image, &source.rel, &dest, state)?
        {
            self.progress.event(BuildEvent::Note {
                vertex,
                text: &format!(
                    "/{} is a whole layer of {}: reusing {}",
                    source.rel,
                    step.from.unwrap_or_default(),
                    reused.layer.diff_id
                ),
            });
            self.push_layer(state, reused.layer, reused.size, created_by);
            self.commit_state(state, key)?;
            self.progress.event(BuildEvent::Done {
                vertex,
                seconds: started.elapsed().as_secs_f64(),
            });
            return Ok(());
        }
        let chown = step.chown.map(str::to_string);
        let preserve_owner = step.from.is_some();
        let epoch = state.epoch;
        self.file_layer(state, key, created_by, |root| {
            let owner = chown
                .as_deref()
                .map(|c| resolve_chown(&root.merged, c))
                .transpose()?;
            let options = Options {
                chown: owner,
                chmod,
                preserve_owner,
                extract_archives: step.add,
                clamp_mtime: Some(epoch),
            };
            for item in &items {
                match item {
                    Item::Files(sources) => {
                        for source in sources {
                            // A directory only one layer of the other image
                            // has is read from that layer, not through
                            // overlayfs (the same files, found faster).
                            match single_layer_dir(&tree, &layers, source)? {
                                Some((layer, rel)) => copy::copy(
                                    root,
                                    &layer,
                                    std::slice::from_ref(&rel),
                                    &dest,
                                    &options,
                                )?,
                                None => copy::copy(
                                    root,
                                    &tree,
                                    std::slice::from_ref(source),
                                    &dest,
                                    &options,
                                )?,
                            }
                        }
                    }
                    Item::Heredoc(name, body) => {
                        let target = if dest.ends_with('/') {
                            format!("{dest}{name}")
                        } else {
                            dest.clone()
                        };
                        copy::write_file(root, &target, body, &options, epoch)?;
                    }
                    Item::Url(url, file) => {
                        let name = url
                            .split(['?', '#'])
                            .next()
                            .unwrap_or_default()
                            .rsplit('/')
                            .next()
                            .filter(|n| !n.is_empty())
                            .unwrap_or("download")
                            .to_string();
                        let target = if dest.ends_with('/') {
                            format!("{dest}{name}")
                        } else {
                            dest.clone()
                        };
                        let body = std::fs::read(file)
                            .map_err(|e| Error::internal(format!("read the download: {e}")))?;
                        // Docker gives a downloaded file mode 0600.
                        let options = Options {
                            chmod: chmod.or(Some(0o600)),
                            ..options
                        };
                        copy::write_file(root, &target, &body, &options, epoch)?;
                    }
                }
            }
            Ok(())
        })?;
        self.progress.event(BuildEvent::Done {
            vertex,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// WORKDIR: the directory made (root's, 0755) when the image lacks it,
    /// as a layer of its own.
    pub(super) fn workdir(&self, title: &str, dir: &str, state: &mut State) -> Result<()> {
        let vertex = self.next_vertex();
        self.progress.event(BuildEvent::Start {
            vertex,
            name: title,
        });
        let started = std::time::Instant::now();
        let exists = match &state.image {
            Some(id) if !state.layers.is_empty() => {
                let tree = self.image_tree(id, "the image")?;
                tree.open_in(
                    dir.trim_start_matches('/'),
                    rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
                )
                .is_ok()
            }
            _ => false,
        };
        if exists {
            state.history(format!("WORKDIR {dir}"), true);
            let config = serde_json::to_string(&state.config.config).unwrap_or_default();
            state.key = cache::chain(&state.key, &["WORKDIR", dir, &config]);
        } else {
            // The key covers the config (the working directory is in it).
            let config = serde_json::to_string(&state.config.config).unwrap_or_default();
            let key = cache::chain(&state.key, &["WORKDIR", dir, &config]);
            if self.cached(&key, state)? {
                self.progress.event(BuildEvent::Cached { vertex });
                return Ok(());
            }
            let dir = dir.to_string();
            self.file_layer(state, key, &format!("WORKDIR {dir}"), |root| {
                copy::mkdir_all(&root.merged, &dir, (0, 0)).map(drop)
            })?;
        }
        self.progress.event(BuildEvent::Done {
            vertex,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// A read-only tree of an image's root (`COPY --from`).
    pub(super) fn image_tree(&self, id: &berth_image::Digest, name: &str) -> Result<Tree> {
        let layers = self.engine.image_layers(id)?;
        if layers.is_empty() {
            // `scratch` with nothing in it: an empty directory.
            let dir = self.scratch_dir()?;
            return Tree::open(&dir, name, Ignore::default());
        }
        let view = Snapshot {
            lowers: layers,
            upper: None,
        };
        Ok(Tree::from_fd(view.mount_detached()?, name))
    }

    /// Runs `write` on a writable snapshot of the stage's layers, then
    /// commits what it wrote as the stage's next layer.
    pub(super) fn file_layer(
        &self,
        state: &mut State,
        key: String,
        created_by: &str,
        write: impl FnOnce(&copy::Dest) -> Result<()>,
    ) -> Result<()> {
        let dir = self.scratch_dir()?;
        let result = (|| {
            let lowers = match &state.image {
                Some(id) if !state.layers.is_empty() => self.engine.image_layers(id)?,
                _ => Vec::new(),
            };
            let snapshot = self.scratch_snapshot(&dir, lowers)?;
            {
                let upper = snapshot
                    .upper
                    .as_ref()
                    .ok_or_else(|| Error::internal("a prepared snapshot has a writable layer"))?;
                let dest = copy::Dest {
                    merged: snapshot.mount_detached()?,
                    upper: rustix::fs::open(
                        &upper.dir,
                        rustix::fs::OFlags::RDONLY
                            | rustix::fs::OFlags::DIRECTORY
                            | rustix::fs::OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    )
                    .map_err(|e| Error::internal(format!("open {}: {e}", upper.dir.display())))?,
                };
                write(&dest)?;
            }
            // Mounted nowhere now: its directory can become the snapshot.
            self.commit_layer(state, &snapshot, created_by, true)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result?;
        self.commit_state(state, key)
    }

    /// The snapshot's writable layer as the stage's next layer.
    pub(super) fn commit_layer(
        &self,
        state: &mut State,
        snapshot: &Snapshot,
        created_by: &str,
        adopt: bool,
    ) -> Result<()> {
        let (blob, ready) = if adopt {
            self.engine
                .commit_adopting(self.lease.lease, snapshot, Some(state.epoch))?
        } else {
            self.engine.commit_snapshot(
                self.lease.lease,
                snapshot,
                format!("build step {created_by}"),
                Some(state.epoch),
            )?
        };
        let diff_id = blob.digest().clone();
        let size = blob.size();
        self.engine.commit_blobs(self.lease.lease, vec![blob])?;
        // Lost to a power cut, it only costs a later copy its reuse.
        self.engine.db.write_relaxed(|c| {
            c.execute(
                "INSERT OR IGNORE INTO built_layers (diff_id) VALUES (?1)",
                [diff_id.as_str()],
            )?;
            Ok(())
        })?;
        let layer = LayerRow {
            diff_id: diff_id.clone(),
            blob_digest: diff_id,
            blob_size: size,
            media_type: Compression::None.oci_layer_media_type().to_string(),
        };
        self.push_layer(state, layer, ready.size, created_by);
        Ok(())
    }

    /// A layer on top of the stage's, with its history entry.
    fn push_layer(&self, state: &mut State, layer: LayerRow, size: u64, created_by: &str) {
        state.config.rootfs.diff_ids.push(layer.diff_id.clone());
        state.layers.push(layer);
        state.size += size;
        state.history(created_by.to_string(), false);
    }

    /// ADD of a URL: downloaded into the scratch directory, its checksum
    /// checked when `--checksum` gives one.
    fn download(&self, url: &str, checksum: Option<&str>) -> Result<PathBuf> {
        let file = self.scratch_dir()?.join("download");
        let timeout = std::time::Duration::from_secs(
            self.engine.registries_config()?.read_timeout_secs.max(1),
        );
        let target = file.clone();
        let url_owned = url.to_string();
        crate::registries::block_on(async move {
            let mut download = berth_registry::download::download(&url_owned, timeout).await?;
            let mut out = std::fs::File::create(&target)
                .map_err(|e| Error::internal(format!("write {}: {e}", target.display())))?;
            while let Some(chunk) = download.chunk().await? {
                std::io::Write::write_all(&mut out, &chunk)
                    .map_err(|e| Error::internal(format!("write {}: {e}", target.display())))?;
            }
            Ok::<_, Error>(())
        })
        .map_err(|e| e.context(format!("ADD {url}")))?;
        if let Some(want) = checksum {
            let got = berth_image::Digest::of(
                &std::fs::read(&file)
                    .map_err(|e| Error::internal(format!("read the download: {e}")))?,
            );
            if got.as_str() != want {
                return Err(Error::invalid(format!(
                    "ADD {url}: digest mismatch {got}: {want}"
                )));
            }
        }
        Ok(file)
    }
}

/// Where a `COPY --from` directory source is when exactly one layer of
/// the image has it: that layer's directory as a tree, and the source's
/// path there (its real path in the image, symlinks resolved). With no
/// other layer holding the path, the merged view's directory is that
/// layer's, entry for entry.
fn single_layer_dir(
    view: &Tree,
    layers: &[PathBuf],
    source: &Source,
) -> Result<Option<(Tree, Source)>> {
    if layers.len() < 2 {
        return Ok(None);
    }
    let Ok(fd) = view.open_in(
        &source.rel,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
    ) else {
        return Ok(None);
    };
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::internal(format!("locate {:?} in the image: {e}", source.rel)))?;
    let rel = real.to_string_lossy().trim_start_matches('/').to_string();
    // Through a symlink the patterns of --exclude name other paths: the
    // view is read then.
    if rel.is_empty() || rel != source.rel {
        return Ok(None);
    }
    let holders: Vec<&PathBuf> = layers
        .iter()
        .filter(|l| std::fs::symlink_metadata(l.join(&rel)).is_ok())
        .collect();
    let [only] = holders.as_slice() else {
        return Ok(None);
    };
    if !std::fs::symlink_metadata(only.join(&rel)).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    // Whiteouts in it (char 0/0 devices) delete nothing below (no layer
    // below has the path) and are skipped like every device.
    let tree = Tree::open(only, &view.name, view.ignore.clone())?;
    Ok(Some((tree, Source { rel })))
}

/// COPY's destination as an absolute path (relative ones are in the
/// working directory); a trailing `/` kept (it says "a directory").
fn absolute_dest(dest: &str, workdir: &str) -> String {
    let dir_like = dest.ends_with('/') || dest.ends_with("/.") || dest == "." || dest.is_empty();
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", workdir.trim_end_matches('/'))
    };
    let cleaned = clean_abs(&joined);
    if dir_like && cleaned != "/" {
        format!("{cleaned}/")
    } else if cleaned == "/" {
        "/".into()
    } else {
        cleaned
    }
}

/// `--chown=user[:group]`: numbers as they are, names from the image's
/// /etc/passwd and /etc/group; without a group, the user's number (as
/// Docker documents).
fn resolve_chown(root: &OwnedFd, spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let in_root = PathBuf::from(format!("/proc/self/fd/{}", root.as_raw_fd()));
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            crate::containers::user::resolve(&in_root, user, &[])
                .map_err(|e| Error::invalid(format!("--chown={spec}: {}", e.message)))?
                .uid
        }
    };
    let gid = match group {
        None => uid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                crate::containers::user::resolve(&in_root, &format!("0:{g}"), &[])
                    .map_err(|e| Error::invalid(format!("--chown={spec}: {}", e.message)))?
                    .gid
            }
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(absolute_dest("app/", "/work"), "/work/app/");
        assert_eq!(absolute_dest(".", "/work"), "/work/");
        assert_eq!(absolute_dest("/x/../y", "/work"), "/y");
        assert_eq!(absolute_dest("/", "/work"), "/");
        assert_eq!(absolute_dest("f", "/"), "/f");
    }
}
