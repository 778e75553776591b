//! `inspect` and `image inspect`.

use anyhow::Result;
use berth_engine::{Engine, ErrorKind};
use serde_json::Value;

use crate::cli::{ImageInspectArgs, InspectArgs};
use crate::format::Template;

pub fn run(engine: &Engine, args: InspectArgs) -> Result<u8> {
    if let Some(kind) = args.kind.as_deref()
        && kind != "image"
    {
        anyhow::bail!(
            "\"{kind}\" is not a valid value for --type (only images exist until containers land)"
        );
    }
    inspect(engine, &args.names, args.format.as_deref(), "object")
}

pub fn run_image(engine: &Engine, args: ImageInspectArgs) -> Result<u8> {
    inspect(engine, &args.images, args.format.as_deref(), "image")
}

fn inspect(engine: &Engine, names: &[String], format: Option<&str>, noun: &str) -> Result<u8> {
    let template = match format {
        None | Some("") | Some("json") => None,
        Some(f) => Some(Template::parse(
            &f.replace("\\t", "\t").replace("\\n", "\n"),
        )?),
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match engine.inspect_image(name) {
            Ok(v) => found.push(v),
            Err(e) if e.kind == ErrorKind::NotFound => {
                errors.push(format!("No such {noun}: {name}"))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut text = String::new();
    match &template {
        None => {
            text = crate::output::json_pretty(&Value::Array(found));
            text.push('\n');
        }
        Some(t) => {
            for v in &found {
                text.push_str(&t.render(v)?);
                text.push('\n');
            }
        }
    }
    crate::output::print(&text)?;
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
