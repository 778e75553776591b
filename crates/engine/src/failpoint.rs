//! Fail-points: `BERTH_FAILPOINT=<name>` aborts the process right after the
//! named durable step, so tests can prove that every crash point leaves a
//! store the next start cleans up. The variable is read once per process.

/// Every fail-point on the load path, in the order they are reached.
pub const LOAD_FAILPOINTS: &[&str] = &[
    "load:lease-acquired",
    "load:archive-ingested",
    "load:snapshot-created",
    "load:layer-unpacked",
    "load:snapshot-ready",
    "load:blob-committed",
    "load:image-recorded",
    "load:lease-released",
];

/// Aborts (SIGABRT, no unwinding, no cleanup) if `name` is the armed fail-point.
pub fn hit(name: &str) {
    static ARMED: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();
    if ARMED
        .get_or_init(|| std::env::var_os("BERTH_FAILPOINT"))
        .as_deref()
        .is_some_and(|armed| armed == name)
    {
        eprintln!("berth: fail-point {name} reached, aborting");
        std::process::abort();
    }
}
