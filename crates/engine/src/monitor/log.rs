//! The json-file log: one JSON object per line, as Docker's json-file driver
//! writes it (`{"log":"…\n","stream":"stdout","time":"…"}`), rotated by size
//! (`<id>-json.log`, `.1`, `.2`, …) so a chatty container cannot fill the disk.

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
}

pub fn log_path(container_dir: &Path, id: &str) -> PathBuf {
    container_dir.join(format!("{id}-json.log"))
}

impl JsonLog {
    pub fn open(path: PathBuf, max_size: u64, max_files: u32) -> io::Result<JsonLog> {
        let file = open_log(&path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Logs output of `stream` (1 stdout, 2 stderr): complete lines now, a
    /// trailing partial line when its end arrives (or at [`JsonLog::flush`]).
    pub fn write(&mut self, stream: u8, data: &[u8]) -> io::Result<()> {
        let slot = if stream == 2 { 1 } else { 0 };
        let mut pending = std::mem::take(&mut self.partial[slot]);
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            self.entry(stream, &pending[start..end])?;
            start = end;
        }
        while pending.len() - start >= MAX_LINE {
            self.entry(stream, &pending[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        pending.drain(..start);
        self.partial[slot] = pending;
        Ok(())
    }

    /// Writes out partial lines (the container ended).
    pub fn flush(&mut self) -> io::Result<()> {
        for (slot, stream) in [(0, 1u8), (1, 2u8)] {
            let pending = std::mem::take(&mut self.partial[slot]);
            if !pending.is_empty() {
                self.entry(stream, &pending)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: u8, line: &[u8]) -> io::Result<()> {
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
        self.file.write_all(record.as_bytes())?;
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
        let mut log = JsonLog::open(path.clone(), 400, 3).unwrap();
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
}
