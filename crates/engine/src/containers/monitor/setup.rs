//! The monitor's set-up: its sockets, the container's root mounted in the
//! monitor's own mount namespace, the user resolved in that root, and the
//! container created with its stdio on pipes or a pty.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use berth_image::Digest;
use rustix::fs::{Mode, OFlags};
use rustix::pipe::PipeFlags;
use serde_json::Value;

use super::bind;
use crate::Engine;
use crate::containers::record::ContainerRow;
use crate::containers::user;
use crate::error::{Error, IoContext, Result};
use crate::images::record as images;
use crate::store::snapshots;

pub struct Prepared {
    pub attach: UnixListener,
    /// Only for a container with a terminal: where the init sends the pty.
    pub console: Option<(UnixListener, super::SocketPath)>,
    pub rootfs: PathBuf,
}

/// The monitor's ends of the container's stdio.
pub struct Stdio {
    /// Pipe write end, or a dup of the pty master.
    pub stdin: Option<OwnedFd>,
    /// (stream, read end): the pty master is stream 1.
    pub outputs: Vec<(u8, OwnedFd)>,
    pub pty: Option<OwnedFd>,
}

pub fn prepare(engine: &Engine, row: &ContainerRow, dir: &Path) -> Result<Prepared> {
    std::fs::create_dir_all(dir).ctx("create", dir)?;
    let (attach, _) = bind(dir, "attach.sock")?;
    let console = if row.config.tty {
        Some(bind(dir, "console.sock")?)
    } else {
        None
    };
    let container_dir = engine.paths.container_dir(&row.id);
    let rootfs = container_dir.join("rootfs");
    let lowers = layer_dirs(engine, row)?;
    berth_runtime::overlay::enter_private_mount_namespace()?;
    berth_runtime::overlay::Overlay {
        lowers,
        upper: container_dir.join("diff"),
        work: container_dir.join("work"),
        // `--rm`: the layer dies with the container, so no need to sync it.
        volatile: row.config.host.auto_remove,
    }
    .mount(&rootfs)?;
    let prepared = Prepared {
        attach,
        console,
        rootfs,
    };
    patch_user(
        &container_dir.join("config.json"),
        &prepared.rootfs,
        &row.config.user,
    )?;
    populate_volumes(engine, row, &prepared.rootfs)?;
    Ok(prepared)
}

/// The image's layer directories and the container's init layer, top-most
/// first (overlay's order).
pub(crate) fn layer_dirs(engine: &Engine, row: &ContainerRow) -> Result<Vec<PathBuf>> {
    let image = Digest::parse(&row.image_id)
        .map_err(|e| Error::internal(format!("container {}: image id: {e}", row.id)))?;
    let mut dirs = engine.db.read(|c| {
        let mut dirs = Vec::new();
        for layer in images::layers(c, &image)? {
            let snap = snapshots::ready_for(c, layer.diff_id.as_str())?.ok_or_else(|| {
                Error::internal(format!(
                    "image {}: layer {} is not unpacked; run `berth system check --repair`",
                    image.short(),
                    layer.diff_id
                ))
            })?;
            dirs.push(engine.paths.snapshot_fs(snap.id));
        }
        Ok(dirs)
    })?;
    // The container's init layer goes on top of the image's.
    dirs.push(engine.paths.container_dir(&row.id).join("init"));
    dirs.reverse();
    Ok(dirs)
}

/// New, empty volumes get what the image has where they are mounted.
fn populate_volumes(engine: &Engine, row: &ContainerRow, rootfs: &Path) -> Result<()> {
    let volumes: Vec<_> = row
        .config
        .host
        .mounts
        .iter()
        .filter(|m| m.kind == crate::containers::MountKind::Volume)
        .collect();
    if volumes.is_empty() {
        return Ok(());
    }
    let fd = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("open {}: {e}", rootfs.display())))?;
    let root = crate::containers::root::ContainerRoot {
        path: rootfs.to_path_buf(),
        fd,
    };
    for m in volumes {
        crate::containers::copy::populate_volume(
            &root,
            &m.target,
            &engine.paths.volume_data(&m.source),
        )
        .map_err(|e| e.context(format!("populate volume {} from {}", m.source, m.target)))?;
    }
    Ok(())
}

/// Resolves `-u` in the mounted root and writes uid, gid and groups into
/// the bundle's config.json.
fn patch_user(config_path: &Path, rootfs: &Path, spec_user: &str) -> Result<()> {
    let resolved = user::resolve(rootfs, spec_user)?;
    let text = std::fs::read(config_path).ctx("read", config_path)?;
    let mut spec: Value = serde_json::from_slice(&text)
        .map_err(|e| Error::internal(format!("parse {}: {e}", config_path.display())))?;
    let mut user = serde_json::json!({"uid": resolved.uid, "gid": resolved.gid});
    if !resolved.additional_gids.is_empty() {
        user["additionalGids"] = resolved.additional_gids.clone().into();
    }
    spec["process"]["user"] = user;
    let out = serde_json::to_vec_pretty(&spec)
        .map_err(|e| Error::internal(format!("encode {}: {e}", config_path.display())))?;
    std::fs::write(config_path, out).ctx("write", config_path)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::internal(format!("create a pipe: {e}")))
}

fn dev_null() -> Result<OwnedFd> {
    rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::internal(format!("open /dev/null: {e}")))
}

/// Puts `fd` on this process's stdin, stdout and stderr (as chosen).
fn install(stdin: &OwnedFd, stdout: &OwnedFd, stderr: &OwnedFd) -> Result<()> {
    rustix::stdio::dup2_stdin(stdin.as_fd())
        .and_then(|_| rustix::stdio::dup2_stdout(stdout.as_fd()))
        .and_then(|_| rustix::stdio::dup2_stderr(stderr.as_fd()))
        .map_err(|e| Error::internal(format!("set up the container's stdio: {e}")))
}

/// Creates the container (its init waits for start); returns its pid and
/// the monitor's ends of its stdio.
pub fn create(
    engine: &Engine,
    row: &ContainerRow,
    console: &Option<(UnixListener, super::SocketPath)>,
) -> Result<(i32, Stdio)> {
    let null = dev_null()?;
    let mut stdio = Stdio {
        stdin: None,
        outputs: Vec::new(),
        pty: None,
    };
    // The init inherits fds 0-2 from this process (the runtime clones it).
    if console.is_some() {
        install(&null, &null, &null)?;
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        if row.config.open_stdin {
            let (in_r, in_w) = pipe()?;
            install(&in_r, &out_w, &err_w)?;
            stdio.stdin = Some(in_w);
        } else {
            install(&null, &out_w, &err_w)?;
        }
        stdio.outputs = vec![(1, out_r), (2, err_r)];
    }
    let created = engine.runtime().create(
        &row.id,
        &berth_runtime::CreateOptions {
            bundle: engine.paths.container_dir(&row.id),
            console_socket: console.as_ref().map(|(_, socket)| socket.path.clone()),
            ..Default::default()
        },
    );
    // Our copies of the container's ends must go, or its output never ends.
    install(&null, &null, &null)?;
    let state = created?;
    if let Some((listener, _)) = console {
        let master = berth_runtime::console_socket::receive_pty_master(listener)?;
        let reader = rustix::io::fcntl_dupfd_cloexec(&master, 3)
            .map_err(|e| Error::internal(format!("dup the pty master: {e}")))?;
        if row.config.open_stdin {
            stdio.stdin = Some(
                rustix::io::fcntl_dupfd_cloexec(&master, 3)
                    .map_err(|e| Error::internal(format!("dup the pty master: {e}")))?,
            );
        }
        stdio.outputs = vec![(1, reader)];
        stdio.pty = Some(master);
    }
    Ok((state.pid, stdio))
}

/// Unmounts the root in the monitor's namespace (it dies with the monitor
/// anyway; `--rm` removes the directory, which must not go through the mount).
pub fn unmount(rootfs: &Path) {
    if rustix::mount::unmount(rootfs, rustix::mount::UnmountFlags::DETACH).is_ok()
        && let Some(container_dir) = rootfs.parent()
    {
        berth_runtime::overlay::clear_volatile_marker(&container_dir.join("work"));
    }
}
