//! RUN: a container on the path `run` takes (created from the stage's
//! current image, started with its output attached, its exit awaited),
//! whose writable layer is committed as the stage's next layer; the
//! container is removed either way. Its environment is the stage's ENV and
//! the ARGs in scope; `--network` and `--mount` (cache, bind from the
//! context, tmpfs, secret) shape it.

use berth_dockerfile::instruction::{Command, Flag};
use berth_dockerfile::lines::Heredoc;

use super::plan::flag;
use super::stage::{Scope, State, command_args, shell_of};
use super::{BUILD_OWNER_LABEL, Build, BuildEvent, cache};
use crate::containers::attach::{AttachOptions, Output};
use crate::containers::{ContainerConfig, CreateRequest, MountKind, MountSpec};
use crate::error::{Error, Result};

/// Build args every RUN sees without an ARG (Docker's predefined ones).
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

impl Build<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_step(
        &self,
        stage: usize,
        title: &str,
        flags: &[Flag],
        command: &Command,
        heredocs: &[Heredoc],
        state: &mut State,
        scope: &Scope,
    ) -> Result<()> {
        let _ = stage;
        let vertex = self.next_vertex();
        self.progress.event(BuildEvent::Start {
            vertex,
            name: title,
        });
        let started = std::time::Instant::now();
        let (args, stdin) = run_args(command, heredocs, state);
        let network = flag(flags, "network").unwrap_or(self.options.network.as_str());
        let network = match network {
            "" | "default" => String::new(),
            "none" | "host" => network.to_string(),
            other => {
                return Err(Error::invalid(format!(
                    "unsupported network mode {other:?} for RUN (default, none or host)"
                )));
            }
        };
        if let Some(s) = flag(flags, "security") {
            return Err(Error::unsupported(format!(
                "RUN --security={s}: berth runs build steps unprivileged only"
            )));
        }
        let mut mounts = Vec::new();
        for f in flags.iter().filter(|f| f.name == "mount") {
            if let Some(m) = self.run_mount(f.value.as_deref().unwrap_or_default())? {
                mounts.push(m);
            }
        }
        let mut arg_env = scope.arg_env(state);
        for name in PROXY_ARGS {
            if let Some(v) = self.options.build_args.get(*name)
                && !scope.args.contains_key(*name)
            {
                arg_env.push(format!("{name}={v}"));
            }
        }
        let mounts_key = serde_json::to_string(&mounts).unwrap_or_default();
        let key = cache::chain(
            &state.key,
            &[
                "RUN",
                &serde_json::to_string(&args).unwrap_or_default(),
                &arg_env.join("\n"),
                &mounts_key,
                &network,
                stdin.as_deref().unwrap_or_default(),
            ],
        );
        if self.cached(&key, state)? {
            self.progress.event(BuildEvent::Cached { vertex });
            return Ok(());
        }
        // Docker's history line: `|N K=V… ` before the command when build
        // args are in scope.
        let shown_args: Vec<&String> = arg_env.iter().filter(|e| !is_proxy(e)).collect();
        let created_by = if shown_args.is_empty() {
            format!("RUN {}", args.join(" "))
        } else {
            format!(
                "RUN |{} {} {}",
                shown_args.len(),
                shown_args
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                args.join(" ")
            )
        };
        let image = state.image.clone().filter(|_| !state.layers.is_empty()).ok_or_else(|| {
            Error::invalid(format!(
                "process \"{}\" did not complete successfully: the stage has no root file system to run it in (FROM scratch)",
                args.join(" ")
            ))
        })?;
        // Files the runtime makes as mount points for bind mounts that
        // the image lacks are not part of the step's layer (BuildKit).
        let stubs: Vec<String> = {
            let binds: Vec<&MountSpec> = mounts
                .iter()
                .filter(|m| m.kind == MountKind::Bind)
                .collect();
            if binds.is_empty() {
                Vec::new()
            } else {
                let tree = self.image_tree(&image, "the image")?;
                binds
                    .into_iter()
                    .filter(|m| {
                        tree.open_in(m.target.trim_start_matches('/'), rustix::fs::OFlags::PATH)
                            .is_err()
                    })
                    .map(|m| m.target.trim_start_matches('/').to_string())
                    .collect()
            }
        };
        let run = state.config.config.clone().unwrap_or_default();
        let mut config = ContainerConfig {
            image: image.to_string(),
            entrypoint: Some(vec![String::new()]),
            cmd: args.clone(),
            env: arg_env,
            working_dir: run.working_dir.clone().unwrap_or_default(),
            user: run.user.clone().unwrap_or_default(),
            open_stdin: stdin.is_some(),
            stdin_once: stdin.is_some(),
            ..ContainerConfig::default()
        };
        config
            .labels
            .insert(BUILD_OWNER_LABEL.to_string(), self.engine.owner.file_tag());
        config.host = self.options.run_host.clone();
        config.host.network_mode = network;
        config.host.mounts = mounts;
        config.host.log_config.kind = "none".into();
        let created = self.engine.create_container(&CreateRequest {
            name: None,
            config,
            entrypoint_set: true,
            build_step: true,
        })?;
        let id = created.id;
        let outcome = self.run_container(&id, vertex, stdin.as_deref());
        let committed = match outcome {
            Ok(0) => (|| {
                let row = self.engine.container(&id)?;
                let snapshot = self.engine.container_snapshot(&row)?;
                let upper = snapshot
                    .upper
                    .as_ref()
                    .map(|u| u.dir.clone())
                    .unwrap_or_default();
                for stub in &stubs {
                    let path = upper.join(stub);
                    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                let changed = std::fs::read_dir(&upper)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false);
                if changed {
                    // The monitor's mount namespace may still hold the
                    // container's root: its layer is unpacked, not adopted.
                    self.commit_layer(state, &snapshot, &created_by, false)
                } else {
                    state.history(created_by.clone(), true);
                    Ok(())
                }
            })(),
            Ok(code) => Err(Error::invalid(format!(
                "process \"{}\" did not complete successfully: exit code: {code}",
                args.join(" ")
            ))),
            Err(e) => Err(e),
        };
        let _ = self.engine.remove_container(&id, true, true);
        committed?;
        self.commit_state(state, key)?;
        self.progress.event(BuildEvent::Done {
            vertex,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// Starts the container attached; its output to the progress; its
    /// exit code.
    fn run_container(&self, id: &str, vertex: usize, stdin: Option<&str>) -> Result<i32> {
        let mut stream = self.engine.start_attached(
            id,
            &AttachOptions {
                stdin: stdin.is_some(),
                stdout: true,
                stderr: true,
                size: None,
            },
        )?;
        if let Some(body) = stdin {
            let mut input = stream.input()?;
            input
                .stdin(body.as_bytes())
                .and_then(|()| input.stdin_eof())
                .map_err(|e| Error::internal(format!("RUN's heredoc: {e}")))?;
        }
        loop {
            match stream.next_output() {
                Ok(Some(Output::Stdout(data) | Output::Stderr(data))) => {
                    self.progress.event(BuildEvent::Output {
                        vertex,
                        data: &data,
                    });
                }
                Ok(Some(Output::Exit(code))) => return Ok(code),
                Ok(None) => {
                    return Err(Error::internal(
                        "the build step's container ended without an exit code",
                    ));
                }
                Err(e) => return Err(Error::internal(format!("the build step's output: {e}"))),
            }
        }
    }

    /// One `--mount`: cache (a directory of the store's that outlives
    /// builds), bind (from the context, read-only), tmpfs, secret.
    fn run_mount(&self, spec: &str) -> Result<Option<MountSpec>> {
        let mut kind = "bind";
        let mut options = std::collections::BTreeMap::new();
        for part in spec.split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if k == "type" {
                kind = v;
            } else {
                options.insert(k.to_string(), v.to_string());
            }
        }
        let target = options
            .get("target")
            .or_else(|| options.get("dst"))
            .or_else(|| options.get("destination"))
            .cloned();
        let need_target = || {
            target
                .clone()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::invalid(format!("--mount {spec}: a target is required")))
        };
        match kind {
            "cache" => {
                let target = need_target()?;
                let id = options.get("id").cloned().unwrap_or_else(|| target.clone());
                let dir = self
                    .engine
                    .paths
                    .root
                    .join("build-cache-mounts")
                    .join(berth_image::Digest::of(id.as_bytes()).hex());
                std::fs::create_dir_all(&dir).map_err(|e| {
                    Error::internal(format!("create cache mount {}: {e}", dir.display()))
                })?;
                Ok(Some(MountSpec {
                    kind: MountKind::Bind,
                    source: dir.to_string_lossy().into_owned(),
                    target,
                    read_only: false,
                    options: Vec::new(),
                    anonymous: false,
                }))
            }
            "bind" => {
                let target = need_target()?;
                if options.contains_key("from") {
                    return Err(Error::unsupported(format!(
                        "--mount {spec}: a bind mount from another stage or image is not supported by berth yet (COPY --from it instead)"
                    )));
                }
                let source = options.get("source").or_else(|| options.get("src"));
                let rel = super::tree::clean_source(source.map_or("", |s| s.as_str()))?;
                // Resolved inside the context; the path it resolved to.
                let fd = self
                    .context
                    .open_in(&rel, rustix::fs::OFlags::PATH)
                    .map_err(|e| self.context.error("open", &rel, e))?;
                let real = std::fs::read_link(format!(
                    "/proc/self/fd/{}",
                    std::os::fd::AsRawFd::as_raw_fd(&fd)
                ))
                .map_err(|e| Error::internal(format!("--mount {spec}: {e}")))?;
                Ok(Some(MountSpec {
                    kind: MountKind::Bind,
                    source: real.to_string_lossy().into_owned(),
                    target,
                    read_only: true,
                    options: Vec::new(),
                    anonymous: false,
                }))
            }
            "tmpfs" => Ok(Some(MountSpec {
                kind: MountKind::Tmpfs,
                source: String::new(),
                target: need_target()?,
                read_only: false,
                options: options
                    .get("size")
                    .map(|s| vec![format!("size={s}")])
                    .unwrap_or_default(),
                anonymous: false,
            })),
            "secret" => {
                let id = options
                    .get("id")
                    .cloned()
                    .or_else(|| {
                        target
                            .as_ref()
                            .and_then(|t| t.rsplit('/').next().map(str::to_string))
                    })
                    .unwrap_or_default();
                let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
                match self.options.secrets.get(&id) {
                    Some(src) => Ok(Some(MountSpec {
                        kind: MountKind::Bind,
                        source: src.to_string_lossy().into_owned(),
                        target,
                        read_only: true,
                        options: Vec::new(),
                        anonymous: false,
                    })),
                    None if options.contains_key("required")
                        && options.get("required").map(String::as_str) != Some("false") =>
                    {
                        Err(Error::invalid(format!("secret {id} not found")))
                    }
                    None => Ok(None),
                }
            }
            other => Err(Error::unsupported(format!(
                "--mount type={other} is not supported by berth (cache, bind, tmpfs, secret)"
            ))),
        }
    }
}

fn is_proxy(env: &str) -> bool {
    PROXY_ARGS.contains(&env.split('=').next().unwrap_or_default())
}

/// RUN's argv: `RUN <<EOF` alone runs the heredoc as the shell's script;
/// `RUN cmd <<EOF` gives the shell the command with its heredocs, as
/// BuildKit does. (The second value, a stdin for the process, is for
/// forms that need one; none does yet.)
fn run_args(
    command: &Command,
    heredocs: &[Heredoc],
    state: &State,
) -> (Vec<String>, Option<String>) {
    let Command::Shell(text) = command else {
        return (command_args(command, state), None);
    };
    let Some(first) = heredocs.first() else {
        return (command_args(command, state), None);
    };
    let only = text
        .trim()
        .trim_start_matches("<<")
        .trim_start_matches('-')
        .trim_matches(['"', '\''])
        == first.name;
    let mut args = shell_of(state);
    if only {
        args.push(first.body.clone());
    } else {
        let mut script = text.clone();
        script.push('\n');
        for doc in heredocs {
            script.push_str(&doc.body);
            script.push_str(&doc.name);
            script.push('\n');
        }
        args.push(script);
    }
    (args, None)
}
