//! From text to logical instructions: parser directives at the top, then
//! comments dropped, continuations joined (the escape character at a
//! line's end), and heredoc bodies gathered for the instructions that take
//! them (RUN, COPY, ADD), as BuildKit's parser does.

use crate::error::{Error, Result};

/// `# syntax=`, `# escape=`, `# check=` before anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directives {
    /// Noted, not followed: berth has one frontend, this one.
    pub syntax: Option<String>,
    /// `\` (the default) or `` ` ``.
    pub escape: char,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Directives {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A heredoc an instruction names (`<<EOF` … `EOF`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines between, each with its newline.
    pub body: String,
    /// Unquoted delimiter: variables in the body are expanded.
    pub expand: bool,
}

/// One instruction as written: the line it starts on, its text with
/// continuations joined, and its heredocs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalLine {
    pub line: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// Instructions whose heredocs BuildKit reads.
fn takes_heredocs(text: &str) -> bool {
    let keyword = text.split_whitespace().next().unwrap_or("");
    matches!(
        keyword.to_ascii_uppercase().as_str(),
        "RUN" | "COPY" | "ADD"
    )
}

/// The `<<[-]WORD` / `<<"WORD"` / `<<'WORD'` markers of a line outside
/// quotes, in order: (name, strip leading tabs, expand).
fn heredoc_markers(text: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '<'
                && chars.get(i + 1) == Some(&'<')
                && chars.get(i + 2) != Some(&'<') =>
            {
                let mut j = i + 2;
                let strip = chars.get(j) == Some(&'-');
                if strip {
                    j += 1;
                }
                let delimiter = match chars.get(j) {
                    Some(q @ ('"' | '\'')) => {
                        j += 1;
                        Some(*q)
                    }
                    _ => None,
                };
                let start = j;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let closed = match delimiter {
                    Some(q) => chars.get(j) == Some(&q),
                    None => true,
                };
                if j > start && closed {
                    out.push((chars[start..j].iter().collect(), strip, delimiter.is_none()));
                    i = j + usize::from(delimiter.is_some());
                    continue;
                }
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// Reads a directive line (`# key=value`), if it is one.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.trim().to_string()))
}

/// Splits `text` (the Dockerfile named `file` in errors) into its
/// directives and logical lines.
pub fn split(file: &str, text: &str) -> Result<(Directives, Vec<LogicalLine>)> {
    let physical: Vec<&str> = text.lines().collect();
    let mut directives = Directives::default();
    let mut seen = Vec::new();
    let mut i = 0;
    // Directives: only at the very top, until anything else.
    while i < physical.len() {
        let Some((key, value)) = directive(physical[i]) else {
            break;
        };
        if seen.contains(&key) {
            return Err(Error::new(
                file,
                i + 1,
                "directive",
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(Error::new(
                            file,
                            i + 1,
                            "directive",
                            format!("invalid escape token {other:?} does not match ` or \\"),
                        ));
                    }
                }
            }
            "syntax" => directives.syntax = Some(value),
            "check" => directives.check = Some(value),
            // Unknown directives are comments, and end the directives.
            _ => break,
        }
        seen.push(key);
        i += 1;
    }

    let escape = directives.escape;
    let mut out = Vec::new();
    while i < physical.len() {
        let raw = physical[i];
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut text = String::new();
        let mut current = raw.trim_start().to_string();
        loop {
            let end = current.trim_end();
            if let Some(body) = end.strip_suffix(escape) {
                text.push_str(body);
                i += 1;
                // Comment and empty lines inside a continuation are skipped.
                while i < physical.len() {
                    let next = physical[i].trim_start();
                    if next.is_empty() || next.starts_with('#') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i >= physical.len() {
                    break;
                }
                current = physical[i].to_string();
            } else {
                text.push_str(&current);
                i += 1;
                break;
            }
        }
        let mut heredocs = Vec::new();
        if takes_heredocs(&text) {
            for (name, strip, expand) in heredoc_markers(&text) {
                let mut body = String::new();
                let mut closed = false;
                while i < physical.len() {
                    let l = physical[i];
                    i += 1;
                    let l = if strip { l.trim_start_matches('\t') } else { l };
                    if l == name {
                        closed = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !closed {
                    let keyword = text.split_whitespace().next().unwrap_or("");
                    return Err(Error::new(
                        file,
                        start,
                        keyword,
                        format!("unterminated heredoc {name}"),
                    ));
                }
                heredocs.push(Heredoc { name, body, expand });
            }
        }
        out.push(LogicalLine {
            line: start,
            text: text.trim().to_string(),
            heredocs,
        });
    }
    Ok((directives, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_then_instructions() {
        let (d, lines) = split(
            "Dockerfile",
            "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM a\nRUN x `\n  y\n",
        )
        .unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].text, "RUN x   y");
        assert_eq!(lines[1].line, 5);
    }

    #[test]
    fn directives_only_at_the_top() {
        let (d, lines) = split("Dockerfile", "FROM a\n# escape=`\nRUN x \\\n y\n").unwrap();
        assert_eq!(d.escape, '\\');
        assert_eq!(lines[1].text, "RUN x  y");
        let (d, _) = split("Dockerfile", "# comment\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(d.escape, '\\');
        let e = split("Dockerfile", "# escape=\\\n# escape=`\nFROM a\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("only one escape"), "{e}");
        assert!(split("Dockerfile", "# escape=x\nFROM a\n").is_err());
    }

    #[test]
    fn comments_and_blank_lines_inside_a_continuation() {
        let (_, lines) = split(
            "Dockerfile",
            "RUN a \\\n# a comment\n\n  && b\n# trailing\nCMD c\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "RUN a   && b");
        assert_eq!(lines[1].line, 6);
    }

    #[test]
    fn heredocs() {
        let text = "RUN <<EOF\necho $HOME\nEOF\nCOPY <<-'A' <<B /dst/\n\tone\n\tA\ntwo\nB\nCMD x\n";
        let (_, lines) = split("Dockerfile", text).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].heredocs[0].body, "echo $HOME\n");
        assert!(lines[0].heredocs[0].expand);
        assert_eq!(lines[1].heredocs[0].name, "A");
        assert_eq!(lines[1].heredocs[0].body, "one\n");
        assert!(!lines[1].heredocs[0].expand);
        assert_eq!(lines[1].heredocs[1].body, "two\n");
        assert_eq!(lines[2].text, "CMD x");
        // Inside quotes it is no heredoc.
        let (_, lines) = split("Dockerfile", "RUN echo 'a<<b'\nCMD x\n").unwrap();
        assert!(lines[0].heredocs.is_empty());
        // Only RUN, COPY and ADD read heredocs.
        let (_, lines) = split("Dockerfile", "CMD cat <<EOF\nFROM a\n").unwrap();
        assert_eq!(lines.len(), 2);
        let e = split("Dockerfile", "FROM a\nRUN <<EOF\nno end\n").unwrap_err();
        assert_eq!((e.line, e.instruction.as_str()), (2, "RUN"));
    }
}
