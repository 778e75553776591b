//! `import FILE|- [REPOSITORY[:TAG]]`.

use anyhow::{Context, Result};
use berth_engine::Engine;
use berth_engine::images::ImportOptions;

use crate::cli::ImportArgs;

pub fn run(engine: &Engine, args: ImportArgs) -> Result<u8> {
    let options = ImportOptions {
        reference: args.reference.clone(),
        changes: args.change.clone(),
        message: args.message.clone(),
        platform: args.platform.clone(),
        source: args.source.clone(),
        input: None,
    };
    // A URL as the docker CLI decides it; the daemon would download it.
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let id = if is_url {
        engine.import_url(&args.source, &options)?
    } else if args.source == "-" {
        engine.import(std::io::stdin().lock(), &options)?
    } else {
        let file =
            std::fs::File::open(&args.source).with_context(|| format!("open {}", args.source))?;
        engine.import(
            file,
            &ImportOptions {
                // The docker CLI sends a file as the body: history says `-`.
                source: "-".into(),
                input: Some(args.source.clone()),
                ..options
            },
        )?
    };
    crate::output::print(&format!("{id}\n"))?;
    Ok(0)
}
