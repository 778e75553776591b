//! `commit`.

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::containers::commit::CommitOptions;

use crate::cli::CommitArgs;

pub fn run(engine: &Engine, a: CommitArgs) -> Result<u8> {
    let id = engine.commit_container(
        &a.container,
        &CommitOptions {
            reference: a.reference.clone(),
            author: a.author.clone(),
            message: a.message.clone(),
            changes: a.change.clone(),
            pause: a.pause,
        },
    )?;
    crate::output::print(&format!("{id}\n"))?;
    Ok(0)
}
