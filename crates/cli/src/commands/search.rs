//! `search`: Docker's table of what an index found (NAME, DESCRIPTION cut
//! to 45 characters unless --no-trunc, STARS, OFFICIAL as `[OK]`).

use anyhow::Result;
use berth_engine::{Engine, SearchOptions};
use serde_json::{Value, json};

use crate::cli::SearchArgs;
use crate::format;

pub fn run(engine: &Engine, args: SearchArgs) -> Result<u8> {
    let filters = args
        .filter
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (f.clone(), String::new()),
        })
        .collect();
    let results = engine.search(&SearchOptions {
        term: args.term.clone(),
        limit: args.limit,
        filters,
        credentials: None,
    })?;
    let ok = |b: bool| if b { "[OK]" } else { "" };
    let rows: Vec<Value> = results
        .iter()
        .map(|r| {
            let description = r.description.replace(['\n', '\r'], " ");
            let description = if args.no_trunc {
                description
            } else {
                super::history::ellipsis(&description, 45)
            };
            json!({
                "Name": r.name,
                "Description": description,
                "StarCount": r.star_count.to_string(),
                "IsOfficial": ok(r.is_official),
                // docker 28's search rows have no IsAutomated (Docker Hub
                // dropped automated builds); a template naming it fails
                // as it does there.
            })
        })
        .collect();
    let header = json!({"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"});
    let default = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";
    crate::output::print(&format::render_rows(
        args.format.as_deref(),
        default,
        &header,
        &rows,
    )?)?;
    Ok(0)
}
