//! `import FILE|- [REPOSITORY[:TAG]]`.

use anyhow::{Context, Result};
use berth_engine::Engine;
use berth_engine::images::ImportOptions;

use crate::cli::ImportArgs;

pub fn run(engine: &Engine, args: ImportArgs) -> Result<u8> {
    if args.source.starts_with("http://") || args.source.starts_with("https://") {
        anyhow::bail!(
            "import from a URL is not supported yet: download {} and import the file",
            args.source
        );
    }
    let options = ImportOptions {
        reference: args.reference.clone(),
        changes: args.change.clone(),
        message: args.message.clone(),
        platform: args.platform.clone(),
        source: args.source.clone(),
    };
    let id = if args.source == "-" {
        engine.import(std::io::stdin().lock(), &options)?
    } else {
        let file =
            std::fs::File::open(&args.source).with_context(|| format!("open {}", args.source))?;
        engine.import(
            file,
            &ImportOptions {
                source: "-".into(),
                ..options
            },
        )?
    };
    crate::output::print(&format!("{id}\n"))?;
    Ok(0)
}
