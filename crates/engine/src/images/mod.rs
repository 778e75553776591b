//! Images: how they are stored (record), found by name or ID (resolve), made
//! (load, import), written out (save), named (tag), listed, inspected and
//! removed.

mod adopt_layer;
pub(crate) mod changes;
mod distribution;
mod history;
pub(crate) mod import;
mod import_url;
mod inspect;
pub(crate) mod layers;
pub(crate) mod list;
mod load;
mod prune;
pub(crate) mod pull;
mod pull_layer;
mod push;
pub(crate) mod record;
pub(crate) mod remove;
pub(crate) mod resolve;
mod save;
mod tag;

pub use distribution::DistributionInspect;
pub use history::HistoryEntry;
pub use import::ImportOptions;
pub use import_url::normalize_url;
pub use list::{ImageFilters, ImageSummary, parse_time as parse_created};
pub use load::LoadReport;
pub use prune::PruneReport;
pub use pull::{PullOptions, PullReport};
pub use push::{PushOptions, PushReport};
pub use remove::RemoveEvent;
pub use save::SaveFormat;
