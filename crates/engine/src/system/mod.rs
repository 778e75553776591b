//! Store-wide operations: `system check`, `system df` and `info`.

pub mod check;
mod df;
mod info;

pub use check::{CheckReport, Problem};
pub use df::{DiskUsage, ImageUsage};
