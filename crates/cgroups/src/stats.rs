//! Resource usage of a cgroup, the same fields on v1 and v2 (for `stats`,
//! `inspect`'s OOMKilled, and runc's `events --stats`).

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// CPU time used, nanoseconds.
    pub cpu_usage_ns: u64,
    pub memory_usage: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Page cache bytes counted in `memory_usage`.
    pub memory_cache: u64,
    /// Times the OOM killer killed a process in the cgroup.
    pub oom_kills: u64,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
}
