//! `tag SOURCE TARGET`.

use anyhow::Result;
use berth_engine::Engine;

use crate::cli::TagArgs;

pub fn run(engine: &Engine, args: TagArgs) -> Result<u8> {
    engine.tag(&args.source, &args.target)?;
    Ok(0)
}
