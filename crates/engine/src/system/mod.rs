//! Store-wide operations: `system check` and `system df`.

pub mod check;
mod df;

pub use check::{CheckReport, Problem};
pub use df::{DiskUsage, ImageUsage};
