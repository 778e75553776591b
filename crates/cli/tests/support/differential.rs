//! One command line, run by the docker CLI against a private dockerd and by
//! berth on its store: the differential tests record each side's steps and
//! compare them.

use std::process::{Command, Output, Stdio};

use super::Store;
use super::dockerd::Dockerd;

/// One side of the comparison: how to run a command line.
pub trait Cli {
    fn command(&self, args: &[&str]) -> Command;
    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run")
    }
}

impl Cli for Store {
    fn command(&self, args: &[&str]) -> Command {
        Store::command(self, args)
    }
}

impl Cli for Dockerd {
    fn command(&self, args: &[&str]) -> Command {
        Dockerd::command(self, args)
    }
}

/// (stdout, exit code) of one step.
pub type Step = (String, i32);

pub fn step(cli: &dyn Cli, args: &[&str]) -> Step {
    let out = cli.run(args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}
