//! The `berth` binary: parses Docker's command line and calls the engine.
//!
//! One multi-call binary: invoked as `berth-runc` it will be the OCI runtime
//! (issue 3); otherwise it is the daemonless CLI.

#![forbid(unsafe_code)]

mod cli;
mod cli_containers;
mod cli_networks;
mod cli_registry;
mod commands;
mod format;
mod output;
mod runc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if berth_runtime::mini_init::invoked_as_init() {
        // `--init`: this binary is the container's pid 1 (see mini_init).
        std::process::exit(berth_runtime::mini_init::main());
    }
    if runc::invoked_as_runc() {
        return runc::main();
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Docker exits 125 on a bad command line; help and version are not errors.
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 125,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("Error: {}", output::describe(&e));
            ExitCode::from(commands::exit_code(&e))
        }
    }
}
