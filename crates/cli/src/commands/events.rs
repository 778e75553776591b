//! `events`: the engine's event source, printed as Docker's CLI prints it.

use std::io::Write;

use anyhow::Result;
use berth_engine::Engine;
use berth_engine::events::{Event, EventFilters, EventsOptions};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cli::EventsArgs;
use crate::format::Template;

pub fn run(engine: &Engine, a: EventsArgs) -> Result<u8> {
    let options = EventsOptions {
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
        filters: EventFilters::parse(&a.filter)?,
        // The follow ends with this process.
        cancel: None,
    };
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") | Some("{{json .}}") => Some(None),
        Some(f) => Some(Some(Template::parse(
            &f.replace("\\t", "\t").replace("\\n", "\n"),
        )?)),
    };
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let stdout = std::io::stdout();
    engine.events(&options, |e| {
        let line = match &template {
            None => pretty(e, offset),
            Some(None) => e.docker_json().to_string(),
            Some(Some(t)) => t
                .render(&template_context(e))
                .map_err(|err| berth_engine::Error::invalid(err.to_string()))?,
        };
        let mut out = stdout.lock();
        // A reader that went away ends the stream.
        Ok(writeln!(out, "{line}").and_then(|_| out.flush()).is_ok())
    })?;
    Ok(0)
}

/// Docker's line: `TIME TYPE ACTION ID (k=v, ...)`, the time in the local
/// zone with nanoseconds.
fn pretty(e: &Event, offset: time::UtcOffset) -> String {
    let when = OffsetDateTime::from_unix_timestamp_nanos(e.time_nano as i128)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let stamp = if offset.is_utc() {
        when.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
        ))
    } else {
        when.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9][offset_hour sign:mandatory]:[offset_minute]"
        ))
    }
    .unwrap_or_default();
    let mut line = format!("{stamp} {} {} {}", e.kind.as_str(), e.action, e.actor);
    if !e.attributes.is_empty() {
        let attrs: Vec<String> = e
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// The fields a Go template sees (Docker's `events.Message` names).
fn template_context(e: &Event) -> Value {
    let json = e.docker_json();
    serde_json::json!({
        "Status": json["status"],
        "ID": json["id"],
        "From": json["from"],
        "Type": json["Type"],
        "Action": json["Action"],
        "Actor": json["Actor"],
        "Scope": json["scope"],
        "Time": json["time"],
        "TimeNano": json["timeNano"],
    })
}
