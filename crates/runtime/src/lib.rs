//! berth-runtime: an OCI runtime as a library. `berth-runc` (the runc-
//! compatible command line) and the engine's containers both use it.
//!
//! The process that calls [`Runtime::create`] or [`Runtime::exec`] must be
//! single-threaded: it clones itself (see [`sys`]) to become the container's
//! init or exec'd process.

#![deny(unsafe_code)]

mod config_rules;
pub mod console_socket;
pub mod container;
mod default_spec;
mod error;
pub mod features;
pub mod hooks;
mod init;
pub mod log;
mod lsm;
pub mod memory;
pub mod mini_init;
pub mod overlay;
pub mod sealed;
pub mod seccomp;
pub mod spec_file;
pub mod state;
mod sync;
mod sys;

pub use berth_cgroups::Stats as ContainerStats;
pub use berth_cgroups::SubCgroups;
pub use config_rules::IPC_SYSCTLS;
pub use container::{CreateOptions, ExecOptions, ProcessIo, Runtime, parse_signal};
pub use default_spec::default_spec;
pub use error::{Error, ErrorKind, InitFailure, InitStep, Result};
pub use init::caps::{names as capability_names, number as capability_number};
pub use state::{State, Status};

/// Whether this host's cgroups are the unified (v2) hierarchy.
pub fn host_cgroup_is_v2() -> bool {
    berth_cgroups::Hierarchy::detect()
        .map(|h| h.is_v2())
        .unwrap_or(false)
}
