//! What differs between two engines' outputs without meaning anything:
//! IDs, times, and the column widths they cause. The differential tests
//! compare outputs after this.

use std::sync::OnceLock;

use regex_lite::Regex;

fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            (r"[0-9a-f]{64}", "<ID>"),
            (r"\b[0-9a-f]{12}\b", "<id>"),
            (
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                "<time>",
            ),
            (
                r"(\d+|About an?|Less than a) (second|minute|hour)s?( ago)?",
                "<ago>",
            ),
            (r"[ \t]{2,}", "  "),
            (r"[ \t]+\n", "\n"),
        ]
        .into_iter()
        .map(|(p, r)| (Regex::new(p).expect("pattern"), r))
        .collect()
    })
}

/// IDs as `<ID>` (64 hex) and `<id>` (12), timestamps as `<time>`,
/// relative times as `<ago>`, runs of blanks as two spaces.
pub fn normalise(text: &str) -> String {
    let mut out = text.to_string();
    for (re, with) in patterns() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

/// The lines of `text`, sorted: for listings whose order is not promised.
pub fn sorted_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}
