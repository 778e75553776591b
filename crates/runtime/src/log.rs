//! runc's log (`--log FILE --log-format text|json`): logrus-shaped lines,
//! the last of which containerd reads for the reason of a failure.

use std::os::fd::OwnedFd;

/// An open log and its format.
#[derive(Debug)]
pub struct LogTarget {
    pub fd: OwnedFd,
    pub json: bool,
}

/// A logrus line: `{"level":"error","msg":…,"time":…}` or
/// `time="…" level=error msg="…"`.
pub fn line(json: bool, level: &str, message: &str) -> String {
    // logrus's RFC 3339, to the second.
    let now = time::OffsetDateTime::now_utc();
    let time = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if json {
        serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
    } else {
        format!("time=\"{time}\" level={level} msg={message:?}")
    }
}

impl LogTarget {
    pub fn error(&self, message: &str) {
        let mut text = line(self.json, "error", message);
        text.push('\n');
        let _ = rustix::io::write(&self.fd, text.as_bytes());
    }
}
