//! RUN: a container on the path `run` takes (created from the stage's
//! current image, started with its output attached, its exit awaited),
//! whose writable layer is committed as the stage's next layer; the
//! container is removed either way. Its environment is the stage's ENV and
//! the ARGs in scope; `--network` and `--mount` (see `run_mounts.rs`)
//! shape it.

use berth_dockerfile::instruction::{Command, Flag};
use berth_dockerfile::lines::Heredoc;

use super::plan::flag;
use super::run_mounts::{RunMount, unmount};
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
        // Unmounted whatever happens next.
        let mut run_mounts = AttachedMounts(Vec::new());
        for f in flags.iter().filter(|f| f.name == "mount") {
            if let Some(m) = self.run_mount(stage, f.value.as_deref().unwrap_or_default())? {
                run_mounts.0.push(m);
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
        let mounts_key: Vec<&str> = run_mounts.0.iter().map(|m| m.key.as_str()).collect();
        let mounts_key = mounts_key.join("\n");
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
        for m in &mut run_mounts.0 {
            self.attach(m)?;
        }
        let mounts: Vec<MountSpec> = run_mounts.0.iter().map(|m| m.spec.clone()).collect();
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

/// A step's overlays, unmounted when the step is over (its container
/// removed).
struct AttachedMounts(Vec<RunMount>);

impl Drop for AttachedMounts {
    fn drop(&mut self) {
        for point in self.0.iter().filter_map(|m| m.attached.as_ref()) {
            unmount(point);
        }
    }
}
