//! `save`.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use berth_engine::Engine;
use berth_engine::images::SaveFormat;

use crate::cli::SaveArgs;

pub fn run(engine: &Engine, args: SaveArgs) -> Result<u8> {
    let format = match args.format.as_str() {
        "oci" | "oci-archive" => SaveFormat::Oci,
        _ => SaveFormat::Docker,
    };
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed, so a failed save leaves no
            // half archive under the name the user asked for.
            let tmp = path.with_file_name(format!(
                ".{}.berth-tmp",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("save")
            ));
            let file =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let result = engine.save(
                &args.images,
                std::io::BufWriter::with_capacity(1 << 20, &file),
                format,
            );
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            file.sync_all()
                .with_context(|| format!("fsync {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            engine.save(&args.images, &mut out, format)?;
            out.flush()?;
        }
    }
    Ok(0)
}
