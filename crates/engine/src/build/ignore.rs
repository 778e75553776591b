//! `.dockerignore`: Docker's pattern rules (moby's patternmatcher).
//!
//! One pattern per line, `#` comments and blank lines skipped, surrounding
//! blanks trimmed; a leading `!` makes an exception; patterns are cleaned
//! (`./a//b/` is `a/b`, a leading `/` dropped). `*` matches within one path
//! element, `?` one character of it, `[…]` a class, `\` escapes, and `**`
//! any number of elements. A path is excluded when the last pattern that
//! matches it or one of its parents is not an exception.

/// The parsed file.
#[derive(Clone, Debug, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    /// Path elements of the cleaned pattern.
    elements: Vec<String>,
    exception: bool,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(body);
            if cleaned.is_empty() {
                continue;
            }
            patterns.push(Pattern {
                elements: cleaned.split('/').map(str::to_string).collect(),
                exception,
            });
        }
        Ignore { patterns }
    }

    /// Adds `other`'s patterns after these (COPY's `--exclude`).
    pub fn extend(&mut self, other: &Ignore) {
        self.patterns.extend(other.patterns.iter().cloned());
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let elements: Vec<&str> = path.split('/').filter(|e| !e.is_empty()).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // The path itself or any parent of it.
            let hit = (1..=elements.len()).any(|n| matches(&p.elements, &elements[..n]));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether a directory that is excluded may still hold a path some
    /// exception brings back (then it must be walked, else skipped whole).
    pub fn may_include_below(&self, dir: &str) -> bool {
        let elements: Vec<&str> = dir.split('/').filter(|e| !e.is_empty()).collect();
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            // The exception's leading elements are compatible with the
            // directory's: it can name something inside.
            prefix_compatible(&p.elements, &elements)
        })
    }
}

/// Go's `filepath.Clean` for a relative pattern, leading `/` dropped.
fn clean(pattern: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for e in pattern.split('/') {
        match e {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.join("/")
}

/// Whether pattern elements match path elements exactly (`**` spanning
/// any number of them).
fn matches(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| matches(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => element_matches(first, name) && matches(rest, path_rest),
            None => false,
        },
    }
}

fn prefix_compatible(pattern: &[String], dir: &[&str]) -> bool {
    match (pattern.split_first(), dir.split_first()) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((first, _)), Some(_)) if first == "**" => true,
        (Some((first, rest)), Some((name, dir_rest))) => {
            element_matches(first, name) && prefix_compatible(rest, dir_rest)
        }
    }
}

/// One element against a glob: `*`, `?`, `[…]` (with `^`/`!` negation and
/// ranges), `\` escapes; `**` inside an element acts as `*`.
pub fn element_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n)
}

fn glob(p: &[char], n: &[char]) -> bool {
    let Some((&c, rest)) = p.split_first() else {
        return n.is_empty();
    };
    match c {
        '*' => (0..=n.len()).any(|i| glob(rest, &n[i..])),
        '?' => !n.is_empty() && glob(rest, &n[1..]),
        '[' => {
            let Some((&ch, n_rest)) = n.split_first() else {
                return false;
            };
            match class(rest, ch) {
                Some((true, after)) => glob(after, n_rest),
                _ => false,
            }
        }
        '\\' if !rest.is_empty() => !n.is_empty() && n[0] == rest[0] && glob(&rest[1..], &n[1..]),
        other => !n.is_empty() && n[0] == other && glob(rest, &n[1..]),
    }
}

/// A `[…]` class (after the `[`) against `ch`: (matched, the pattern after `]`).
fn class(p: &[char], ch: char) -> Option<(bool, &[char])> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, &p[i + 1..]));
        }
        first = false;
        let mut lo = p[i];
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        let mut hi = lo;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hi = p[i + 2];
            i += 2;
        }
        if lo <= ch && ch <= hi {
            matched = true;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        let i = Ignore::parse(
            "# comment\n\n*.log\n!keep.log\nbuild/\n/tmp/*\n**/secret*\ndocs/**/*.md\n",
        );
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("keep.log"));
        assert!(!i.excludes("dir/a.log"), "* does not cross /");
        assert!(i.excludes("build"));
        assert!(i.excludes("build/x/y"), "a parent's match excludes");
        assert!(i.excludes("tmp/x"));
        assert!(!i.excludes("tmp"));
        assert!(i.excludes("secret.txt"));
        assert!(i.excludes("a/b/secrets"));
        assert!(i.excludes("docs/a/b/c.md"));
        assert!(i.excludes("docs/c.md"));
        assert!(!i.excludes("docs/c.txt"));
        assert!(!i.excludes("src/main.rs"));
    }

    #[test]
    fn last_match_wins_and_exceptions_reach_inside() {
        let i = Ignore::parse("vendor\n!vendor/keep\nvendor/keep/drop\n");
        assert!(i.excludes("vendor/x"));
        assert!(!i.excludes("vendor/keep/file"));
        assert!(i.excludes("vendor/keep/drop"));
        assert!(i.may_include_below("vendor"));
        assert!(!Ignore::parse("vendor\n").may_include_below("vendor"));
        let star = Ignore::parse("*\n!src\n");
        assert!(star.excludes("README"));
        assert!(!star.excludes("src/a.rs"));
        assert!(star.may_include_below("src"));
    }

    #[test]
    fn globs() {
        assert!(element_matches("a[0-9]?", "a7x"));
        assert!(!element_matches("a[^0-9]", "a7"));
        assert!(element_matches("\\*", "*"));
        assert!(!element_matches("\\*", "x"));
        assert!(element_matches("*.tar.gz", "x.tar.gz"));
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("/abs"), "abs");
    }
}
