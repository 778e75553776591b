//! runc's flags, as containerd (go-runc), dockerd and people type them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "berth-runc",
    about = "berth's OCI runtime, compatible with runc's command line",
    version,
    disable_help_subcommand = true
)]
pub struct RuncCli {
    /// Root directory for container state
    #[arg(long, global = true, default_value = "/run/berth/runtime")]
    pub root: PathBuf,
    /// Log file (default: stderr only)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Debug logging (accepted, no effect)
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported: cgroupfs only)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Path to criu (accepted, no effect: checkpointing is not supported)
    #[arg(long, global = true)]
    pub criu: Option<String>,
    /// Rootless mode (accepted: detection is automatic)
    #[arg(long, global = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Start a created container
    Start(IdArg),
    /// Create and start a container (and wait for it, unless --detach)
    Run(RunArgs),
    /// Output the state of a container
    State(IdArg),
    /// Send a signal to the container's init process (default SIGTERM)
    Kill(KillArgs),
    /// Delete a container
    Delete(DeleteArgs),
    /// Execute a new process inside the container
    Exec(ExecArgs),
    /// Display the processes running inside a container
    Ps(PsArgs),
    /// Suspend all processes of a container
    Pause(IdArg),
    /// Resume all processes of a paused container
    Resume(IdArg),
    /// Update a container's resource limits
    Update(UpdateArgs),
    /// Show the features this runtime supports
    Features,
    /// List containers
    List(ListArgs),
    /// Create a new specification file (config.json)
    Spec(SpecArgs),
    /// Container statistics (--stats) as JSON
    Events(EventsArgs),
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Path to the bundle
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a session keyring (accepted; berth never creates one)
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Extra fds to pass (not supported yet beyond 0)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to all processes in the container
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Path to process.json
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Environment variables (KEY=VALUE)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Add a capability
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privileges
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Resources as JSON (LinuxResources), from a file or - for stdin
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(short, long, default_value = "table")]
    pub format: String,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats sample and exit
    #[arg(long)]
    pub stats: bool,
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn runc_command_line_definition_is_consistent() {
        super::RuncCli::command().debug_assert();
    }
}
