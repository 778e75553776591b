//! `pull`: an image from a registry into the store.
//!
//! The manifest (an index resolves to the platform's manifest) and the config
//! are fetched and verified first; then the layers download concurrently
//! (`max_concurrent_downloads`), each streamed through its own blocking worker
//! that stores, hashes and unpacks it as the bytes arrive (see pull_layer).
//! Layers whose snapshot and blob are present are skipped. Everything is held
//! by one lease; the image and its tag become visible in a single transaction
//! after every blob is committed and every snapshot is ready, so a failed or
//! killed pull leaves nothing but resumable partial downloads.

use std::collections::HashMap;
use std::time::Duration;

use berth_image::platform::Platform;
use berth_image::spec::{Descriptor, ImageConfig, Index, Manifest, media};
use berth_image::{Digest, Reference};
use berth_registry::{FetchedManifest, Registry};
use futures_util::StreamExt;

use super::pull_layer::{self, Feed, LayerDone, LayerWork, Source, Work};
use super::record::{self, LayerRow, NewImage};
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::failpoint;
use crate::progress::{PullEvent, PullProgress};
use crate::store::leases::{self, Lease, RefKind};
use crate::store::snapshots::{self, Readied};

#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// The platform to pick from an index (default: the host's).
    pub platform: Option<Platform>,
    /// Every tag of the repository (`pull -a`).
    pub all_tags: bool,
    /// The registry credentials (the API's `X-Registry-Auth`); None: the
    /// engine's Docker client configuration.
    pub credentials: Option<berth_registry::Credentials>,
}

#[derive(Clone, Debug)]
pub struct PullReport {
    pub reference: Reference,
    pub image_id: Digest,
    /// Digest of the manifest (or index) the reference resolved to.
    pub digest: String,
    /// False when the store had the image under that name already.
    pub newer: bool,
}

/// What one layer needs.
enum Plan {
    /// Snapshot and blob both present.
    Reuse { size: u64 },
    /// Snapshot present, blob missing: fetch it and prove it is that layer.
    Verify { size: u64 },
    /// Fetch and unpack into this new snapshot.
    Unpack { snapshot: i64 },
}

impl Engine {
    /// [`Engine::pull_async`] for synchronous callers: runs the registry
    /// I/O on a short-lived runtime of its own.
    pub fn pull(
        &self,
        reference: &Reference,
        options: &PullOptions,
        progress: &dyn PullProgress,
    ) -> Result<Vec<PullReport>> {
        crate::registries::block_on(self.pull_async(reference, options, progress))
    }

    /// Pulls from async code (the API daemon's runtime); the blocking parts
    /// (storing, hashing, unpacking) run on the runtime's blocking threads.
    pub async fn pull_async(
        &self,
        reference: &Reference,
        options: &PullOptions,
        progress: &dyn PullProgress,
    ) -> Result<Vec<PullReport>> {
        let what = format!("pull {reference}");
        let registry = self
            .connect_registry(reference.domain(), options.credentials.clone())
            .await
            .map_err(|e| e.context(&what))?;
        let references = if options.all_tags {
            if reference.tag().is_some() || reference.digest().is_some() {
                return Err(Error::invalid("tag can't be used with --all-tags/-a"));
            }
            // In the registry's order, as docker pulls them.
            let tags = registry
                .list_tags(reference.path())
                .await
                .map_err(Error::from)?;
            tags.iter()
                .map(|t| {
                    reference
                        .with_tag(t)
                        .map_err(|e| Error::invalid(format!("{what}: tag {t:?}: {e}")))
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![reference.clone()]
        };
        let platform = options.platform.clone().unwrap_or_else(Platform::host);
        let mut reports = Vec::new();
        // All tags end with one status line for the repository, as docker's.
        let quiet_done = NoDone(progress);
        let each: &dyn PullProgress = if options.all_tags {
            &quiet_done
        } else {
            progress
        };
        for r in &references {
            let report = self
                .pull_one(&registry, r, &platform, each)
                .await
                .map_err(|e| {
                    // A missing manifest names the reference already.
                    if e.kind == crate::error::ErrorKind::NotFound {
                        e
                    } else {
                        e.context(format!("pull {r}"))
                    }
                })?;
            self.event(crate::events::image_event(
                "pull",
                &r.familiar_string(),
                Some(r),
            ));
            reports.push(report);
        }
        if options.all_tags {
            progress.event(PullEvent::Done {
                reference: reference.clone(),
                newer: reports.iter().any(|r| r.newer),
            });
        }
        Ok(reports)
    }

    async fn pull_one(
        &self,
        registry: &Registry,
        reference: &Reference,
        platform: &Platform,
        progress: &dyn PullProgress,
    ) -> Result<PullReport> {
        let repository = reference.path();
        let wanted = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        progress.event(PullEvent::PullingFrom {
            reference: reference.clone(),
        });
        let top = registry.get_manifest(repository, &wanted).await?;
        let manifest_fetched = if top.is_index() {
            let chosen = pick_platform(&top, platform)?;
            let m = registry
                .get_manifest(repository, chosen.digest.as_str())
                .await?;
            if m.bytes.len() as u64 != chosen.size {
                return Err(Error::invalid(format!(
                    "manifest {}: {} bytes, the index says {}",
                    chosen.digest,
                    m.bytes.len(),
                    chosen.size
                )));
            }
            if m.is_index() {
                return Err(Error::invalid(format!(
                    "manifest {}: an index inside an index is not supported",
                    chosen.digest
                )));
            }
            m
        } else {
            top.clone()
        };
        let manifest: Manifest = serde_json::from_slice(&manifest_fetched.bytes)
            .map_err(|e| Error::invalid(format!("manifest {}: {e}", manifest_fetched.digest)))?;
        check_layers(&manifest)?;
        let image_id = manifest.config.digest.clone();

        // An image the store has needs none of its layers looked at, and
        // docker then shows none.
        let known = self.db.read(|c| record::get(c, &image_id))?.is_some();
        if !known {
            self.fetch_image(registry, repository, &manifest, &manifest_fetched, progress)
                .await?;
        }
        let repo_digest = format!("{}@{}", reference.name(), top.digest);
        let newer = self.db.write(|c| {
            let before: Option<String> = match reference.tag() {
                Some(_) => record::tag_target(c, &reference.to_string())?,
                None => None,
            };
            if reference.tag().is_some() {
                record::set_tag(c, reference, &image_id)?;
            }
            record::set_repo_digest(c, &repo_digest, &image_id)?;
            // By digest there is no tag to move: only new content is news.
            Ok(reference.tag().is_some() && before.as_deref() != Some(image_id.as_str()))
        })?;
        let newer = newer || !known;
        progress.event(PullEvent::Digest {
            digest: top.digest.clone(),
        });
        progress.event(PullEvent::Done {
            reference: reference.clone(),
            newer,
        });
        Ok(PullReport {
            reference: reference.clone(),
            image_id,
            digest: top.digest,
            newer,
        })
    }

    /// Config, layers and manifest into the store, then the image record.
    async fn fetch_image(
        &self,
        registry: &Registry,
        repository: &str,
        manifest: &Manifest,
        manifest_fetched: &FetchedManifest,
        progress: &dyn PullProgress,
    ) -> Result<()> {
        let config_bytes = registry
            .get_small_blob(
                repository,
                manifest.config.digest.as_str(),
                manifest.config.size,
            )
            .await?;
        let config = ImageConfig::parse(&config_bytes)
            .map_err(|e| Error::invalid(format!("image config {}: {e}", manifest.config.digest)))?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::invalid(format!(
                "image config {}: {} diff IDs for {} layers in the manifest",
                manifest.config.digest,
                diff_ids.len(),
                manifest.layers.len()
            )));
        }

        let lease = self.acquire_lease()?;
        failpoint::hit("pull:lease-acquired");
        let _writeback = crate::store::writeback::BackgroundSync::start(&self.paths.snapshots);
        let plans = self.plan_layers(lease.lease, manifest, diff_ids)?;

        let first = |i: usize| diff_ids.iter().position(|d| d == &diff_ids[i]) == Some(i);
        // Every blob this pull may write is locked, in digest order, before
        // any is fetched. A fetched blob stays locked until the image is
        // recorded (so another pull of it waits for the blob, not for a
        // file in flux); taken as each layer started, two pulls sharing
        // layers in a different order would each hold one and wait for
        // the other's. In one global order, whoever waits holds nothing the
        // holder needs; a second pull of the same image waits for the
        // first, then finds every layer stored and unpacked.
        let mut to_lock: Vec<&Digest> = manifest
            .layers
            .iter()
            .enumerate()
            .filter(|(i, _)| first(*i) && !matches!(plans[&diff_ids[*i]], Plan::Reuse { .. }))
            .map(|(_, l)| &l.digest)
            .collect();
        to_lock.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        to_lock.dedup();
        let mut locked = HashMap::new();
        for digest in to_lock {
            let content = self.paths.content.clone();
            let blob = digest.clone();
            let ingest = tokio::task::spawn_blocking(move || content.resumable_ingest(&blob, true))
                .await
                .map_err(|e| Error::internal(format!("pull: {e}")))??
                .ok_or_else(|| Error::internal("pull: partial download lock"))?;
            locked.insert(digest.clone(), ingest);
        }
        let locked = std::sync::Mutex::new(locked);

        let concurrency = self.registries_config()?.max_concurrent_downloads.max(1);
        let mut outcomes: Vec<Option<LayerDone>> =
            (0..manifest.layers.len()).map(|_| None).collect();
        let mut layer_futures = futures_util::stream::iter(manifest.layers.iter().enumerate())
            .map(|(i, layer)| {
                let plan = &plans[&diff_ids[i]];
                let first = first(i);
                let ingest = locked.lock().ok().and_then(|mut l| l.remove(&layer.digest));
                async move {
                    if !first {
                        return Ok((i, None));
                    }
                    self.pull_layer(
                        registry,
                        repository,
                        i,
                        layer,
                        &diff_ids[i],
                        plan,
                        ingest,
                        progress,
                    )
                    .await
                    .map(|done| (i, done))
                }
            })
            .buffer_unordered(concurrency);
        while let Some(result) = layer_futures.next().await {
            let (i, done) = result?;
            outcomes[i] = done;
        }
        drop(layer_futures);
        failpoint::hit("pull:layers-fetched");

        if plans.values().any(|p| matches!(p, Plan::Unpack { .. })) {
            berth_image::unpack::sync_filesystem(&self.paths.snapshots)
                .ctx("sync", &self.paths.snapshots)?;
        }
        let mut sizes: HashMap<&Digest, u64> = HashMap::new();
        self.db.write(|c| {
            for (i, diff_id) in diff_ids.iter().enumerate() {
                let size = match (&plans[diff_id], &outcomes[i]) {
                    (Plan::Reuse { size } | Plan::Verify { size }, _) => *size,
                    (Plan::Unpack { snapshot }, Some(done)) => {
                        let (Readied::Ours | Readied::Theirs) = snapshots::mark_ready(
                            c,
                            lease.lease,
                            *snapshot,
                            diff_id.as_str(),
                            done.unpacked_size,
                        )?;
                        done.unpacked_size
                    }
                    (Plan::Unpack { .. }, None) => continue,
                };
                sizes.insert(diff_id, size);
            }
            Ok(())
        })?;

        let mut blobs = vec![
            self.small_blob(&config_bytes)?,
            self.small_blob(&manifest_fetched.bytes)?,
        ];
        blobs.extend(
            outcomes
                .iter_mut()
                .filter_map(|o| o.as_mut().and_then(|d| d.ingested.take())),
        );
        self.commit_blobs(lease.lease, blobs)?;
        failpoint::hit("pull:blobs-committed");

        let manifest_digest = Digest::parse(&manifest_fetched.digest)
            .map_err(|e| Error::invalid(format!("manifest digest: {e}")))?;
        let manifest_desc = Descriptor::new(
            &manifest_fetched.media_type,
            manifest_digest,
            manifest_fetched.bytes.len() as u64,
        );
        let layers: Vec<LayerRow> = manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(l, d)| LayerRow {
                diff_id: d.clone(),
                blob_digest: l.digest.clone(),
                blob_size: l.size,
                media_type: l.media_type.clone(),
            })
            .collect();
        let size = diff_ids
            .iter()
            .map(|d| sizes.get(d).copied().unwrap_or(0))
            .sum::<u64>();
        self.db.write(|c| {
            record::insert(
                c,
                &NewImage {
                    id: &manifest.config.digest,
                    config: &config,
                    manifest: &manifest_desc,
                    layers: &layers,
                    size,
                    parent: None,
                },
            )
        })?;
        failpoint::hit("pull:image-recorded");
        lease.release()
    }

    /// Decides, per distinct diff ID, what must be fetched; holds what is
    /// reused with the lease.
    fn plan_layers(
        &self,
        lease: Lease,
        manifest: &Manifest,
        diff_ids: &[Digest],
    ) -> Result<HashMap<Digest, Plan>> {
        self.db.write(|c| {
            let mut plans = HashMap::new();
            for (layer, diff_id) in manifest.layers.iter().zip(diff_ids) {
                if plans.contains_key(diff_id) {
                    continue;
                }
                let plan = match snapshots::ready_for(c, diff_id.as_str())? {
                    Some(existing) => {
                        leases::add_ref(c, lease, RefKind::Snapshot, &existing.id.to_string())?;
                        if self.paths.content.contains(&layer.digest) {
                            leases::add_ref(c, lease, RefKind::Blob, layer.digest.as_str())?;
                            Plan::Reuse {
                                size: existing.size,
                            }
                        } else {
                            Plan::Verify {
                                size: existing.size,
                            }
                        }
                    }
                    None => Plan::Unpack {
                        snapshot: snapshots::create_incomplete(c, lease, Some(diff_id.as_str()))?,
                    },
                };
                plans.insert(diff_id.clone(), plan);
            }
            Ok(plans)
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn pull_layer(
        &self,
        registry: &Registry,
        repository: &str,
        index: usize,
        layer: &Descriptor,
        diff_id: &Digest,
        plan: &Plan,
        ingest: Option<berth_image::content::ResumableIngest>,
        progress: &dyn PullProgress,
    ) -> Result<Option<LayerDone>> {
        let work = match plan {
            Plan::Reuse { .. } => {
                progress.event(PullEvent::LayerExists {
                    layer: layer.digest.clone(),
                });
                return Ok(None);
            }
            Plan::Verify { .. } => Work::Verify,
            Plan::Unpack { snapshot } => Work::Unpack {
                fs_dir: self.paths.snapshot_fs(*snapshot),
            },
        };
        progress.event(PullEvent::LayerPulling {
            layer: layer.digest.clone(),
        });
        let job = LayerWork {
            blob: layer.digest.clone(),
            size: layer.size,
            diff_id: diff_id.clone(),
            work,
            limits: self.config.limits,
            what: format!("layer {index} ({})", layer.digest),
        };
        // Locked by `pull` (after any other pull of the same blob let go).
        let ingest = ingest.ok_or_else(|| {
            Error::internal(format!("pull: layer {} was not locked", layer.digest))
        })?;
        if self.paths.content.contains(&layer.digest) {
            // Another pull finished this blob while we waited; the empty
            // partial file our open made is of no use to anyone.
            ingest.discard();
            // And unpacked it: its snapshot serves us too (mark_ready finds
            // it and our lease takes it over).
            if matches!(plan, Plan::Unpack { .. })
                && let Some(theirs) = self
                    .db
                    .read(|c| snapshots::ready_for(c, diff_id.as_str()))?
            {
                progress.event(PullEvent::LayerDone {
                    layer: layer.digest.clone(),
                });
                return Ok(Some(LayerDone {
                    ingested: None,
                    unpacked_size: theirs.size,
                }));
            }
            let path = self.paths.content.blob_path(&layer.digest);
            let done =
                tokio::task::spawn_blocking(move || pull_layer::run(job, Source::Stored { path }))
                    .await
                    .map_err(|e| Error::internal(format!("pull: {e}")))??;
            progress.event(PullEvent::LayerDone {
                layer: layer.digest.clone(),
            });
            return Ok(Some(done));
        }

        let offset = ingest.existing_len().min(layer.size);
        let (tx, rx) = tokio::sync::mpsc::channel::<Feed>(64);
        let worker = tokio::task::spawn_blocking(move || {
            pull_layer::run(job, Source::Download { ingest, feed: rx })
        });
        let mut stream =
            registry.blob_stream(repository, layer.digest.as_str(), layer.size, offset)?;
        let mut last_report = std::time::Instant::now();
        let download: Result<()> = async {
            loop {
                match stream.next().await {
                    Ok(Some(chunk)) => {
                        if tx.send(Feed::Data(chunk)).await.is_err() {
                            // The worker stopped; its error says why.
                            return Ok(());
                        }
                        if last_report.elapsed() >= Duration::from_millis(100) {
                            last_report = std::time::Instant::now();
                            progress.event(PullEvent::LayerProgress {
                                layer: layer.digest.clone(),
                                done: stream.offset(),
                                total: layer.size,
                            });
                        }
                    }
                    Ok(None) => {
                        let _ = tx.send(Feed::End).await;
                        return Ok(());
                    }
                    Err(e) => {
                        let _ = tx.send(Feed::Failed(e.message.clone())).await;
                        return Err(Error::from(e));
                    }
                }
            }
        }
        .await;
        drop(tx);
        progress.event(PullEvent::LayerDownloaded {
            layer: layer.digest.clone(),
        });
        let worked = worker
            .await
            .map_err(|e| Error::internal(format!("pull: layer worker: {e}")))?;
        download?;
        let done = worked?;
        progress.event(PullEvent::LayerDone {
            layer: layer.digest.clone(),
        });
        Ok(Some(done))
    }

    /// Connects to a registry with the stored credentials for it.
    pub(crate) async fn connect_registry(
        &self,
        host: &str,
        credentials: Option<berth_registry::Credentials>,
    ) -> Result<Registry> {
        let config = self.registries_config()?;
        let credentials = match credentials {
            Some(c) => Some(c),
            None => self.docker_config().get(host).map_err(Error::from)?,
        };
        Ok(Registry::connect(host, &config, credentials).await?)
    }
}

/// Passes on every event but `Done` (all tags end with one for the
/// repository).
struct NoDone<'a>(&'a dyn PullProgress);

impl PullProgress for NoDone<'_> {
    fn event(&self, event: PullEvent) {
        if !matches!(event, PullEvent::Done { .. }) {
            self.0.event(event);
        }
    }
}

/// The index entry for `platform`: an exact variant match first, else the
/// first compatible entry; Docker's words when there is none.
fn pick_platform(index: &FetchedManifest, platform: &Platform) -> Result<Descriptor> {
    let parsed: Index = serde_json::from_slice(&index.bytes)
        .map_err(|e| Error::invalid(format!("index {}: {e}", index.digest)))?;
    let candidates: Vec<&Descriptor> = parsed
        .manifests
        .iter()
        .filter(|d| media::is_manifest(&d.media_type))
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| platform.matches(&p.os, &p.architecture, p.variant.as_deref()))
        })
        .collect();
    let exact = candidates.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.variant.as_deref() == platform.variant.as_deref())
    });
    exact
        .or(candidates.first())
        .map(|d| (*d).clone())
        .ok_or_else(|| {
            Error::not_found(format!(
                "no matching manifest for {platform} in the manifest list entries"
            ))
        })
}

/// Layer media types berth can unpack; foreign (non-distributable) layers and
/// unknown types are refused by name.
fn check_layers(manifest: &Manifest) -> Result<()> {
    for (i, layer) in manifest.layers.iter().enumerate() {
        let supported = [
            media::OCI_LAYER,
            media::OCI_LAYER_GZIP,
            media::OCI_LAYER_ZSTD,
            media::DOCKER_LAYER,
            media::DOCKER_LAYER_GZIP,
        ]
        .contains(&layer.media_type.as_str());
        if !supported {
            return Err(Error::unsupported(format!(
                "layer {i} ({}): media type {} is not supported",
                layer.digest, layer.media_type
            )));
        }
        if !layer.digest.is_sha256() {
            return Err(Error::unsupported(format!(
                "layer {i} ({}): only sha256 layer digests are supported",
                layer.digest
            )));
        }
    }
    Ok(())
}
