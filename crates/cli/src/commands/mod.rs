//! One module per command (or family); each turns parsed arguments into
//! engine calls and Docker-shaped output, and returns the exit code.

mod history;
mod images;
mod import;
mod inspect;
mod load;
mod rmi;
mod save;
mod system;
mod tag;

use anyhow::Result;
use berth_engine::{Engine, EngineOptions, ErrorKind};

use crate::cli::{Cli, Command, ImageCommand, SystemCommand};

pub fn run(cli: Cli) -> Result<u8> {
    if let Command::Version = cli.command {
        crate::output::print(&format!("berth version {}\n", env!("CARGO_PKG_VERSION")))?;
        return Ok(0);
    }
    let engine = Engine::open(&EngineOptions {
        root: cli.root,
        run_root: cli.run_root,
    })?;
    match cli.command {
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(&engine, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(&engine, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(&engine, a),
        Command::Inspect(a) => inspect::run(&engine, a),
        Command::Image(ImageCommand::Inspect(a)) => inspect::run_image(&engine, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(&engine, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(&engine, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(&engine, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(&engine, a),
        Command::Image(ImageCommand::Prune(a)) => rmi::prune(&engine, a),
        Command::System(SystemCommand::Df(a)) => system::df(&engine, a),
        Command::System(SystemCommand::Check(a)) => system::check(&engine, a),
        Command::Version => Ok(0),
    }
}

/// Docker's CLI exits 1 for a failed command (125 is for `run`'s own errors,
/// which arrive with containers).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<berth_engine::Error>().map(|e| e.kind) {
        Some(ErrorKind::Internal) | Some(_) | None => 1,
    }
}

/// Docker's short ID: 12 hex digits without the algorithm.
pub fn short_id(id: &berth_image::Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}
