//! A command line that does not parse, said as the docker CLI says it: the
//! same sentences, the same `Usage:` line and the same exit codes (1 for a
//! wrong number of arguments or an unknown command, 125 for a bad flag), so
//! that scripts written against docker's behaviour keep working.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, CommandFactory};

use crate::cli::Cli;

/// Prints what docker would for `err`, returns the exit code.
pub fn report(err: clap::Error, argv: &[String]) -> u8 {
    let mut root = Cli::command();
    // Subcommands are built lazily (`defer`); their arguments are needed.
    root.build();
    let (path, cmd) = command_path(&root, argv);
    let name = format!("berth {}", path.join(" "));
    let name = name.trim_end();
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            0
        }
        // A bare group (`berth volume`) or a bare `berth`: its usage, as help.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            if path.is_empty() {
                let mut cmd = cmd.clone();
                let _ = cmd.print_help();
            } else {
                print!("{}", group_usage(name, cmd));
            }
            0
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(&err, ContextKind::InvalidSubcommand).unwrap_or_default();
            if path.is_empty() {
                eprintln!(
                    "berth: unknown command: berth {word}\n\nRun 'berth --help' for more information"
                );
            } else {
                eprintln!(
                    "berth: unknown command: {name} {word}\n\nUsage:  {name} COMMAND\n\nRun '{name} --help' for more information"
                );
            }
            1
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::WrongNumberOfValues
        | ErrorKind::TooFewValues
            if positionals_missing(&err, cmd) =>
        {
            argument_count(name, cmd)
        }
        ErrorKind::UnknownArgument => {
            let arg = context(&err, ContextKind::InvalidArg).unwrap_or_default();
            if let Some(long) = arg.strip_prefix("--") {
                bad_flag(name, cmd, &format!("unknown flag: --{long}"))
            } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                let first = short.chars().next().unwrap_or('-');
                bad_flag(
                    name,
                    cmd,
                    &format!("unknown shorthand flag: '{first}' in {arg}"),
                )
            } else {
                argument_count(name, cmd)
            }
        }
        ErrorKind::InvalidValue
            if context(&err, ContextKind::InvalidValue).is_some_and(|v| v.is_empty()) =>
        {
            let flag = context(&err, ContextKind::InvalidArg).unwrap_or_default();
            let flag = flag.split([' ', '=']).next().unwrap_or_default();
            bad_flag(name, cmd, &format!("flag needs an argument: {flag}"))
        }
        _ => {
            // Bad values: clap's first line (it names the flag and the
            // value), docker's ending and exit code.
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            bad_flag(name, cmd, first)
        }
    }
}

/// A bare group (`berth volume`): docker's usage of it, on stdout.
fn group_usage(name: &str, cmd: &Command) -> String {
    let mut out = format!("Usage:  {name} COMMAND\n\n");
    if let Some(about) = cmd.get_about() {
        out.push_str(&format!("{about}\n\n"));
    }
    out.push_str("Commands:\n");
    let mut subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    subs.sort_by_key(|c| c.get_name());
    for sub in subs {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push_str(&format!("  {:<12}{about}\n", sub.get_name()));
    }
    out.push_str(&format!(
        "\nRun '{name} COMMAND --help' for more information on a command.\n"
    ));
    out
}

/// `unknown flag`, `flag needs an argument`, a bad value: exit 125.
fn bad_flag(name: &str, cmd: &Command, sentence: &str) -> u8 {
    eprintln!(
        "{sentence}\n\nUsage:  {}\n\nRun '{name} --help' for more information",
        usage(name, cmd)
    );
    125
}

/// `'berth rmi' requires at least 1 argument` and its kin: exit 1.
fn argument_count(name: &str, cmd: &Command) -> u8 {
    let (min, open) = positional_range(cmd);
    let (sentence, verb) = match (min, open) {
        (0, false) if cmd.get_positionals().next().is_none() => {
            ("accepts no arguments".to_string(), "Run")
        }
        (0, _) => ("accepts at most the arguments shown".to_string(), "Run"),
        (n, true) => (
            format!("requires at least {n} argument{}", plural(n)),
            "See",
        ),
        (n, false) => (format!("requires {n} argument{}", plural(n)), "Run"),
    };
    eprintln!(
        "berth: '{name}' {sentence}\n\nUsage:  {}\n\n{verb} '{name} --help' for more information",
        usage(name, cmd)
    );
    1
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How many positional values the command needs at least, and whether it
/// takes any number more.
fn positional_range(cmd: &Command) -> (usize, bool) {
    let mut min = 0;
    let mut open = false;
    for arg in cmd.get_positionals() {
        let range = arg.get_num_args().unwrap_or_default();
        if arg.is_required_set() {
            min += range.min_values().max(1);
        }
        open |= range.max_values() > 1;
    }
    (min, open)
}

/// Whether what is missing is a positional (a flag that is required is
/// clap's business to word).
fn positionals_missing(err: &clap::Error, cmd: &Command) -> bool {
    match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::Strings(missing)) => missing
            .iter()
            .all(|m| !m.starts_with('-') && cmd.get_positionals().next().is_some()),
        Some(ContextValue::String(m)) => !m.starts_with('-'),
        _ => true,
    }
}

/// Docker's usage line: `berth rmi [OPTIONS] IMAGE [IMAGE...]`.
fn usage(name: &str, cmd: &Command) -> String {
    let mut line = name.to_string();
    if cmd.has_subcommands() {
        line.push_str(" COMMAND");
        return line;
    }
    if cmd
        .get_arguments()
        .any(|a| !a.is_positional() && a.get_id() != "help" && !a.is_global_set())
    {
        line.push_str(" [OPTIONS]");
    }
    for arg in cmd.get_positionals() {
        let value = arg
            .get_value_names()
            .map(|v| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| arg.get_id().as_str().to_ascii_uppercase());
        let many = arg.get_num_args().unwrap_or_default().max_values() > 1 && !value.contains('[');
        let shown = match (arg.is_required_set(), many) {
            (true, true) => format!("{value} [{value}...]"),
            (true, false) => value,
            (false, true) => format!("[{value}...]"),
            (false, false) => format!("[{value}]"),
        };
        line.push(' ');
        line.push_str(&shown);
    }
    line
}

/// The subcommand words of `argv` (global flags skipped) and the command
/// they name.
fn command_path<'a>(root: &'a Command, argv: &[String]) -> (Vec<String>, &'a Command) {
    let mut path = Vec::new();
    let mut cmd = root;
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg.starts_with('-') {
            // A global flag with its value in the next word.
            if matches!(arg.as_str(), "--root" | "--run-root" | "--log-level" | "-l") {
                args.next();
            }
            continue;
        }
        match cmd.find_subcommand(arg) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    (path, cmd)
}

fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(" ")),
        _ => None,
    }
}
