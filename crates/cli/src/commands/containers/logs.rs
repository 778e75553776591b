//! `logs`: the json-file log (rotated files oldest first), with `--tail`,
//! `--since`/`--until`, `-t` and `-f`.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use berth_engine::Engine;
use berth_engine::monitor::log::{log_path, rotated};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::LogsArgs;

struct Entry {
    stream: String,
    time: String,
    log: String,
}

fn parse_line(line: &str) -> Option<Entry> {
    let v: Value = serde_json::from_str(line).ok()?;
    Some(Entry {
        stream: v["stream"].as_str()?.to_string(),
        time: v["time"].as_str()?.to_string(),
        log: v["log"].as_str()?.to_string(),
    })
}

/// `--since`/`--until`: RFC 3339, unix seconds, or a duration ago (`42m`).
fn parse_time(s: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128)
            .map_err(|e| anyhow!("invalid time {s:?}: {e}"));
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("invalid value for \"since\": {s:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "ms" => n / 1000.0,
        _ => bail!("invalid value for \"since\": {s:?}"),
    };
    Ok(OffsetDateTime::now_utc() - time::Duration::seconds_f64(secs))
}

pub fn run(engine: &Engine, a: LogsArgs) -> Result<u8> {
    let row = engine.container(&a.container)?;
    let path = log_path(&engine.container_dir(&row.id), &row.id);
    let since = a.since.as_deref().map(parse_time).transpose()?;
    let until = a.until.as_deref().map(parse_time).transpose()?;
    let tail: Option<usize> = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse()
                .map_err(|_| anyhow!("invalid value for \"tail\": {n:?}"))?,
        ),
    };
    let mut files: Vec<std::path::PathBuf> = (1..100)
        .map(|n| rotated(&path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.clone());
    let mut entries = Vec::new();
    for file in &files {
        let Ok(f) = std::fs::File::open(file) else {
            continue;
        };
        for line in BufReader::new(f).lines() {
            if let Some(e) = line.ok().as_deref().and_then(parse_line) {
                entries.push(e);
            }
        }
    }
    let keep = |e: &Entry| {
        let t = OffsetDateTime::parse(&e.time, &Rfc3339).ok();
        since.is_none_or(|s| t.is_some_and(|t| t >= s))
            && until.is_none_or(|u| t.is_some_and(|t| t <= u))
    };
    entries.retain(keep);
    if let Some(n) = tail {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    for e in &entries {
        emit(&a, e)?;
    }
    if !a.follow {
        return Ok(0);
    }
    // Follow the current file until the container stops.
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) => return Ok(0),
    };
    let mut pos = f.seek(SeekFrom::End(0))?;
    let mut partial = String::new();
    loop {
        let live = engine
            .container(&row.id)
            .map(|r| r.state.is_live())
            .unwrap_or(false);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            // Rotated: start over on the new file.
            f = std::fs::File::open(&path)?;
            pos = 0;
        }
        f.seek(SeekFrom::Start(pos))?;
        let mut reader = BufReader::new(&f);
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            pos += line.len() as u64;
            if line.ends_with('\n') {
                partial.push_str(&line);
                if let Some(e) = parse_line(partial.trim_end()).filter(|e| keep(e)) {
                    emit(&a, &e)?;
                }
                partial.clear();
            } else {
                partial.push_str(&line);
            }
            line.clear();
        }
        if !live {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn emit(a: &LogsArgs, e: &Entry) -> Result<()> {
    let text = if a.timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    if e.stream == "stderr" {
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
