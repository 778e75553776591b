//! `build`: an image from a Dockerfile and a context, as BuildKit's
//! `dockerfile:1` frontend defines the language (see berth-dockerfile).
//!
//! - The file becomes a DAG of stages (`plan.rs`); only the stages the
//!   target needs are built, each on its own thread once the stages it
//!   needs are done, so independent stages run in parallel.
//! - RUN steps are containers on the path `run` takes (`run_step.rs`);
//!   COPY and ADD write into a snapshot prepared on the stage's layers and
//!   mounted nowhere (`copy.rs`, `tree.rs`); each step that changes files
//!   commits a layer, with no mtime later than the build's epoch.
//! - Every layer step has a cache key (`cache.rs`); a hit reuses the image
//!   the step made before and runs nothing.
//! - Reproducible: timestamps are SOURCE_DATE_EPOCH (a build arg or the
//!   environment) or the base image's creation time, never the clock, and
//!   layers are written deterministically, so the same inputs give the
//!   same image ID on any store.
//! - A build's scratch directories are named after its process and its
//!   containers labelled with it: what a killed build leaves is removed by
//!   the next berth that starts (`sweep_abandoned_builds`).

pub mod cache;
pub mod context;
pub(crate) mod copy;
mod copy_step;
mod digest_cache;
pub mod ignore;
mod layer_reuse;
pub mod plan;
mod run_mounts;
mod run_step;
mod stage;
pub(crate) mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use berth_image::Digest;

use crate::Engine;
use crate::error::{Error, Result};

/// The label on a build's RUN containers: the building process.
pub const BUILD_OWNER_LABEL: &str = "com.berth.build.owner";

#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The context: a directory.
    pub context: PathBuf,
    /// `-f`: the Dockerfile's path (relative ones are in the context);
    /// None: `Dockerfile` in the context.
    pub dockerfile: Option<PathBuf>,
    /// `-f -`: the Dockerfile itself.
    pub dockerfile_text: Option<String>,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--pull`: pull base images even when the store has them.
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    /// RUN's network: "" (the default network), "none", "host".
    pub network: String,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    /// `--platform`: the host's only.
    pub platform: Option<String>,
    /// What every RUN container gets of a container's settings (the
    /// classic builder's `--add-host`, `--cgroup-parent`, `--memory`,
    /// `--cpu-*`, `--shm-size`, `--ulimit`, `--security-opt`).
    pub run_host: crate::containers::HostConfig,
}

#[derive(Clone, Debug)]
pub struct BuildOutcome {
    pub image: Digest,
    /// Steps that ran (RUN containers, copies) and steps the cache gave.
    pub steps_run: usize,
    pub steps_cached: usize,
}

/// What a build reports as it goes (BuildKit's vertices).
#[derive(Debug)]
pub enum BuildEvent<'a> {
    /// A step starts: its number and its name (`[stage-0 2/3] RUN …`).
    Start {
        vertex: usize,
        name: &'a str,
    },
    Output {
        vertex: usize,
        data: &'a [u8],
    },
    Cached {
        vertex: usize,
    },
    Done {
        vertex: usize,
        seconds: f64,
    },
    Error {
        vertex: usize,
        message: &'a str,
    },
    /// A line about the vertex (`writing image sha256:… done`).
    Note {
        vertex: usize,
        text: &'a str,
    },
    /// An instruction of the Dockerfile is reached (every one, metadata
    /// too): its place in the file (the classic builder's `Step 2/5`).
    Instruction {
        number: usize,
        total: usize,
        text: &'a str,
    },
}

pub trait BuildProgress: Sync {
    fn event(&self, event: BuildEvent<'_>);
}

/// A finished stage: its state, or why it failed.
type StageResult = std::result::Result<Arc<stage::State>, String>;

/// The state shared by a build's stage threads.
pub(super) struct Build<'a> {
    engine: &'a Engine,
    options: &'a BuildOptions,
    plan: &'a plan::Plan,
    context: &'a tree::Tree,
    progress: &'a dyn BuildProgress,
    lease: &'a crate::images::layers::LeaseGuard<'a>,
    dockerfile_name: String,
    /// This build's scratch directory (snapshots being written).
    scratch: PathBuf,
    vertex: AtomicUsize,
    scratch_seq: AtomicUsize,
    steps_run: AtomicUsize,
    steps_cached: AtomicUsize,
    failed: AtomicBool,
    results: Mutex<Vec<Option<StageResult>>>,
    done: Condvar,
    /// The source date epoch of the build, when one is given.
    epoch: Option<i64>,
}

impl Build<'_> {
    fn next_vertex(&self) -> usize {
        self.vertex.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A new scratch directory for one step.
    fn scratch_dir(&self) -> Result<PathBuf> {
        let n = self.scratch_seq.fetch_add(1, Ordering::Relaxed);
        let dir = self.scratch.join(n.to_string());
        crate::store::perms::create_private_dir(&dir)?;
        Ok(dir)
    }

    /// A snapshot of `lowers` (top-most first; none: an empty directory)
    /// with a writable layer in the scratch directory `dir`. Volatile: the
    /// builder syncs what it keeps when it adopts or unpacks it, and an
    /// overlay's unmount would otherwise sync the file system first.
    fn scratch_snapshot(
        &self,
        dir: &Path,
        mut lowers: Vec<std::path::PathBuf>,
    ) -> Result<crate::snapshotter::Snapshot> {
        if lowers.is_empty() {
            let empty = dir.join("empty");
            crate::store::perms::create_dir(&empty, crate::store::perms::CONTENT_DIR)?;
            lowers.push(empty);
        }
        let upper = crate::snapshotter::Upper {
            dir: dir.join("diff"),
            work: dir.join("work"),
            volatile: true,
        };
        crate::store::perms::create_dir(&upper.dir, crate::store::perms::CONTENT_DIR)?;
        crate::store::perms::create_private_dir(&upper.work)?;
        Ok(crate::snapshotter::Snapshot {
            lowers,
            upper: Some(upper),
        })
    }

    /// Waits for stage `index`'s result.
    fn stage_result(&self, index: usize) -> Result<Arc<stage::State>> {
        let mut results = self
            .results
            .lock()
            .map_err(|_| Error::internal("build: a stage thread panicked"))?;
        loop {
            match &results[index] {
                Some(Ok(state)) => return Ok(state.clone()),
                Some(Err(e)) => {
                    return Err(Error::invalid(format!(
                        "stage {} failed: {e}",
                        self.plan.stages[index].display_name()
                    )));
                }
                None => {}
            }
            results = self
                .done
                .wait(results)
                .map_err(|_| Error::internal("build: a stage thread panicked"))?;
        }
    }
}

impl Engine {
    /// Builds the image; its ID.
    pub fn build(
        &self,
        options: &BuildOptions,
        progress: &dyn BuildProgress,
    ) -> Result<BuildOutcome> {
        if let Some(p) = options.platform.as_deref().filter(|p| !p.is_empty()) {
            let want = berth_image::platform::Platform::parse(p)
                .map_err(|e| Error::invalid(format!("invalid platform {p:?}: {}", e.0)))?;
            let host = berth_image::platform::Platform::host();
            if want.os != host.os || want.architecture != host.architecture {
                return Err(Error::unsupported(format!(
                    "--platform {p}: berth builds for this host's platform only ({}/{})",
                    host.os, host.architecture
                )));
            }
        }
        let context = options.context.canonicalize().map_err(|e| {
            Error::invalid(format!(
                "unable to prepare context: path {:?} not found: {e}",
                options.context.display()
            ))
        })?;
        if !context.is_dir() {
            return Err(Error::invalid(format!(
                "unable to prepare context: context must be a directory: {}",
                context.display()
            )));
        }
        let (dockerfile_name, text) = read_dockerfile(&context, options)?;
        let file = berth_dockerfile::parse(&dockerfile_name, &text)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let plan = plan::plan(
            &file,
            &options.build_args,
            options.target.as_deref(),
            &dockerfile_name,
        )?;
        let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
            Ok(text) => ignore::Ignore::parse(&text),
            Err(_) => ignore::Ignore::default(),
        };
        let mut context_tree = tree::Tree::open(&context, "the build context", ignore)?;
        let digests = std::sync::Arc::new(digest_cache::DigestCache::load(
            &self.paths.root.join("build-context-digests"),
            &context,
        ));
        context_tree.digests = Some(digests.clone());
        let epoch = source_date_epoch(options)?;
        let lease = self.acquire_lease()?;
        let scratch = self.paths.root.join("build").join(self.owner.file_tag());
        crate::store::perms::create_private_dir(&self.paths.root.join("build"))?;
        crate::store::perms::create_private_dir(&scratch)?;
        let build = Build {
            engine: self,
            options,
            plan: &plan,
            context: &context_tree,
            progress,
            lease: &lease,
            dockerfile_name,
            scratch: scratch.clone(),
            vertex: AtomicUsize::new(0),
            scratch_seq: AtomicUsize::new(0),
            steps_run: AtomicUsize::new(0),
            steps_cached: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            results: Mutex::new(vec![None; plan.stages.len()]),
            done: Condvar::new(),
            epoch,
        };
        let result = build.run();
        let _ = std::fs::remove_dir_all(&scratch);
        let outcome = result.map(|image| BuildOutcome {
            image,
            steps_run: build.steps_run.load(Ordering::Relaxed),
            steps_cached: build.steps_cached.load(Ordering::Relaxed),
        });
        drop(build);
        lease.release()?;
        if outcome.is_ok() {
            digests.save();
        }
        outcome
    }

    /// Removes what builds killed mid-way left: their RUN containers and
    /// scratch directories (named after the building process).
    pub(crate) fn sweep_abandoned_builds(&self) -> Result<()> {
        // A build's scratch directory lives as long as the build: only when
        // a dead process left one is there anything to look for (so a
        // start-up costs a readdir, not a query).
        let dir = self.paths.root.join("build");
        let dead: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                // `PID.START` or `PID.START-context-N`.
                let tag = name.split('-').next().unwrap_or_default();
                berth_image::owner::ProcessToken::from_file_tag(tag).is_none_or(|t| !t.is_alive())
            })
            .map(|e| e.path())
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        let orphans: Vec<String> = self.db.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, config FROM containers WHERE config LIKE '%com.berth.build.owner%'",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .filter_map(|r| r.ok())
                .filter(|(_, config)| {
                    let v: serde_json::Value = serde_json::from_str(config).unwrap_or_default();
                    v["labels"][BUILD_OWNER_LABEL]
                        .as_str()
                        .and_then(berth_image::owner::ProcessToken::from_file_tag)
                        .is_some_and(|t| !t.is_alive())
                })
                .map(|(id, _)| id)
                .collect();
            Ok(rows)
        })?;
        for id in orphans {
            let _ = self.remove_container(&id, true, true);
        }
        // Last: while it is there, the next start looks again.
        for path in dead {
            // A RUN's `--mount` overlays, if it was killed mid-step.
            run_mounts::unmount_below(&path);
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(())
    }
}

impl Build<'_> {
    fn run(&self) -> Result<Digest> {
        let needed = self.plan.needed();
        // The first stage to fail has the cause; the others stopped (or
        // waited in vain) because of it.
        let cause: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for &i in &needed {
                let cause = &cause;
                s.spawn(move || {
                    // A panic is a failure like another: the other stages
                    // must not wait for this one forever.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.build_stage(i)
                    }))
                    .unwrap_or_else(|_| Err(Error::internal("build: a stage thread panicked")));
                    // Flagged before the result is published: a stage that
                    // waited for this one fails after it, never first.
                    let first_failure =
                        result.is_err() && !self.failed.swap(true, Ordering::SeqCst);
                    let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
                    results[i] = Some(match &result {
                        Ok(state) => Ok(state.clone()),
                        Err(e) => Err(e.message.clone()),
                    });
                    drop(results);
                    if let (Err(e), true) = (result, first_failure) {
                        *cause.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                    self.done.notify_all();
                });
            }
        });
        if let Some(e) = cause.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let target = self.stage_result(self.plan.target)?;
        self.finish(&target)
    }

    /// Records the target's image with `--label`s, names it.
    fn finish(&self, target: &stage::State) -> Result<Digest> {
        let vertex = self.next_vertex();
        self.progress.event(BuildEvent::Start {
            vertex,
            name: "exporting to image",
        });
        let started = std::time::Instant::now();
        let mut state = target.clone();
        if !self.options.labels.is_empty() {
            let run = state.config.config.get_or_insert_with(Default::default);
            let labels = run.labels.get_or_insert_with(Default::default);
            for (k, v) in &self.options.labels {
                labels.insert(k.clone(), v.clone());
            }
        }
        let id = self.record(&state, false)?;
        let tags: Vec<berth_image::Reference> = self
            .options
            .tags
            .iter()
            .map(|t| crate::images::import::new_image_tag(t, "build"))
            .collect::<Result<_>>()?;
        // A rebuild that changed nothing only dates its tags again, which
        // may be lost to a power cut (the tags and the image are durable
        // already): written without waiting for the disk, and written
        // again durably when it did change something.
        let update = |c: &rusqlite::Connection| {
            let mut changed = crate::images::record::is_hidden(c, &id)?;
            crate::images::record::set_hidden(c, &id, false)?;
            for t in &tags {
                let before = crate::images::record::tag_target(c, &t.to_string())?;
                changed |= before.as_deref() != Some(id.as_str());
                crate::images::record::set_tag(c, t, &id)?;
            }
            Ok(changed)
        };
        if self.engine.db.write_relaxed(update)? {
            self.engine.db.write(update)?;
        }
        self.progress.event(BuildEvent::Note {
            vertex,
            text: &format!("writing image {id} done"),
        });
        for t in &tags {
            self.progress.event(BuildEvent::Note {
                vertex,
                text: &format!("naming to {t} done"),
            });
            self.engine
                .event(crate::events::image_event("tag", id.as_str(), Some(t)));
        }
        self.progress.event(BuildEvent::Done {
            vertex,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(id)
    }

    /// Records a state as an image (hidden when new: the build cache's);
    /// its ID.
    pub(super) fn record(&self, state: &stage::State, hidden: bool) -> Result<Digest> {
        let existed = |id: &Digest| {
            self.engine
                .db
                .read(|c| crate::images::record::exists(c, id))
        };
        let bytes = serde_json::to_vec(&state.config)
            .map_err(|e| Error::internal(format!("encode config: {e}")))?;
        let id = Digest::of(&bytes);
        if existed(&id)? {
            return Ok(id);
        }
        let id = self.engine.record_new_image(
            self.lease,
            &state.config,
            state.layers.clone(),
            Vec::new(),
            state.size,
            (None, None),
        )?;
        if hidden {
            self.engine
                .db
                .write(|c| crate::images::record::set_hidden(c, &id, true))?;
        }
        Ok(id)
    }
}

/// The Dockerfile: `-f -`'s text, or the file (in the context unless the
/// path is absolute); its name for errors.
fn read_dockerfile(context: &Path, options: &BuildOptions) -> Result<(String, String)> {
    if let Some(text) = &options.dockerfile_text {
        return Ok(("Dockerfile".into(), text.clone()));
    }
    let path = match &options.dockerfile {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => context.join(p),
        None => context.join("Dockerfile"),
    };
    let name = options
        .dockerfile
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::invalid(format!(
            "failed to read dockerfile: open {}: {}",
            path.display(),
            e
        ))
    })?;
    Ok((name, text))
}

/// SOURCE_DATE_EPOCH from the build args, else the environment.
fn source_date_epoch(options: &BuildOptions) -> Result<Option<i64>> {
    let value = options
        .build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .filter(|v| !v.is_empty());
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                Error::invalid(format!(
                    "invalid SOURCE_DATE_EPOCH {v:?}: seconds since 1970 expected"
                ))
            })
        })
        .transpose()
}
