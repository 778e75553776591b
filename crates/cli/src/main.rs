//! The `berth` binary: parses Docker's command line and calls the engine.
//!
//! One multi-call binary: invoked as `berth-runc` it will be the OCI runtime
//! (issue 3); otherwise it is the daemonless CLI.

#![forbid(unsafe_code)]

mod cli;
mod cli_build;
mod cli_containers;
mod cli_networks;
mod cli_registry;
mod commands;
mod format;
mod output;
mod runc;
mod usage_errors;

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
    let mut argv: Vec<String> = std::env::args().collect();
    // `berth help CMD…` is `berth CMD… --help`, as in docker.
    if argv.get(1).is_some_and(|a| a == "help") {
        argv.remove(1);
        argv.push("--help".into());
    }
    let cli = match cli::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_errors::report(e, &argv)),
    };
    let debug = cli.debug || cli.log_level == "debug";
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            if debug {
                eprintln!("DEBU {e:?}");
            }
            eprintln!("Error: {}", output::describe(&e));
            ExitCode::from(commands::exit_code(&e))
        }
    }
}
