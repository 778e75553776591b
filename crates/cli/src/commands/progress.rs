//! Drawing pull and push progress: Docker's plain lines when the output is
//! not a terminal (`ID: Pulling fs layer`, `ID: Pull complete`, ...), a bar
//! per layer when it is.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use berth_engine::progress::{PullEvent, PullProgress, PushEvent, PushProgress};
use berth_image::Digest;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn write_line(self, line: &str) {
        // Progress is best effort: a closed pipe must not fail the pull.
        let _ = match self {
            Stream::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
        };
    }

    fn is_terminal(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

fn short(layer: &Digest) -> &str {
    layer.hex().get(..12).unwrap_or(layer.hex())
}

/// Pull progress for a stream: bars on a terminal, lines otherwise.
pub fn pull_progress(stream: Stream) -> Box<dyn PullProgress> {
    if stream.is_terminal() {
        let target = match stream {
            Stream::Stdout => ProgressDrawTarget::stdout(),
            Stream::Stderr => ProgressDrawTarget::stderr(),
        };
        Box::new(PullBars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            stream,
        })
    } else {
        Box::new(PullLines { stream })
    }
}

struct PullLines {
    stream: Stream,
}

impl PullProgress for PullLines {
    fn event(&self, event: PullEvent) {
        let line = match &event {
            PullEvent::PullingFrom { reference } => pulling_from(reference),
            PullEvent::LayerExists { layer } => format!("{}: Already exists", short(layer)),
            PullEvent::LayerPulling { layer } => format!("{}: Pulling fs layer", short(layer)),
            PullEvent::LayerProgress { .. } => return,
            PullEvent::LayerDownloaded { layer } => format!("{}: Download complete", short(layer)),
            PullEvent::LayerDone { layer } => format!("{}: Pull complete", short(layer)),
            PullEvent::Digest { digest } => format!("Digest: {digest}"),
            PullEvent::Done { reference, newer } => status_line(reference, *newer),
        };
        self.stream.write_line(&line);
    }
}

fn pulling_from(reference: &berth_image::Reference) -> String {
    let wanted = reference
        .digest()
        .map(|d| d.to_string())
        .or_else(|| reference.tag().map(str::to_string))
        .unwrap_or_else(|| "latest".into());
    format!("{wanted}: Pulling from {}", reference.path())
}

fn status_line(reference: &berth_image::Reference, newer: bool) -> String {
    if newer {
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar_string()
        )
    } else {
        format!(
            "Status: Image is up to date for {}",
            reference.familiar_string()
        )
    }
}

struct PullBars {
    multi: MultiProgress,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
    stream: Stream,
}

impl PullBars {
    fn bar(&self, layer: &Digest) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(layer.clone())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {msg:<16} {wide_bar} {bytes:>10}/{total_bytes:<10}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(short(layer).to_string());
                bar
            })
            .clone()
    }

    fn finish(&self, layer: &Digest, message: &'static str) {
        let bar = self.bar(layer);
        bar.set_style(
            ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.finish_with_message(message);
    }
}

impl PullProgress for PullBars {
    fn event(&self, event: PullEvent) {
        match &event {
            PullEvent::PullingFrom { reference } => {
                let _ = self.multi.println(pulling_from(reference));
            }
            PullEvent::LayerExists { layer } => self.finish(layer, "Already exists"),
            PullEvent::LayerPulling { layer } => self.bar(layer).set_message("Downloading"),
            PullEvent::LayerProgress { layer, done, total } => {
                let bar = self.bar(layer);
                bar.set_length(*total);
                bar.set_position(*done);
            }
            PullEvent::LayerDownloaded { layer } => self.bar(layer).set_message("Extracting"),
            PullEvent::LayerDone { layer } => self.finish(layer, "Pull complete"),
            PullEvent::Digest { digest } => {
                let _ = self.multi.clear();
                self.stream.write_line(&format!("Digest: {digest}"));
            }
            PullEvent::Done { reference, newer } => {
                self.stream.write_line(&status_line(reference, *newer));
            }
        }
    }
}

/// Push progress as Docker's plain lines.
pub struct PushLines {
    pub stream: Stream,
}

impl PushProgress for PushLines {
    fn event(&self, event: PushEvent) {
        let line = match &event {
            PushEvent::Preparing { repository } => {
                format!("The push refers to repository [{repository}]")
            }
            PushEvent::LayerPushing { layer } => format!("{}: Preparing", short(layer)),
            PushEvent::LayerExists { layer } => format!("{}: Layer already exists", short(layer)),
            PushEvent::LayerMounted { layer, from } => {
                format!("{}: Mounted from {from}", short(layer))
            }
            PushEvent::LayerPushed { layer } => format!("{}: Pushed", short(layer)),
            PushEvent::Done { tag, digest, size } => {
                format!("{tag}: digest: {digest} size: {size}")
            }
        };
        self.stream.write_line(&line);
    }
}
