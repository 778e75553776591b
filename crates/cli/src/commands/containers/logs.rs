//! `logs`: the engine's log entries printed as Docker prints them.

use std::io::Write;

use anyhow::{Result, anyhow};
use berth_engine::Engine;
use berth_engine::containers::logs::{LogStream, LogsOptions};

use crate::cli::LogsArgs;

pub fn run(engine: &Engine, a: LogsArgs) -> Result<u8> {
    let options = LogsOptions {
        since: a
            .since
            .as_deref()
            .map(|s| berth_engine::times::parse(s, "since"))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| berth_engine::times::parse(s, "until"))
            .transpose()?,
        tail: match a.tail.as_str() {
            "all" | "" => None,
            n => Some(
                n.parse()
                    .map_err(|_| anyhow!("invalid value for \"tail\": {n:?}"))?,
            ),
        },
        follow: a.follow,
        // The follow ends with this process.
        cancel: None,
    };
    // Docker puts the details and a space before every line, even when
    // there are none.
    let details = if a.details {
        Some(engine.log_details(&a.container)?)
    } else {
        None
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    engine.logs(&a.container, &options, |e| {
        let write = |out: &mut dyn Write| -> std::io::Result<()> {
            if a.timestamps {
                out.write_all(e.time.as_bytes())?;
                out.write_all(b" ")?;
            }
            if let Some(d) = &details {
                out.write_all(d.as_bytes())?;
                out.write_all(b" ")?;
            }
            out.write_all(&e.data)?;
            out.flush()
        };
        let written = match e.stream {
            LogStream::Stdout => write(&mut stdout.lock()),
            LogStream::Stderr => write(&mut stderr.lock()),
        };
        // A reader that went away (`logs | head`) ends the stream.
        Ok(written.is_ok())
    })?;
    Ok(0)
}
