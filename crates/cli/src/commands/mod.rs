//! One module per command (or family); each turns parsed arguments into
//! engine calls and Docker-shaped output, and returns the exit code.

mod build;
mod build_tty;
mod containers;
mod daemon;
mod events;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod load;
mod login;
mod network;
mod progress;
mod prune;
mod pull;
mod rmi;
mod save;
mod search;
mod system;
mod tag;
mod version;

use anyhow::Result;
use berth_engine::{Engine, EngineOptions, ErrorKind};

use crate::cli::{BuilderCommand, Cli, Command, ContainerCommand, ImageCommand, SystemCommand};
use containers::run as run_cmd;
use containers::{
    attach, commit, exec, files, lifecycle, logs, port, ps, rename, stats, top, update, volume,
};

pub fn run(cli: Cli) -> Result<u8> {
    if let Command::Version(a) = &cli.command {
        return version::run(a);
    }
    let options = EngineOptions {
        root: cli.root,
        run_root: cli.run_root,
        binary: None,
    };
    if let Command::Monitor(a) = &cli.command {
        // Re-executes from a sealed copy of the binary (the container's
        // init is cloned from the monitor); returns only if that failed.
        berth_runtime::sealed::ensure_sealed()?;
        let code = berth_engine::monitor::run(&options, &a.id, a.wait_attach);
        return Ok(code as u8);
    }
    if let Command::Dns(a) = &cli.command {
        let code = berth_engine::networks::dns::run(&options, &a.network_id);
        return Ok(code as u8);
    }
    if let Command::Daemon(a) = cli.command {
        return daemon::run(&options, a);
    }
    let engine = Engine::open(&options).map_err(|e| match &cli.command {
        Command::Run(_) | Command::Create(_) => containers::run_error(e),
        _ => e.into(),
    })?;
    match cli.command {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => run_cmd::run(&engine, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            run_cmd::create_command(&engine, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            run_cmd::start(&engine, a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            lifecycle::stop(&engine, a)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            lifecycle::restart(&engine, a)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            lifecycle::kill(&engine, a)
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            lifecycle::pause(&engine, a)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            lifecycle::unpause(&engine, a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => lifecycle::rm(&engine, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ps::run(&engine, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => logs::run(&engine, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            lifecycle::wait(&engine, a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => exec::run(&engine, a),
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            commit::run(&engine, a)
        }
        Command::Container(ContainerCommand::Inspect(a)) => inspect::run_container(&engine, a),
        Command::Container(ContainerCommand::Prune(a)) => lifecycle::prune(&engine, a),
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => files::diff(&engine, a),
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => files::cp(&engine, a),
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            files::export(&engine, a)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => top::top(&engine, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            stats::stats(&engine, a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            rename::rename(&engine, a)
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            update::update(&engine, a)
        }
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => port::port(&engine, a),
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            attach::attach(&engine, a)
        }
        Command::Volume(c) => volume::run(&engine, c),
        Command::Network(c) => network::run(&engine, c),
        Command::Monitor(_) | Command::Dns(_) => Ok(0),
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
        Command::Build(a)
        | Command::Image(ImageCommand::Build(a))
        | Command::Builder(BuilderCommand::Build(a)) => build::run(&engine, a),
        Command::Builder(BuilderCommand::Prune(a)) => build::prune(&engine, a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::pull(&engine, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => pull::push(&engine, a),
        Command::Login(a) => login::login(&engine, a),
        Command::Logout(a) => login::logout(&engine, a),
        Command::Search(a) => search::run(&engine, a),
        Command::System(SystemCommand::Df(a)) => system::df(&engine, a),
        Command::System(SystemCommand::Check(a)) => system::check(&engine, a),
        Command::System(SystemCommand::Restore) => system::restore(&engine),
        Command::System(SystemCommand::Prune(a)) => prune::system(&engine, a),
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => info::run(&engine, a),
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => events::run(&engine, a),
        Command::Version(_) | Command::Daemon(_) => Ok(0),
    }
}

/// Docker's CLI exits 1 for a failed command (125 is for `run`'s own errors,
/// which arrive with containers).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(exit) = e.downcast_ref::<containers::ExitError>() {
        return exit.code;
    }
    // As docker: a template that does not parse exits 64 (EX_USAGE).
    if e.downcast_ref::<crate::format::TemplateError>()
        .is_some_and(|t| t.parse)
    {
        return 64;
    }
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
