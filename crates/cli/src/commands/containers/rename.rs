//! `rename`.

use anyhow::Result;
use berth_engine::Engine;

use crate::cli::RenameArgs;

pub fn rename(engine: &Engine, a: RenameArgs) -> Result<u8> {
    engine.rename_container(&a.container, &a.new_name)?;
    Ok(0)
}
