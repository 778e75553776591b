//! One stage: its base, then each instruction in order. Metadata
//! instructions change the image config (and the cache key); RUN, COPY,
//! ADD and a WORKDIR that must be made change files and commit a layer,
//! unless the cache has the step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use berth_dockerfile::instruction::{Command, Flag, Instruction, Located};
use berth_dockerfile::words;
use berth_image::Digest;
use berth_image::spec::{History, ImageConfig, RootFs, RunConfig};

use super::plan::{Base, flag, stage_ref, step_error};
use super::{Build, BuildEvent, cache};
use crate::error::{Error, Result};
use crate::images::record::{self as images, LayerRow};

/// A stage's image as it is after some steps.
#[derive(Clone, Debug)]
pub struct State {
    pub config: ImageConfig,
    pub layers: Vec<LayerRow>,
    pub size: u64,
    /// A recorded image with exactly these layers (RUN containers start
    /// from it); None for `scratch` before any layer.
    pub image: Option<Digest>,
    pub key: String,
    /// Every timestamp of the stage (seconds).
    pub epoch: i64,
}

/// BuildKit's PATH for an image that sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The stage's variables: ARGs declared in it (with values) and ENV.
pub(super) struct Scope {
    pub args: BTreeMap<String, Option<String>>,
}

impl State {
    pub fn run_config(&mut self) -> &mut RunConfig {
        self.config.config.get_or_insert_with(Default::default)
    }

    pub fn env(&self) -> Vec<String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
    }

    pub fn created(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.epoch)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
    }

    /// A history entry for a step.
    pub fn history(&mut self, created_by: String, empty_layer: bool) {
        let created = self.created();
        // The image is as old as its last step: the epoch, not the clock.
        self.config.created = Some(created.clone());
        self.config.history.push(History {
            created: Some(created),
            created_by: Some(created_by),
            empty_layer,
            ..History::default()
        });
    }
}

impl Scope {
    /// A variable's value: ENV first, then the stage's ARGs.
    pub fn lookup(&self, state: &State, name: &str) -> Option<String> {
        let env = state.env();
        if let Some(v) = env.iter().rev().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        }) {
            return Some(v.to_string());
        }
        self.args.get(name).cloned().flatten()
    }

    /// `name=value` of the ARGs with values, sorted (RUN's environment and
    /// its cache key).
    pub fn arg_env(&self, state: &State) -> Vec<String> {
        let env = state.env();
        self.args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            // An ENV of the same name wins.
            .filter(|(k, _)| !env.iter().any(|e| e.split('=').next() == Some(k.as_str())))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

impl Build<'_> {
    pub(super) fn build_stage(&self, index: usize) -> Result<Arc<State>> {
        let stage = &self.plan.stages[index];
        let name = stage.display_name();
        let vertices: Vec<&Located> = stage
            .steps
            .iter()
            .filter(|s| is_vertex(&s.instruction))
            .collect();
        let total = vertices.len() + 1;
        let mut state = self.base(index, total)?;
        let mut scope = Scope {
            args: BTreeMap::new(),
        };
        // The base image's ONBUILD triggers run first, then are dropped.
        let triggers = state
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        let mut steps: Vec<Located> = Vec::new();
        for trigger in triggers {
            // Parsed as the one instruction of a stage (the parser wants
            // a FROM first).
            let parsed = berth_dockerfile::parse("ONBUILD", &format!("FROM scratch\n{trigger}\n"))
                .map_err(|e| Error::invalid(format!("ONBUILD trigger {trigger:?}: {e}")))?;
            steps.extend(parsed.instructions.into_iter().skip(1));
        }
        steps.extend(stage.steps.iter().cloned());
        let mut number = 1;
        let mut cmd_set = false;
        let triggers_run = steps.len() - stage.steps.len();
        for (i, step) in steps.iter().enumerate() {
            if i >= triggers_run {
                self.progress.event(BuildEvent::Instruction {
                    number: stage.first_instruction + 2 + (i - triggers_run),
                    total: self.plan.instructions,
                    text: &format!("{} {}", step.keyword, step.original),
                });
            }
            if self.failed.load(Ordering::Relaxed) {
                return Err(Error::invalid("stopped: another stage failed"));
            }
            let title = if is_vertex(&step.instruction) {
                number += 1;
                Some(format!(
                    "[{name} {number}/{total}] {} {}",
                    step.keyword, step.original
                ))
            } else {
                None
            };
            self.step(
                index,
                step,
                title.as_deref(),
                &mut state,
                &mut scope,
                &mut cmd_set,
            )
            .map_err(|e| {
                if e.message.starts_with(&self.dockerfile_name) {
                    e
                } else {
                    let kind = e.kind;
                    let mut err = step_error(&self.dockerfile_name, step, &e.message);
                    err.kind = kind;
                    err
                }
            })?;
        }
        // The stage's image as a whole (its config may have changed after
        // its last layer).
        state.config.created = Some(state.created());
        let id = self.record(&state, true)?;
        state.image = Some(id);
        Ok(Arc::new(state))
    }

    /// The stage's FROM: an image (pulled if missing, or with `--pull`),
    /// scratch, or an earlier stage's result.
    fn base(&self, index: usize, total: usize) -> Result<State> {
        let stage = &self.plan.stages[index];
        let vertex = self.next_vertex();
        let title = format!(
            "[{} 1/{total}] FROM {}",
            stage.display_name(),
            stage.from.original
        );
        let started = std::time::Instant::now();
        self.progress.event(BuildEvent::Instruction {
            number: stage.first_instruction + 1,
            total: self.plan.instructions,
            text: &format!("FROM {}", stage.from.original),
        });
        let mut state = match &stage.base {
            Base::Stage(i) => {
                let s = self.stage_result(*i)?;
                (*s).clone()
            }
            Base::Scratch => {
                let host = berth_image::platform::Platform::host();
                let epoch = self.epoch.unwrap_or(0);
                State {
                    config: ImageConfig {
                        created: None,
                        author: None,
                        architecture: host.architecture,
                        os: host.os,
                        variant: host.variant,
                        os_version: None,
                        // BuildKit's for an empty image.
                        config: Some(RunConfig {
                            working_dir: Some("/".into()),
                            ..RunConfig::default()
                        }),
                        rootfs: RootFs {
                            kind: "layers".into(),
                            diff_ids: Vec::new(),
                        },
                        history: Vec::new(),
                        comment: None,
                        docker_version: None,
                    },
                    layers: Vec::new(),
                    size: 0,
                    image: None,
                    key: cache::chain("", &["scratch"]),
                    epoch,
                }
            }
            Base::Image(reference) => {
                self.progress.event(BuildEvent::Start {
                    vertex,
                    name: &title,
                });
                let id = self.base_image(reference)?;
                self.image_state(&id)?
            }
        };
        if let Some(e) = self.epoch {
            state.epoch = e;
        }
        state.key = cache::chain(&state.key, &["epoch", &state.epoch.to_string()]);
        // BuildKit gives an image without PATH the usual one.
        let run = state.run_config();
        let env = run.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        if matches!(stage.base, Base::Image(_)) {
            self.progress.event(BuildEvent::Done {
                vertex,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(state)
    }

    /// An image named in FROM or `--from`: the store's, or pulled.
    pub(super) fn base_image(&self, reference: &str) -> Result<Digest> {
        let have = self
            .engine
            .db
            .read(|c| crate::images::resolve::resolve_id(c, reference));
        match have {
            Ok(id) if !self.options.pull => Ok(id),
            _ => {
                let parsed = berth_image::Reference::parse_with_default_tag(reference)
                    .map_err(|e| Error::invalid(format!("invalid reference {reference:?}: {e}")))?;
                self.engine.pull(
                    &parsed,
                    &crate::images::pull::PullOptions::default(),
                    &crate::progress::Silent,
                )?;
                self.engine
                    .db
                    .read(|c| crate::images::resolve::resolve_id(c, reference))
            }
        }
    }

    /// A stored image as a stage state.
    pub(super) fn image_state(&self, id: &Digest) -> Result<State> {
        let bytes = self.engine.paths.content.read_blob(id)?;
        let config = ImageConfig::parse(&bytes)
            .map_err(|e| Error::internal(format!("image {}: stored config: {e}", id.short())))?;
        let (layers, size) = self.engine.db.read(|c| {
            Ok((
                images::layers(c, id)?,
                images::get(c, id)?.map_or(0, |r| r.size),
            ))
        })?;
        let epoch = config
            .created
            .as_deref()
            .and_then(|c| {
                time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()
            })
            .map_or(0, |t| t.unix_timestamp());
        Ok(State {
            config,
            layers,
            size,
            image: Some(id.clone()),
            key: cache::chain("", &["image", id.as_str()]),
            epoch,
        })
    }

    /// Replaces `state` by the cached image for `key`, if any.
    pub(super) fn cached(&self, key: &str, state: &mut State) -> Result<bool> {
        if self.options.no_cache {
            return Ok(false);
        }
        let Some(id) = self.engine.build_cache_get(key)? else {
            return Ok(false);
        };
        let mut cached = self.image_state(&id)?;
        cached.key = key.to_string();
        cached.epoch = state.epoch;
        *state = cached;
        self.steps_cached.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// After a layer step: the new state recorded (hidden) and cached.
    pub(super) fn commit_state(&self, state: &mut State, key: String) -> Result<()> {
        state.key = key;
        let id = self.record(state, true)?;
        state.image = Some(id.clone());
        self.engine.build_cache_put(&state.key, &id)?;
        self.steps_run.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn step(
        &self,
        stage: usize,
        step: &Located,
        title: Option<&str>,
        state: &mut State,
        scope: &mut Scope,
        cmd_set: &mut bool,
    ) -> Result<()> {
        let escape = self.plan.escape;
        let expand = |text: &str, state: &State, scope: &Scope| -> Result<String> {
            let lookup = |name: &str| scope.lookup(state, name);
            words::expand(text, &lookup, escape).map_err(Error::invalid)
        };
        let created_by = format!("{} {}", step.keyword, step.original);
        match &step.instruction {
            Instruction::From { .. } => unreachable!("stages start at FROM"),
            Instruction::Arg(args) => {
                for (name, default) in args {
                    let value = match self.options.build_args.get(name) {
                        Some(v) => Some(v.clone()),
                        None => match default {
                            Some(d) => Some(expand(d, state, scope)?),
                            None => self
                                .plan
                                .global_args
                                .get(name)
                                .cloned()
                                .flatten()
                                .or_else(|| platform_arg(name)),
                        },
                    };
                    scope.args.insert(name.clone(), value);
                }
                return Ok(());
            }
            Instruction::Env(pairs) => {
                // Every value sees the variables as they were before the
                // instruction (Docker's rule), then all are set.
                let mut expanded = Vec::new();
                for (k, v) in pairs {
                    expanded.push((k.clone(), expand(v, state, scope)?));
                }
                for (k, value) in &expanded {
                    set_env(state.run_config(), k, value);
                }
                let expanded: Vec<String> =
                    expanded.iter().map(|(k, v)| format!("{k}={v}")).collect();
                state.history(format!("ENV {}", expanded.join(" ")), true);
            }
            Instruction::Label(pairs) => {
                let mut expanded = Vec::new();
                let mut labels = Vec::new();
                for (k, v) in pairs {
                    let key = expand(k, state, scope)?;
                    let value = expand(v, state, scope)?;
                    expanded.push(format!("{key}={value}"));
                    labels.push((key, value));
                }
                let run = state.run_config();
                run.labels
                    .get_or_insert_with(Default::default)
                    .extend(labels);
                state.history(format!("LABEL {}", expanded.join(" ")), true);
            }
            Instruction::Expose(ports) => {
                for p in ports {
                    let p = expand(p, state, scope)?;
                    for port in p.split_whitespace() {
                        let port = if port.contains('/') {
                            port.to_ascii_lowercase()
                        } else {
                            format!("{port}/tcp")
                        };
                        state
                            .run_config()
                            .exposed_ports
                            .get_or_insert_with(Default::default)
                            .insert(port, serde_json::json!({}));
                    }
                }
                state.history(created_by.clone(), true);
            }
            Instruction::User(u) => {
                let u = expand(u, state, scope)?;
                state.run_config().user = Some(u.clone());
                state.history(format!("USER {u}"), true);
            }
            Instruction::Volume(paths) => {
                for p in paths {
                    let p = expand(p, state, scope)?;
                    if p.is_empty() {
                        return Err(Error::invalid(
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    state
                        .run_config()
                        .volumes
                        .get_or_insert_with(Default::default)
                        .insert(p, serde_json::json!({}));
                }
                state.history(created_by.clone(), true);
            }
            Instruction::StopSignal(s) => {
                let s = expand(s, state, scope)?;
                berth_runtime::parse_signal(&s)
                    .map_err(|_| Error::invalid(format!("Invalid signal: {s}")))?;
                state.run_config().stop_signal = Some(s);
                state.history(created_by.clone(), true);
            }
            Instruction::Cmd(command) => {
                let args = command_args(command, state);
                state.run_config().cmd = Some(args);
                *cmd_set = true;
                state.history(created_by.clone(), true);
            }
            Instruction::Entrypoint(command) => {
                let args = command_args(command, state);
                let run = state.run_config();
                run.entrypoint = Some(args);
                // Docker: an ENTRYPOINT resets the base image's CMD.
                if !*cmd_set {
                    run.cmd = None;
                }
                state.history(created_by.clone(), true);
            }
            Instruction::Shell(shell) => {
                state.run_config().shell = Some(shell.clone());
                state.history(created_by.clone(), true);
            }
            Instruction::HealthcheckNone => {
                state.run_config().healthcheck = Some(serde_json::json!({"Test": ["NONE"]}));
                state.history(created_by.clone(), true);
            }
            Instruction::Healthcheck { flags, command } => {
                let health = healthcheck(flags, command, state)?;
                state.run_config().healthcheck = Some(health);
                state.history(created_by.clone(), true);
            }
            Instruction::Onbuild { trigger, .. } => {
                state
                    .run_config()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                state.history(created_by.clone(), true);
            }
            Instruction::Maintainer(name) => {
                state.config.author = Some(name.clone());
                state.history(created_by.clone(), true);
            }
            Instruction::Workdir(dir) => {
                let dir = expand(dir, state, scope)?;
                let current = state
                    .config
                    .config
                    .as_ref()
                    .and_then(|c| c.working_dir.clone())
                    .unwrap_or_else(|| "/".into());
                let joined = if dir.starts_with('/') {
                    dir
                } else {
                    format!("{}/{dir}", current.trim_end_matches('/'))
                };
                let cleaned = clean_abs(&joined);
                state.run_config().working_dir = Some(cleaned.clone());
                return self.workdir(title.unwrap_or_default(), &cleaned, state);
            }
            Instruction::Run {
                flags,
                command,
                heredocs,
            } => {
                return self.run_step(
                    stage,
                    title.unwrap_or_default(),
                    flags,
                    command,
                    heredocs,
                    state,
                    scope,
                );
            }
            Instruction::Copy {
                add,
                flags,
                sources,
                dest,
                heredocs,
            } => {
                let expanded_sources = sources
                    .iter()
                    .map(|s| {
                        if s.starts_with("<<") {
                            Ok(s.clone())
                        } else {
                            expand(s, state, scope)
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                let dest = expand(dest, state, scope)?;
                let from = flag(flags, "from")
                    .map(|f| expand(f, state, scope))
                    .transpose()?;
                let chown = flag(flags, "chown")
                    .map(|f| expand(f, state, scope))
                    .transpose()?;
                let step = super::copy_step::CopyStep {
                    add: *add,
                    flags,
                    sources: &expanded_sources,
                    dest: &dest,
                    from: from.as_deref(),
                    chown: chown.as_deref(),
                    heredocs,
                    stage,
                };
                return self.copy_step(title.unwrap_or_default(), &step, state, &created_by);
            }
        }
        self.settle_metadata(state, &created_by)
    }

    /// A metadata step's key: the config it leaves.
    fn settle_metadata(&self, state: &mut State, what: &str) -> Result<()> {
        let config = serde_json::to_string(&state.config.config).unwrap_or_default();
        state.key = cache::chain(&state.key, &[what, &config]);
        Ok(())
    }

    /// `COPY --from`/`--mount from=`: a stage of this build, else an image.
    pub(super) fn source_image(&self, stage: usize, from: &str) -> Result<Digest> {
        match stage_ref(&self.plan.stages, stage, from) {
            Some(i) => {
                let state = self.stage_result(i)?;
                state
                    .image
                    .clone()
                    .ok_or_else(|| Error::internal(format!("stage {from} has no image")))
            }
            None => self.base_image(from),
        }
    }
}

fn is_vertex(i: &Instruction) -> bool {
    matches!(
        i,
        Instruction::Run { .. } | Instruction::Copy { .. } | Instruction::Workdir(_)
    )
}

/// BuildKit's automatic platform ARGs, when declared without a value.
pub(super) fn platform_arg(name: &str) -> Option<String> {
    let host = berth_image::platform::Platform::host();
    let platform = match &host.variant {
        Some(v) => format!("{}/{}/{v}", host.os, host.architecture),
        None => format!("{}/{}", host.os, host.architecture),
    };
    Some(match name {
        "TARGETPLATFORM" | "BUILDPLATFORM" => platform,
        "TARGETOS" | "BUILDOS" => host.os,
        "TARGETARCH" | "BUILDARCH" => host.architecture,
        "TARGETVARIANT" | "BUILDVARIANT" => host.variant.unwrap_or_default(),
        _ => return None,
    })
}

pub(super) fn set_env(run: &mut RunConfig, key: &str, value: &str) {
    let env = run.env.get_or_insert_with(Vec::new);
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// CMD/ENTRYPOINT/RUN's argv: the exec form as is, the shell form through
/// the stage's SHELL.
pub(super) fn command_args(command: &Command, state: &State) -> Vec<String> {
    match command {
        Command::Exec(args) => args.clone(),
        Command::Shell(text) => {
            let mut args = shell_of(state);
            args.push(text.clone());
            args
        }
    }
}

pub(super) fn shell_of(state: &State) -> Vec<String> {
    state
        .config
        .config
        .as_ref()
        .and_then(|c| c.shell.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

fn healthcheck(flags: &[Flag], command: &Command, state: &State) -> Result<serde_json::Value> {
    let mut h = serde_json::Map::new();
    let test = match command {
        Command::Exec(args) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(args.iter().cloned());
            t
        }
        Command::Shell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
    };
    let _ = state;
    h.insert("Test".into(), serde_json::json!(test));
    for (flag_name, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = flag(flags, flag_name) {
            let nanos = crate::containers::parse::parse_go_duration(flag_name, v)?;
            if nanos != 0 {
                h.insert(key.into(), serde_json::json!(nanos));
            }
        }
    }
    if let Some(v) = flag(flags, "retries") {
        let n: i64 = v
            .parse()
            .map_err(|_| Error::invalid(format!("invalid value {v:?} for --retries")))?;
        if n != 0 {
            h.insert("Retries".into(), serde_json::json!(n));
        }
    }
    Ok(serde_json::Value::Object(h))
}

/// An absolute path cleaned (`/a/./b/../c` is `/a/c`).
pub(super) fn clean_abs(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for e in path.split('/') {
        match e {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}
