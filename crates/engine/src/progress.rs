//! Progress of long operations (pull, push) as events, so the CLI can draw
//! bars or print Docker's plain lines and the API can stream Docker's JSON
//! messages from the same source.

use berth_image::{Digest, Reference};

#[derive(Clone, Debug)]
pub enum PullEvent {
    /// `TAG: Pulling from REPOSITORY`.
    PullingFrom {
        reference: Reference,
    },
    /// The layer is in the store already.
    LayerExists {
        layer: Digest,
    },
    /// The layer's download starts.
    LayerPulling {
        layer: Digest,
    },
    LayerProgress {
        layer: Digest,
        done: u64,
        total: u64,
    },
    /// Every byte arrived (verification and unpacking finish next).
    LayerDownloaded {
        layer: Digest,
    },
    /// Verified and unpacked.
    LayerDone {
        layer: Digest,
    },
    /// The digest the reference resolved to.
    Digest {
        digest: String,
    },
    Done {
        reference: Reference,
        newer: bool,
    },
}

#[derive(Clone, Debug)]
pub enum PushEvent {
    /// `The push refers to repository [NAME]`.
    Preparing {
        repository: String,
    },
    LayerExists {
        layer: Digest,
    },
    LayerMounted {
        layer: Digest,
        from: String,
    },
    LayerPushing {
        layer: Digest,
    },
    LayerPushed {
        layer: Digest,
    },
    /// `TAG: digest: sha256:… size: N`.
    Done {
        tag: String,
        digest: String,
        size: u64,
    },
}

/// Receives events; called from the pulling thread and its helpers.
pub trait PullProgress: Sync {
    fn event(&self, event: PullEvent);
}

pub trait PushProgress: Sync {
    fn event(&self, event: PushEvent);
}

/// Progress nobody watches.
pub struct Silent;

impl PullProgress for Silent {
    fn event(&self, _: PullEvent) {}
}

impl PushProgress for Silent {
    fn event(&self, _: PushEvent) {}
}
