//! `load`.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use berth_engine::Engine;

use crate::cli::LoadArgs;

pub fn run(engine: &Engine, args: LoadArgs) -> Result<u8> {
    let report = match &args.input {
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
            engine.load(file)?
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            engine.load(stdin.lock())?
        }
    };
    let mut out = crate::output::stdout();
    for (tag, previous) in &report.renamed {
        writeln!(
            out,
            "The image {} already exists, renaming the old one with ID {previous} to empty string",
            tag.familiar_string()
        )?;
    }
    // As docker: -q hides progress (berth shows none), never what was
    // loaded.
    let _ = args.quiet;
    for image in &report.images {
        if image.tags.is_empty() {
            writeln!(out, "Loaded image ID: {}", image.id)?;
        }
        for tag in &image.tags {
            writeln!(out, "Loaded image: {}", tag.familiar_string())?;
        }
    }
    out.flush()?;
    Ok(0)
}
