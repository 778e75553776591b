//! Pull and push progress as Docker's JSON message stream (`status`,
//! `progressDetail`, `progress`, `id` per line; `error` + `errorDetail` at a
//! failure), which the docker CLI draws as its progress bars.

use berth_engine::progress::{PullEvent, PullProgress, PushEvent, PushProgress};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

/// Sends each event's message line down a channel.
pub struct JsonProgress {
    pub tx: UnboundedSender<Value>,
}

fn short(d: &berth_image::Digest) -> String {
    d.hex().chars().take(12).collect()
}

fn layer(status: &str, d: &berth_image::Digest) -> Value {
    json!({"status": status, "progressDetail": {}, "id": short(d)})
}

/// Docker's text bar: `[=====>     ]  1.2MB/3.4MB`.
fn bar(done: u64, total: u64) -> String {
    let width = 50u64;
    let filled = (done.min(total) * width).checked_div(total).unwrap_or(0) as usize;
    let mut s = String::from("[");
    s.push_str(&"=".repeat(filled.saturating_sub(1)));
    if filled > 0 {
        s.push('>');
    }
    s.push_str(&" ".repeat(width as usize - filled));
    s.push(']');
    format!("{s} {}/{}", human(done), human(total))
}

fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.3}{}", units[i]).replace(".000", "")
    }
}

impl PullProgress for JsonProgress {
    fn event(&self, event: PullEvent) {
        let v = match event {
            PullEvent::PullingFrom { reference } => json!({
                "status": format!("Pulling from {}", reference.familiar_name()),
                "id": reference.tag().map(str::to_string).unwrap_or_else(|| reference.digest().map(|d| d.to_string()).unwrap_or_default()),
            }),
            PullEvent::LayerExists { layer: d } => layer("Already exists", &d),
            PullEvent::LayerPulling { layer: d } => layer("Pulling fs layer", &d),
            PullEvent::LayerProgress {
                layer: d,
                done,
                total,
            } => json!({
                "status": "Downloading",
                "progressDetail": {"current": done, "total": total},
                "progress": bar(done, total),
                "id": short(&d),
            }),
            PullEvent::LayerDownloaded { layer: d } => layer("Download complete", &d),
            PullEvent::LayerDone { layer: d } => layer("Pull complete", &d),
            PullEvent::Digest { digest } => json!({"status": format!("Digest: {digest}")}),
            PullEvent::Done { reference, newer } => json!({"status": if newer {
                format!("Status: Downloaded newer image for {}", reference.familiar_string())
            } else {
                format!("Status: Image is up to date for {}", reference.familiar_string())
            }}),
        };
        let _ = self.tx.send(v);
    }
}

impl PushProgress for JsonProgress {
    fn event(&self, event: PushEvent) {
        let v = match event {
            PushEvent::Preparing { repository } => {
                json!({"status": format!("The push refers to repository [{repository}]")})
            }
            PushEvent::LayerExists { layer: d } => layer("Layer already exists", &d),
            PushEvent::LayerMounted { layer: d, from } => {
                layer(&format!("Mounted from {from}"), &d)
            }
            PushEvent::LayerPushing { layer: d } => layer("Pushing", &d),
            PushEvent::LayerPushed { layer: d } => layer("Pushed", &d),
            PushEvent::Done { tag, digest, size } => json!({
                "status": format!("{tag}: digest: {digest} size: {size}"),
                "progressDetail": {},
                "aux": {"Tag": tag, "Digest": digest, "Size": size},
            }),
        };
        let _ = self.tx.send(v);
    }
}

/// The line that ends a stream in failure.
pub fn error_line(message: &str) -> Value {
    json!({"errorDetail": {"message": message}, "error": message})
}
