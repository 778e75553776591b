//! The json-file log: one JSON object per line, as Docker's json-file driver
//! writes it (`{"log":"…\n","stream":"stdout","time":"…"}`), rotated by size
//! (`<id>-json.log`, `.1`, `.2`, …) so a chatty container cannot fill the disk.
//!
//! A line that cannot be written (a full disk) is dropped whole — the file
//! is cut back to its last complete line, so no half-written record spoils
//! the next one — and counted; the next line that can be written is
//! preceded by a `berth:` line on stderr that says how many lines and
//! bytes were lost and why (Docker drops them silently).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Lines longer than this are split, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    /// A partial line per stream (stdout, stderr) waiting for its newline.
    partial: [Vec<u8>; 2],
    dropped: Dropped,
    /// `--log-driver none`: output is relayed to attached clients only.
    discard: bool,
}

/// Lines lost since the last one written.
#[derive(Default)]
struct Dropped {
    lines: u64,
    bytes: u64,
    why: String,
}

pub fn log_path(container_dir: &Path, id: &str) -> PathBuf {
    container_dir.join(format!("{id}-json.log"))
}

impl JsonLog {
    pub fn open(
        path: PathBuf,
        max_size: u64,
        max_files: u32,
        discard: bool,
    ) -> io::Result<JsonLog> {
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
            dropped: Dropped::default(),
            discard,
        })
    }

    /// Logs output of `stream` (1 stdout, 2 stderr): complete lines now, a
    /// trailing partial line when its end arrives (or at [`JsonLog::flush`]).
    /// A line that cannot be written is counted and the rest still tried;
    /// the first error is returned.
    pub fn write(&mut self, stream: u8, data: &[u8]) -> io::Result<()> {
        if self.discard {
            return Ok(());
        }
        let slot = if stream == 2 { 1 } else { 0 };
        let mut pending = std::mem::take(&mut self.partial[slot]);
        pending.extend_from_slice(data);
        let mut first_error = Ok(());
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            let written = self.entry(stream, &pending[start..end]);
            first_error = first_error.and(written);
            start = end;
        }
        while pending.len() - start >= MAX_LINE {
            let written = self.entry(stream, &pending[start..start + MAX_LINE]);
            first_error = first_error.and(written);
            start += MAX_LINE;
        }
        pending.drain(..start);
        self.partial[slot] = pending;
        first_error
    }

    /// Writes out partial lines (the container ended).
    pub fn flush(&mut self) -> io::Result<()> {
        let mut first_error = Ok(());
        for (slot, stream) in [(0, 1u8), (1, 2u8)] {
            let pending = std::mem::take(&mut self.partial[slot]);
            if !pending.is_empty() {
                let written = self.entry(stream, &pending);
                first_error = first_error.and(written);
            }
        }
        first_error
    }

    fn entry(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
        if self.dropped.lines > 0 {
            let d = &self.dropped;
            let notice = format!(
                "berth: {} log line{} ({} bytes) dropped: {}\n",
                d.lines,
                if d.lines == 1 { "" } else { "s" },
                d.bytes,
                d.why
            );
            if let Err(e) = self.append(2, notice.as_bytes()) {
                self.count_dropped(line, &e);
                return Err(e);
            }
            self.dropped = Dropped::default();
        }
        self.append(stream, line)
            .inspect_err(|e| self.count_dropped(line, e))
    }

    fn count_dropped(&mut self, line: &[u8], e: &io::Error) {
        self.dropped.lines += 1;
        self.dropped.bytes += line.len() as u64;
        self.dropped.why = format!("write {}: {e}", self.path.display());
    }

    /// One record, written whole or not at all.
    fn append(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let record = format!(
            "{{\"log\":{},\"stream\":\"{}\",\"time\":\"{}\"}}\n",
            serde_json::to_string(&text).unwrap_or_default(),
            if stream == 2 { "stderr" } else { "stdout" },
            crate::now_rfc3339()
        );
        if self.size + record.len() as u64 > self.max_size && self.size > 0 {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(record.as_bytes()) {
            // Whatever part went in is cut off again (shrinking needs no
            // space), so the file still ends with a whole line.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        self.size += record.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..self.max_files - 1).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = open_log(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The log file, readable by root and its group alone whatever the umask.
fn open_log(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::store::perms::LOG_FILE)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(
        crate::store::perms::LOG_FILE,
    ))?;
    Ok(file)
}

pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(path.clone(), 400, 3, false).unwrap();
        log.write(1, b"hel").unwrap();
        log.write(1, b"lo\nwor").unwrap();
        log.write(2, b"oops\n").unwrap();
        log.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["log"], "hello\n");
        assert_eq!(lines[0]["stream"], "stdout");
        assert_eq!(lines[1]["log"], "oops\n");
        assert_eq!(lines[1]["stream"], "stderr");
        assert_eq!(lines[2]["log"], "wor");
        for i in 0..20 {
            log.write(1, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(rotated(&path, 1).exists());
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists(), "only max_files files are kept");
        assert!(std::fs::metadata(&path).unwrap().len() <= 400);
    }

    #[test]
    fn a_failed_line_is_counted_and_announced_with_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(path.clone(), 1 << 20, 1, false).unwrap();
        log.write(1, b"kept\n").unwrap();
        // A file that refuses writes, as a full disk does.
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let good = std::mem::replace(&mut log.file, full);
        assert!(log.write(1, b"lost 1\nlost 2\n").is_err());
        log.file = good;
        log.write(1, b"back\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["log"], "kept\n");
        let notice = lines[1]["log"].as_str().unwrap();
        assert!(
            notice.starts_with("berth: 2 log lines (14 bytes) dropped: write ")
                && notice.contains("No space left on device"),
            "{notice}"
        );
        assert_eq!(lines[1]["stream"], "stderr");
        assert_eq!(lines[2]["log"], "back\n");
    }
}
