//! `history`.

use anyhow::Result;
use berth_engine::Engine;
use serde_json::{Value, json};

use super::images::{created_at, since};
use super::short_id;
use crate::cli::HistoryArgs;
use crate::format::{self, units};

pub fn run(engine: &Engine, args: HistoryArgs) -> Result<u8> {
    let entries = engine.history(&args.image)?;
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let created = berth_engine::images::parse_created(e.created.as_deref());
            let created_by = e.created_by.replace('\t', " ");
            let created_by = if args.no_trunc { created_by } else { ellipsis(&created_by, 45) };
            json!({
                "ID": e.id.as_ref().map(|d| short_id(d, args.no_trunc)).unwrap_or_else(|| "<missing>".into()),
                "CreatedSince": match (created, args.human) {
                    (Some(t), true) => since(t),
                    (Some(t), false) => t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                    (None, _) => "N/A".into(),
                },
                "CreatedAt": created.map(created_at).unwrap_or_else(|| "N/A".into()),
                "CreatedBy": created_by,
                "Size": if args.human { units::human_size(e.size, 3) } else { e.size.to_string() },
                "Comment": e.comment,
            })
        })
        .collect();
    let default = if args.quiet {
        "{{.ID}}"
    } else {
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let header = json!({"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"});
    let format = if args.quiet {
        None
    } else {
        args.format.as_deref()
    };
    crate::output::print(&format::render_rows(format, default, &header, &rows)?)?;
    Ok(0)
}

/// Docker's `Ellipsis`: at most `max` characters, the last one "…" when cut.
pub(crate) fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
