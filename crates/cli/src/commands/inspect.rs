//! `inspect` and `image inspect`.

use anyhow::Result;
use berth_engine::{Engine, ErrorKind};
use serde_json::Value;

use crate::cli::{ImageInspectArgs, InspectArgs};

/// What `inspect` looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    Image,
    Container,
    Volume,
    Network,
}

pub fn run(engine: &Engine, args: InspectArgs) -> Result<u8> {
    let kind = match args.kind.as_deref() {
        None => Kind::Any,
        Some("image") => Kind::Image,
        Some("container") => Kind::Container,
        Some("volume") => Kind::Volume,
        Some("network") => Kind::Network,
        Some(other) => anyhow::bail!("\"{other}\" is not a valid value for --type"),
    };
    inspect(engine, &args.names, args.format.as_deref(), kind, args.size)
}

pub fn run_image(engine: &Engine, args: ImageInspectArgs) -> Result<u8> {
    inspect(
        engine,
        &args.images,
        args.format.as_deref(),
        Kind::Image,
        false,
    )
}

pub fn run_container(engine: &Engine, args: ImageInspectArgs) -> Result<u8> {
    inspect(
        engine,
        &args.images,
        args.format.as_deref(),
        Kind::Container,
        false,
    )
}

/// Containers first, then images, then volumes and networks, as Docker
/// looks them up. With `size`, a container's JSON gets SizeRw and
/// SizeRootFs (docker adds them only when asked: they cost a walk).
fn lookup(engine: &Engine, name: &str, kind: Kind, size: bool) -> berth_engine::Result<Value> {
    match kind {
        Kind::Volume => return Ok(engine.volume(name)?.docker_json()),
        Kind::Network => return Ok(engine.network_json(&engine.network(name)?)),
        _ => {}
    }
    if kind != Kind::Image {
        match engine.container(name) {
            Ok(row) => {
                let mut json = engine.inspect_container(&row);
                if size && let Value::Object(m) = &mut json {
                    let (rw, root) = engine.container_size(&row.id);
                    m.insert("SizeRw".into(), rw.into());
                    m.insert("SizeRootFs".into(), root.into());
                }
                return Ok(json);
            }
            Err(e) if e.kind == ErrorKind::NotFound && kind == Kind::Any => {}
            Err(e) => return Err(e),
        }
    }
    match engine.inspect_image(name) {
        Err(e) if e.kind == ErrorKind::NotFound && kind == Kind::Any => {}
        other => return other,
    }
    match engine.volume(name) {
        Ok(v) => return Ok(v.docker_json()),
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    engine.network(name).map(|n| engine.network_json(&n))
}

fn inspect(
    engine: &Engine,
    names: &[String],
    format: Option<&str>,
    kind: Kind,
    size: bool,
) -> Result<u8> {
    let noun = match kind {
        Kind::Any => "object",
        Kind::Image => "image",
        Kind::Container => "container",
        Kind::Volume => "volume",
        Kind::Network => "network",
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match lookup(engine, name, kind, size) {
            Ok(v) => found.push(v),
            Err(e) if e.kind == ErrorKind::NotFound => {
                errors.push(format!("No such {noun}: {name}"))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let text = crate::format::render_inspect(format, &found)?;
    crate::output::print(&text)?;
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
