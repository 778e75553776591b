//! runc's command line, as containerd (go-runc), dockerd and people type it.
//!
//! Parsed by hand rather than with clap: `berth-runc` runs once per container
//! operation, and its memory and start-up time are benchmarked against runc
//! and crun. Flags follow runc (urfave/cli): `--flag value`, `--flag=value`,
//! `-f value`; global flags come before the command.

use std::path::PathBuf;

#[derive(Debug)]
pub struct RuncCli {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: String,
    pub systemd_cgroup: bool,
    pub command: Command,
}

#[derive(Debug)]
pub enum Command {
    Create(CreateArgs),
    Start(IdArg),
    Run(RunArgs),
    State(IdArg),
    Kill(KillArgs),
    Delete(DeleteArgs),
    Exec(ExecArgs),
    Ps(PsArgs),
    Pause(IdArg),
    Resume(IdArg),
    Update(UpdateArgs),
    Features,
    List(ListArgs),
    Spec(SpecArgs),
    Events(EventsArgs),
    Help,
    Version,
}

#[derive(Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Debug, Default)]
pub struct CreateArgs {
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug)]
pub struct RunArgs {
    pub create: CreateArgs,
    pub detach: bool,
    pub keep: bool,
}

#[derive(Debug)]
pub struct KillArgs {
    pub all: bool,
    pub id: String,
    pub signal: String,
}

#[derive(Debug)]
pub struct DeleteArgs {
    pub force: bool,
    pub ids: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ExecArgs {
    pub process: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub no_new_privs: bool,
    pub preserve_fds: u32,
    pub caps: Vec<String>,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    pub additional_gids: Vec<String>,
    pub ignore_paused: bool,
    pub cgroups: Vec<String>,
    pub id: String,
    pub command: Vec<String>,
}

#[derive(Debug)]
pub struct PsArgs {
    pub format: String,
    pub id: String,
    pub ps_args: Vec<String>,
}

#[derive(Debug, Default)]
pub struct UpdateArgs {
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Debug)]
pub struct ListArgs {
    pub format: String,
    pub quiet: bool,
}

#[derive(Debug)]
pub struct SpecArgs {
    pub bundle: PathBuf,
}

#[derive(Debug)]
pub struct EventsArgs {
    pub stats: bool,
    pub id: String,
}

pub const USAGE: &str = "usage: berth-runc [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID

berth's OCI runtime, compatible with runc's command line.

commands:
  create   create a container            (--bundle DIR --pid-file FILE --console-socket SOCK --no-pivot)
  start    start a created container
  run      create and start, and wait    (create's options, --detach, --keep)
  state    output the state of a container
  kill     signal the init process       ([--all] ID [SIGNAL])
  delete   delete a container            ([--force] ID...)
  exec     run a process in a container  (--process FILE | -- COMMAND; --detach --pid-file --tty --console-socket --cwd --env --user)
  ps       processes of a container      (--format table|json)
  pause    freeze a container
  resume   thaw a container
  update   change resource limits        (--resources FILE|- or --memory --cpu-quota ... )
  list     list containers               (--format table|json, --quiet)
  spec     write a config.json           (--bundle DIR)
  features output the supported features
  events   --stats ID
";

/// Walks argv, handing out flag values and positionals.
struct Cursor {
    args: std::vec::IntoIter<String>,
    positionals: Vec<String>,
    /// After `--`, everything is positional.
    rest: bool,
}

enum Token {
    Flag(String, Option<String>),
    Positional(String),
}

impl Cursor {
    fn next(&mut self) -> Option<Token> {
        let arg = self.args.next()?;
        if self.rest || arg == "-" || !arg.starts_with('-') {
            return Some(Token::Positional(arg));
        }
        if arg == "--" {
            self.rest = true;
            return self.next();
        }
        let name = arg.trim_start_matches('-');
        Some(match name.split_once('=') {
            Some((n, v)) => Token::Flag(n.to_string(), Some(v.to_string())),
            None => Token::Flag(name.to_string(), None),
        })
    }

    fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String, String> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .args
                .next()
                .ok_or_else(|| format!("flag needs an argument: --{flag}")),
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("invalid value {v:?} for flag --{flag}"))
}

/// Parses `args` (without argv[0]).
pub fn parse(args: Vec<String>) -> Result<RuncCli, String> {
    let mut c = Cursor {
        args: args.into_iter(),
        positionals: Vec::new(),
        rest: false,
    };
    let mut cli = RuncCli {
        root: PathBuf::from("/run/berth/runtime"),
        log: None,
        log_format: "text".into(),
        systemd_cgroup: false,
        command: Command::Help,
    };
    let command = loop {
        match c.next() {
            None => return Ok(cli),
            Some(Token::Positional(cmd)) => break cmd,
            Some(Token::Flag(f, v)) => match f.as_str() {
                "root" => cli.root = c.value(&f, v)?.into(),
                "log" => cli.log = Some(c.value(&f, v)?.into()),
                "log-format" => cli.log_format = c.value(&f, v)?,
                "systemd-cgroup" => cli.systemd_cgroup = true,
                "debug" => {}
                "criu" | "rootless" => {
                    c.value(&f, v)?;
                }
                "help" | "h" => return Ok(cli),
                "version" | "v" => {
                    cli.command = Command::Version;
                    return Ok(cli);
                }
                other => return Err(format!("flag provided but not defined: -{other}")),
            },
        }
    };
    cli.command = parse_command(&command, &mut c)?;
    Ok(cli)
}

fn parse_command(command: &str, c: &mut Cursor) -> Result<Command, String> {
    let mut create = CreateArgs {
        bundle: ".".into(),
        ..Default::default()
    };
    let mut exec = ExecArgs::default();
    let mut update = UpdateArgs::default();
    let (mut detach, mut keep, mut all, mut force, mut quiet, mut stats) =
        (false, false, false, false, false, false);
    let mut format = "table".to_string();
    while let Some(token) = c.next() {
        let (f, v) = match token {
            Token::Positional(p) => {
                c.positionals.push(p);
                // Everything after exec's ID is the command.
                if command == "exec" && c.positionals.len() == 1 {
                    c.rest = true;
                }
                continue;
            }
            Token::Flag(f, v) => (f, v),
        };
        match (command, f.as_str()) {
            ("create" | "run", "bundle" | "b") => create.bundle = c.value(&f, v)?.into(),
            ("spec", "bundle" | "b") => create.bundle = c.value(&f, v)?.into(),
            ("create" | "run", "console-socket") => {
                create.console_socket = Some(c.value(&f, v)?.into())
            }
            ("create" | "run", "pid-file") => create.pid_file = Some(c.value(&f, v)?.into()),
            ("create" | "run", "no-pivot") => create.no_pivot = true,
            ("create" | "run", "no-new-keyring") => {}
            ("create" | "run", "preserve-fds") => {
                create.preserve_fds = number(&f, &c.value(&f, v)?)?
            }
            ("run", "detach" | "d") | ("exec", "detach" | "d") => detach = true,
            ("run", "keep") => keep = true,
            ("kill", "all" | "a") => all = true,
            ("delete", "force" | "f") => force = true,
            ("exec", "process" | "p") => exec.process = Some(c.value(&f, v)?.into()),
            ("exec", "pid-file") => exec.pid_file = Some(c.value(&f, v)?.into()),
            ("exec", "console-socket") => exec.console_socket = Some(c.value(&f, v)?.into()),
            ("exec", "tty" | "t") => exec.tty = true,
            ("exec", "cwd") => exec.cwd = Some(c.value(&f, v)?),
            ("exec", "env" | "e") => exec.env.push(c.value(&f, v)?),
            ("exec", "user" | "u") => exec.user = Some(c.value(&f, v)?),
            ("exec", "no-new-privs") => exec.no_new_privs = true,
            ("exec", "preserve-fds") => exec.preserve_fds = number(&f, &c.value(&f, v)?)?,
            ("exec", "cap" | "c") => exec.caps.push(c.value(&f, v)?),
            ("exec", "apparmor") => exec.apparmor = Some(c.value(&f, v)?),
            ("exec", "process-label") => exec.process_label = Some(c.value(&f, v)?),
            ("exec", "additional-gids" | "g") => exec.additional_gids.push(c.value(&f, v)?),
            ("exec", "ignore-paused") => exec.ignore_paused = true,
            ("exec", "cgroup") => exec.cgroups.push(c.value(&f, v)?),
            ("ps" | "list", "format" | "f") => format = c.value(&f, v)?,
            ("list", "quiet" | "q") => quiet = true,
            ("update", "resources" | "r") => update.resources = Some(c.value(&f, v)?.into()),
            ("update", "memory") => update.memory = Some(c.value(&f, v)?),
            ("update", "memory-swap") => update.memory_swap = Some(c.value(&f, v)?),
            ("update", "memory-reservation") => update.memory_reservation = Some(c.value(&f, v)?),
            ("update", "cpu-shares") => update.cpu_shares = Some(number(&f, &c.value(&f, v)?)?),
            ("update", "cpu-quota") => update.cpu_quota = Some(number(&f, &c.value(&f, v)?)?),
            ("update", "cpu-period") => update.cpu_period = Some(number(&f, &c.value(&f, v)?)?),
            ("update", "cpuset-cpus") => update.cpuset_cpus = Some(c.value(&f, v)?),
            ("update", "cpuset-mems") => update.cpuset_mems = Some(c.value(&f, v)?),
            ("update", "pids-limit") => update.pids_limit = Some(number(&f, &c.value(&f, v)?)?),
            ("events", "stats") => stats = true,
            ("events", "interval") => {
                c.value(&f, v)?;
            }
            (_, "help" | "h") => return Ok(Command::Help),
            (cmd, other) => return Err(format!("{cmd}: flag provided but not defined: -{other}")),
        }
    }
    let mut pos = std::mem::take(&mut c.positionals).into_iter();
    let mut id = |what: &str| {
        pos.next()
            .ok_or_else(|| format!("{command}: {what} is required"))
    };
    Ok(match command {
        "create" => Command::Create(CreateArgs {
            id: id("container id")?,
            ..create
        }),
        "run" => Command::Run(RunArgs {
            create: CreateArgs {
                id: id("container id")?,
                ..create
            },
            detach,
            keep,
        }),
        "start" => Command::Start(IdArg {
            id: id("container id")?,
        }),
        "state" => Command::State(IdArg {
            id: id("container id")?,
        }),
        "pause" => Command::Pause(IdArg {
            id: id("container id")?,
        }),
        "resume" => Command::Resume(IdArg {
            id: id("container id")?,
        }),
        "kill" => {
            let cid = id("container id")?;
            Command::Kill(KillArgs {
                all,
                id: cid,
                signal: pos.next().unwrap_or_else(|| "SIGTERM".into()),
            })
        }
        "delete" => {
            let ids: Vec<String> = pos.collect();
            if ids.is_empty() {
                return Err("delete: container id is required".into());
            }
            Command::Delete(DeleteArgs { force, ids })
        }
        "exec" => {
            let cid = id("container id")?;
            Command::Exec(ExecArgs {
                id: cid,
                detach,
                command: pos.collect(),
                ..exec
            })
        }
        "ps" => {
            let cid = id("container id")?;
            Command::Ps(PsArgs {
                format,
                id: cid,
                ps_args: pos.collect(),
            })
        }
        "update" => Command::Update(UpdateArgs {
            id: id("container id")?,
            ..update
        }),
        "list" => Command::List(ListArgs { format, quiet }),
        "spec" => Command::Spec(SpecArgs {
            bundle: create.bundle,
        }),
        "features" => Command::Features,
        "events" => Command::Events(EventsArgs {
            stats,
            id: id("container id")?,
        }),
        "help" => Command::Help,
        other => return Err(format!("No help topic for '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<RuncCli, String> {
        parse(s.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn parses_what_containerd_sends() {
        let c = parse_str("--root /run/containerd/runc/default --log /x/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s c1").expect("parse");
        assert_eq!(c.root, PathBuf::from("/run/containerd/runc/default"));
        assert_eq!(c.log_format, "json");
        match c.command {
            Command::Create(a) => {
                assert_eq!((a.id.as_str(), a.bundle.to_str()), ("c1", Some("/b")));
                assert_eq!(a.pid_file, Some(PathBuf::from("/b/init.pid")));
                assert_eq!(a.console_socket, Some(PathBuf::from("/tmp/s")));
            }
            other => panic!("{other:?}"),
        }
        match parse_str("--root=/r exec --process /tmp/p.json --detach --pid-file /p c1")
            .expect("parse")
            .command
        {
            Command::Exec(e) => {
                assert!(e.detach && e.process.is_some() && e.id == "c1" && e.command.is_empty())
            }
            other => panic!("{other:?}"),
        }
        match parse_str("exec -t c1 sh -c echo").expect("parse").command {
            Command::Exec(e) => assert_eq!(e.command, ["sh", "-c", "echo"]),
            other => panic!("{other:?}"),
        }
        match parse_str("kill --all c1 9").expect("parse").command {
            Command::Kill(k) => assert!(k.all && k.signal == "9"),
            other => panic!("{other:?}"),
        }
        match parse_str("kill c1").expect("parse").command {
            Command::Kill(k) => assert_eq!(k.signal, "SIGTERM"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(parse_str("delete --force a b").expect("parse").command, Command::Delete(d) if d.force && d.ids.len() == 2)
        );
        assert!(
            matches!(parse_str("update --resources - c1").expect("parse").command, Command::Update(u) if u.resources == Some(PathBuf::from("-")))
        );
        assert!(matches!(
            parse_str("--version").expect("parse").command,
            Command::Version
        ));
        assert!(parse_str("create").is_err());
        assert!(parse_str("create --bogus c1").is_err());
        assert!(parse_str("frobnicate c1").is_err());
    }
}
