//! `run`, `create` and `start`.

use anyhow::Result;
use berth_engine::Engine;

use super::attach::{self, AttachOptions, Ended};
use super::{options, run_error};
use crate::cli::{CreateFlags, RunArgs, StartArgs};

/// Creates the container. Errors in the options are 125 for both `run`
/// and `create`; after them (cidfile, pull, the engine) `run` says 125 and
/// `create` 1, as docker's CLI does.
fn create(engine: &Engine, flags: &CreateFlags, stdin_once: bool, for_run: bool) -> Result<String> {
    let mut request = options::create_request(flags).map_err(run_error)?;
    attached_streams(flags).map_err(run_error)?;
    create_parsed(engine, flags, &mut request, stdin_once).map_err(|e| {
        if for_run {
            e
        } else {
            match e.downcast::<super::ExitError>() {
                Ok(x) if x.code == 125 => super::ExitError {
                    code: 1,
                    message: x.message,
                }
                .into(),
                Ok(x) => x.into(),
                Err(e) => e,
            }
        }
    })
}

fn create_parsed(
    engine: &Engine,
    flags: &CreateFlags,
    request: &mut berth_engine::containers::CreateRequest,
    stdin_once: bool,
) -> Result<String> {
    // What dockerd (not its CLI) refuses: `create` says 1 for these.
    if !flags.storage_opt.is_empty() {
        return Err(run_error(anyhow::anyhow!(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
        )));
    }
    if let Some(driver) = flags.volume_driver.as_deref().filter(|d| *d != "local") {
        return Err(run_error(anyhow::anyhow!(
            "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    // Docker refuses before creating anything, so that two scripts sharing
    // a cidfile cannot both start.
    if let Some(path) = &flags.cidfile
        && path.exists()
    {
        return Err(run_error(anyhow::anyhow!(
            "container ID file found, make sure the other container isn't running or delete {}",
            path.display()
        )));
    }
    request.config.stdin_once = stdin_once;
    let pull = |engine: &Engine| {
        super::super::pull::pull_for_run(
            engine,
            flags.image(),
            flags.platform.as_deref(),
            flags.quiet,
        )
        .map_err(|e| run_error_any(&e))
    };
    if flags.pull == "always" {
        pull(engine)?;
    }
    if let Some(wanted) = flags.platform.as_deref()
        && flags.pull != "always"
    {
        check_platform(engine, flags.image(), wanted).map_err(run_error)?;
    }
    let created = match engine.create_container(request) {
        Err(e) if e.is_missing_image() && flags.pull == "missing" => {
            // Docker's words, then the pull's progress, on stderr.
            eprintln!(
                "Unable to find image '{}' locally",
                shown_image(flags.image())
            );
            pull(engine)?;
            engine.create_container(request).map_err(run_error)?
        }
        other => other.map_err(run_error)?,
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    if let Some(path) = &flags.cidfile {
        // Created new, so that a file made meanwhile is not overwritten.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, created.id.as_bytes()));
        if let Err(e) = written {
            let _ = engine.remove_container(&created.id, true, true);
            return Err(run_error(anyhow::anyhow!(
                "failed to create the container ID file {}: {e}",
                path.display()
            )));
        }
    }
    Ok(created.id)
}

/// `-a STREAM…`: (stdin, stdout, stderr) to attach; none named means the
/// outputs (and stdin with `-i`).
fn attached_streams(flags: &CreateFlags) -> Result<(bool, bool, bool)> {
    if flags.attach.is_empty() {
        return Ok((flags.interactive, true, true));
    }
    let mut streams = (false, false, false);
    for s in &flags.attach {
        match s.to_ascii_lowercase().as_str() {
            "stdin" => streams.0 = true,
            "stdout" => streams.1 = true,
            "stderr" => streams.2 = true,
            _ => anyhow::bail!(
                "invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
            ),
        }
    }
    Ok(streams)
}

/// `--platform` against an image the store has: docker refuses one of
/// another platform (a missing image is pulled for the platform instead).
fn check_platform(engine: &Engine, image: &str, wanted: &str) -> Result<()> {
    let want =
        berth_image::platform::Platform::parse(wanted).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Ok(found) = engine.inspect_image(image) else {
        return Ok(());
    };
    let os = found["Os"].as_str().unwrap_or_default();
    let arch = found["Architecture"].as_str().unwrap_or_default();
    if os != want.os || arch != want.architecture {
        anyhow::bail!(
            "image with reference {image} was found but does not match the specified platform: wanted {}/{}, actual: {os}/{arch}",
            want.os,
            want.architecture
        );
    }
    Ok(())
}

/// The image as Docker names it in "Unable to find image" (tag made explicit).
fn shown_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// A pull failure inside run/create: exit 125 like every berth error there.
fn run_error_any(e: &anyhow::Error) -> anyhow::Error {
    super::ExitError {
        code: 125,
        message: crate::output::describe(e),
    }
    .into()
}

pub fn create_command(engine: &Engine, flags: CreateFlags) -> Result<u8> {
    // As docker: `create -i` closes the container's stdin when the first
    // attached client's ends (`start -a -i` with a pipe).
    let id = create(engine, &flags, flags.interactive, false)?;
    crate::output::print(&format!("{id}\n"))?;
    Ok(0)
}

pub fn run(engine: &Engine, a: RunArgs) -> Result<u8> {
    let flags = &a.flags;
    // Checked before anything is created.
    attach::parse_detach_keys(a.detach_keys.as_deref()).map_err(run_error)?;
    if !a.detach && flags.tty && flags.interactive {
        super::attach::require_terminal_stdin()?;
    }
    if a.detach && !flags.attach.is_empty() {
        // A command-line error in docker's CLI: exit 1, not run's 125.
        return Err(super::ExitError {
            code: 1,
            message: "Conflicting options: -a and -d".into(),
        }
        .into());
    }
    let id = create(engine, flags, !a.detach && flags.interactive, true)?;
    let result = run_created(engine, &a, &id);
    if result.is_err() && flags.rm {
        // `--rm` removes a container whose start failed, as Docker does.
        let _ = engine.remove_container(&id, true, true);
    }
    result
}

fn run_created(engine: &Engine, a: &RunArgs, id: &str) -> Result<u8> {
    let flags = &a.flags;
    let id = id.to_string();
    if a.detach {
        engine
            .spawn_monitor(&id, false)
            .and_then(|mut m| m.wait_started())
            .map_err(run_error)?;
        crate::output::print(&format!("{id}\n"))?;
        return Ok(0);
    }
    let (stdin, stdout, stderr) = attached_streams(flags).map_err(run_error)?;
    let opts = AttachOptions {
        stdin: stdin && flags.interactive,
        stdout,
        stderr,
        tty: flags.tty,
        sig_proxy: a.sig_proxy,
        detach_keys: attach::parse_detach_keys(a.detach_keys.as_deref()).map_err(run_error)?,
    };
    attached_start(engine, &id, &opts)
}

/// Starts a container with a client attached from its first byte of output.
fn attached_start(engine: &Engine, id: &str, opts: &AttachOptions) -> Result<u8> {
    let stream = engine
        .start_attached(id, &opts.engine_options())
        .map_err(run_error)?;
    match attach::relay(engine, stream, opts, Some(id))? {
        Ended::Exited(code) => Ok(code.clamp(0, 255) as u8),
        Ended::Detached => Ok(0),
        Ended::Lost => match engine.container(id) {
            Ok(row) => Ok(row.exit_code.clamp(0, 255) as u8),
            Err(_) => Ok(0),
        },
    }
}

pub fn start(engine: &Engine, a: StartArgs) -> Result<u8> {
    if a.attach || a.interactive {
        let [name] = a.containers.as_slice() else {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        };
        let row = engine.container(name)?;
        let opts = AttachOptions {
            stdin: a.interactive && row.config.open_stdin,
            stdout: true,
            stderr: true,
            tty: row.config.tty,
            sig_proxy: true,
            detach_keys: attach::parse_detach_keys(a.detach_keys.as_deref())?,
        };
        if row.state.is_live() {
            let stream = engine.attach(&row.id, &opts.engine_options())?;
            return match attach::relay(engine, stream, &opts, Some(&row.id))? {
                Ended::Exited(code) => Ok(code.clamp(0, 255) as u8),
                _ => Ok(0),
            };
        }
        return attached_start(engine, &row.id, &opts);
    }
    // As docker: each failure said as it happens, then the ones that
    // failed (only those) named together.
    let mut failed = Vec::new();
    for name in &a.containers {
        match engine.start_container(name) {
            Ok(_) => crate::output::print(&format!("{name}\n"))?,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed.push(name.as_str());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("failed to start containers: {}", failed.join(", "));
    }
    Ok(0)
}
