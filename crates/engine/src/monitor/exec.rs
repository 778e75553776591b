//! Starting an exec, in the monitor: the request comes from the store, the
//! process is the container's own (as the monitor built it at start) with
//! the request's changes, its stdio are pipes or a pty the monitor made, and
//! it is cloned from the monitor, which runs from the sealed binary. So
//! nothing of the caller's (its terminal, its files, its binary) ever
//! reaches the container, and every exec is supervised: its exit code is
//! recorded when it ends.

use std::path::Path;

use oci_spec::runtime::Process;

use super::protocol::Hello;
use super::setup::{ProcessEnds, Stdio};
use crate::Engine;
use crate::containers::exec::{ExecRequest, ExecState};
use crate::containers::exec_record;
use crate::containers::{security, user};
use crate::error::{Error, Result, Subject};
use crate::runtimes::NewProcessIo;

pub struct Started {
    pub pid: i32,
    pub stdio: Stdio,
    pub tty: bool,
}

pub fn start(
    engine: &Engine,
    container_id: &str,
    rootfs: &Path,
    exec_id: &str,
    hello: &Hello,
) -> Result<Started> {
    // Claimed in one transaction, so an exec starts at most once.
    let request = engine.db.write_relaxed(|c| {
        let rec = exec_record::get(c, exec_id)?.ok_or_else(|| {
            Error::not_found(format!("No such exec instance: {exec_id}")).about(Subject::Exec)
        })?;
        if rec.container_id != container_id {
            return Err(
                Error::not_found(format!("No such exec instance: {exec_id}")).about(Subject::Exec),
            );
        }
        if rec.state != ExecState::Created {
            return Err(Error::conflict(format!(
                "exec {exec_id} has already been started"
            )));
        }
        exec_record::set_running(c, exec_id, 0)?;
        Ok(rec.request)
    })?;
    // Failures from here on are the process's (Docker's 126 and 127).
    let started = launch(engine, container_id, rootfs, &request, hello.size)
        .map_err(|e| e.about(Subject::Exec));
    match &started {
        Ok(s) => {
            engine.db.write_relaxed(|c| {
                exec_record::set_running(c, exec_id, s.pid)?;
                if let Some(row) = crate::containers::record::get(c, container_id)? {
                    let action = format!("exec_start: {}", request.args.join(" "));
                    crate::store::event_log::record(
                        c,
                        &crate::events::container_event(&row, &action).with("execID", exec_id),
                    )?;
                }
                Ok(())
            })?;
            engine.events_changed();
        }
        Err(e) => {
            let code = e.kind.exec_start_exit_code() as i32;
            let _ = engine
                .db
                .write_relaxed(|c| exec_record::set_exited(c, exec_id, code));
        }
    }
    started
}

/// A health check's process: the container's own (user, environment,
/// working directory) with the check's arguments, no stdin, no terminal.
pub(super) fn launch_probe(
    engine: &Engine,
    container_id: &str,
    rootfs: &Path,
    args: &[String],
) -> Result<Started> {
    let request = ExecRequest {
        args: args.to_vec(),
        env: Vec::new(),
        user: None,
        workdir: None,
        tty: false,
        privileged: false,
        open_stdin: false,
    };
    launch(engine, container_id, rootfs, &request, None)
}

fn launch(
    engine: &Engine,
    container_id: &str,
    rootfs: &Path,
    request: &ExecRequest,
    size: Option<(u16, u16)>,
) -> Result<Started> {
    let runtime = engine.runtime_of(container_id);
    let spec = runtime.saved_spec(container_id)?;
    // `--group-add` holds for an exec with its own `-u` too, as in Docker.
    let group_add = engine.container(container_id)?.config.host.group_add;
    let process = process_for(
        spec.process().clone().unwrap_or_default(),
        request,
        rootfs,
        &group_add,
        size,
    )?;
    let ProcessEnds { io, console, ours } =
        ProcessEnds::new(request.tty, request.open_stdin, false)?;
    // The process's ends go with the call: our copies must not stay, or
    // its output never ends.
    let (pid, console) = runtime.exec(
        container_id,
        process,
        NewProcessIo { stdio: io, console },
        &super::monitor_dir(&engine.run_root, container_id),
    )?;
    let stdio = ours.with_console(console).finish(request.open_stdin)?;
    Ok(Started {
        pid,
        stdio,
        tty: request.tty,
    })
}

/// The container's process with the exec's arguments, environment, user,
/// working directory and terminal.
fn process_for(
    mut process: Process,
    request: &ExecRequest,
    rootfs: &Path,
    group_add: &[String],
    size: Option<(u16, u16)>,
) -> Result<Process> {
    if request.args.is_empty() {
        return Err(Error::invalid("exec: no command given"));
    }
    process.set_args(Some(request.args.clone()));
    process.set_terminal(Some(request.tty));
    if let (true, Some((rows, cols))) = (request.tty, size) {
        process.set_console_size(
            oci_spec::runtime::BoxBuilder::default()
                .height(rows as u64)
                .width(cols as u64)
                .build()
                .ok(),
        );
    }
    let mut env = process.env().clone().unwrap_or_default();
    for e in &request.env {
        let key = e.split('=').next().unwrap_or_default();
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    process.set_env(Some(env));
    if let Some(dir) = request.workdir.as_deref().filter(|d| !d.is_empty()) {
        process.set_cwd(dir.into());
    }
    if let Some(u) = request.user.as_deref().filter(|u| !u.is_empty()) {
        let resolved = user::resolve(rootfs, u, group_add)?;
        let mut spec_user = process.user().clone();
        spec_user.set_uid(resolved.uid);
        spec_user.set_gid(resolved.gid);
        spec_user.set_additional_gids(Some(resolved.additional_gids));
        process.set_user(spec_user);
    }
    if request.privileged {
        // Every capability, as `docker exec --privileged` gives.
        let all = security::capabilities(true, &[], &[])?;
        let caps: oci_spec::runtime::Capabilities = serde_json::from_value(all.into())
            .map_err(|e| Error::internal(format!("exec --privileged: capabilities: {e}")))?;
        let mut c = process.capabilities().clone().unwrap_or_default();
        c.set_bounding(Some(caps.clone()));
        c.set_effective(Some(caps.clone()));
        c.set_permitted(Some(caps));
        process.set_capabilities(Some(c));
    }
    Ok(process)
}
