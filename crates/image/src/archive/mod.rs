//! Image archives: what `save` writes and `load` reads, in docker-archive and
//! OCI-layout form.

mod images;
mod read;
mod write;

pub use images::{ArchiveImage, ArchiveLayer, images};
pub use read::{ArchiveContents, ArchiveFile, MAX_DOCUMENT_BYTES, clean};
pub use write::{SaveFormat, SaveImage, write_archive};
