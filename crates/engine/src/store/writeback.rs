//! Background writeback: while a load or import writes hundreds of megabytes,
//! a helper thread keeps asking the kernel to flush the filesystem, so that
//! the final `syncfs` (which makes the content durable before it becomes
//! visible) waits for the last few megabytes instead of all of them. The
//! disk works while the CPUs decompress.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct BackgroundSync {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const INTERVAL: Duration = Duration::from_millis(250);

impl BackgroundSync {
    /// Starts flushing the filesystem holding `dir` every quarter second.
    pub fn start(dir: &Path) -> BackgroundSync {
        BackgroundSync::spawn(dir, false)
    }

    /// As [`BackgroundSync::start`], with a first flush at once: for
    /// writing that follows files already written (a commit's tar, made
    /// from a layer whose files are still in memory), which can be on
    /// their way meanwhile.
    pub fn start_now(dir: &Path) -> BackgroundSync {
        BackgroundSync::spawn(dir, true)
    }

    fn spawn(dir: &Path, now: bool) -> BackgroundSync {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let dir: PathBuf = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("berth-writeback".into())
            .spawn(move || {
                if now {
                    let _ = berth_image::unpack::sync_filesystem(&dir);
                }
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(INTERVAL);
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    // Best effort: the caller's final sync reports errors.
                    let _ = berth_image::unpack::sync_filesystem(&dir);
                }
            })
            .ok();
        BackgroundSync { stop, thread }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
