//! Output formatting shared by the listing commands: Docker's `--format`
//! (`table …`, `json`, or a Go template) and its tab-aligned tables.

pub mod ports;
pub mod template;
mod template_exec;
mod template_funcs;
#[cfg(test)]
mod template_tests;
pub mod units;

use serde_json::Value;

pub use template::{Template, TemplateError};

/// Go's strconv.Quote (docker quotes `ps`'s COMMAND with it).
pub fn go_quote(s: &str) -> String {
    template_funcs::go_quote(s)
}

/// `inspect`'s output: a pretty JSON array by default (or `json`), else a
/// Go template per object, each on its own line.
pub fn render_inspect(format: Option<&str>, found: &[Value]) -> Result<String, TemplateError> {
    match format {
        None | Some("") | Some("json") => Ok(format!(
            "{}\n",
            crate::output::json_pretty(&Value::Array(found.to_vec()))
        )),
        Some(f) => {
            let t = Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?;
            found
                .iter()
                .map(|v| t.render(v).map(|s| s + "\n"))
                .collect()
        }
    }
}

/// Renders `rows` with a user's `--format` (or the command's default table).
/// `header` maps each field to its column title, as Docker's table headers do.
pub fn render_rows(
    format: Option<&str>,
    default_table: &str,
    header: &Value,
    rows: &[Value],
) -> Result<String, TemplateError> {
    let format = match format {
        None | Some("") | Some("table") => default_table,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            (true, rest.trim())
        }
        _ => (false, format),
    };
    let body = body.replace("\\t", "\t").replace("\\n", "\n");
    let template = Template::parse(&body)?;
    let mut out = String::new();
    if table {
        out.push_str(&template.render(header)?);
        out.push('\n');
    }
    for row in rows {
        out.push_str(&template.render(row)?);
        out.push('\n');
    }
    Ok(if table { tabwrite(&out) } else { out })
}

/// Go's text/tabwriter as Docker configures it for tables (minwidth 10,
/// padding 3): tab-terminated cells are padded to their column's width.
pub fn tabwrite(text: &str) -> String {
    tabwrite_with(text, 10, 3)
}

/// Go's text/tabwriter with docker's other settings (`top`: minwidth 20).
pub fn tabwrite_with(text: &str, min_width: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        for (c, cell) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
            let w = (cell.chars().count() + padding).max(min_width);
            if widths.len() <= c {
                widths.resize(c + 1, min_width);
            }
            widths[c] = widths[c].max(w);
        }
    }
    let mut out = String::new();
    for cells in &lines {
        for (c, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn table_matches_docker_layout() {
        let header = json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID"});
        let rows = vec![json!({"Repository": "busybox", "Tag": "latest", "ID": "f04044439304"})];
        let out = render_rows(
            None,
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
            &header,
            &rows,
        )
        .expect("render");
        assert_eq!(
            out,
            "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    f04044439304\n"
        );
        let raw =
            render_rows(Some("{{.Repository}}:{{.Tag}}"), "", &header, &rows).expect("render");
        assert_eq!(raw, "busybox:latest\n");
        let json = render_rows(Some("json"), "", &header, &rows).expect("render");
        assert_eq!(
            json,
            "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"f04044439304\"}\n"
        );
        let custom =
            render_rows(Some("table {{.ID}}\\t{{.Tag}}"), "", &header, &rows).expect("render");
        assert_eq!(custom, "IMAGE ID       TAG\nf04044439304   latest\n");
    }
}
