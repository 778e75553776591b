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

/// Compares each case of docker's run (`theirs`) with berth's (`ours`):
/// a case named in `different` (with its reason) is printed and handed to
/// `check`, which asserts what berth does instead; any other must be the
/// same. Prints the counts (`what`: the table's name) and fails listing
/// every difference.
pub fn assert_same(
    what: &str,
    theirs: &[(String, Step)],
    ours: &[(String, Step)],
    different: &[(&str, &str)],
    check: fn(&str, &Step),
) {
    assert_eq!(
        theirs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        ours.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the same cases ran"
    );
    let mut differences = Vec::new();
    let (mut same, mut deliberate) = (0, 0);
    for ((name, d), (_, b)) in theirs.iter().zip(ours) {
        if let Some((_, why)) = different.iter().find(|(n, _)| n == name) {
            eprintln!("deliberately different: {name} ({why}):\n  docker: {d:?}\n  berth:  {b:?}");
            check(name, b);
            deliberate += 1;
        } else if d != b {
            differences.push(format!("{name}:\n  docker: {d:?}\n  berth:  {b:?}"));
        } else {
            same += 1;
        }
    }
    eprintln!("{what}: {same} cases the same as docker, {deliberate} deliberately different");
    assert!(
        differences.is_empty(),
        "berth differs from docker in {} of {} cases:\n{}",
        differences.len(),
        theirs.len(),
        differences.join("\n")
    );
}

/// For tables with no deliberate difference.
pub fn no_difference(name: &str, _: &Step) {
    panic!("{name}: no check for this difference");
}
