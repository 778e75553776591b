//! Docker's variable substitution and word splitting (BuildKit's shell
//! lexer): `$name`, `${name}`, `${name:-word}` / `${name-word}` (default),
//! `${name:+word}` / `${name+word}` (alternative), `${name:?msg}` /
//! `${name?msg}` (required); single quotes keep everything literal, double
//! quotes keep spaces and expand variables, the escape character makes the
//! next character literal. Quotes are removed. The builder applies this
//! where Docker does (ENV, ARG, LABEL, FROM, COPY, ADD, WORKDIR, USER,
//! EXPOSE, VOLUME, STOPSIGNAL, ONBUILD's own line when it runs), never to
//! RUN, CMD or ENTRYPOINT, whose shell does its own.

/// Variables by name; None is unset.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'a dyn Vars,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    /// Words of the rest: each a string and whether it was split from the
    /// next by unquoted blanks (`split`), or one word for the whole text.
    fn words(&mut self, split: bool) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut has_word = false;
        while let Some(c) = self.next() {
            match c {
                c if split && c.is_whitespace() => {
                    if has_word {
                        words.push(std::mem::take(&mut word));
                        has_word = false;
                    }
                }
                '\'' => {
                    has_word = true;
                    loop {
                        match self.next() {
                            Some('\'') => break,
                            Some(c) => word.push(c),
                            None => return Err("unexpected end of statement while looking for matching single-quote".into()),
                        }
                    }
                }
                '"' => {
                    has_word = true;
                    loop {
                        match self.next() {
                            Some('"') => break,
                            Some('$') => word.push_str(&self.variable()?),
                            Some(c) if c == self.escape => match self.peek() {
                                Some(n @ ('"' | '$')) => {
                                    self.pos += 1;
                                    word.push(n);
                                }
                                Some(n) if n == self.escape => {
                                    self.pos += 1;
                                    word.push(n);
                                }
                                _ => word.push(c),
                            },
                            Some(c) => word.push(c),
                            None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                        }
                    }
                }
                '$' => {
                    let value = self.variable()?;
                    if split {
                        // Unquoted, a value splits as the shell splits it.
                        for ch in value.chars() {
                            if ch.is_whitespace() {
                                if has_word {
                                    words.push(std::mem::take(&mut word));
                                    has_word = false;
                                }
                            } else {
                                word.push(ch);
                                has_word = true;
                            }
                        }
                    } else {
                        has_word = true;
                        word.push_str(&value);
                    }
                }
                c if c == self.escape => {
                    has_word = true;
                    match self.next() {
                        Some(n) => word.push(n),
                        None => word.push(c),
                    }
                }
                c => {
                    has_word = true;
                    word.push(c);
                }
            }
        }
        if has_word || !split {
            words.push(word);
        }
        Ok(words)
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    /// After a `$`: its value, or `$` itself when no name follows.
    fn variable(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("bad substitution: missing variable name in ${}".into());
                }
                let value = self.vars.get(&name);
                match self.next() {
                    Some('}') => Ok(value.unwrap_or_default()),
                    Some(':') => {
                        let op = self.next().ok_or("bad substitution: unterminated ${")?;
                        let word = self.operand()?;
                        // With ':' an empty value counts as unset.
                        let set = value.clone().filter(|v| !v.is_empty());
                        self.apply(&name, op, set, word)
                    }
                    Some(op @ ('-' | '+' | '?')) => {
                        let word = self.operand()?;
                        self.apply(&name, op, value, word)
                    }
                    Some(other) => Err(format!(
                        "unsupported modifier ({other}) in substitution of ${{{name}}}"
                    )),
                    None => Err(format!("missing '}}' in substitution of ${{{name}")),
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.name();
                Ok(self.vars.get(&name).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// The word of `${name:-word}`, itself expanded, up to the `}`.
    fn operand(&mut self) -> Result<String, String> {
        let mut depth = 0;
        let start = self.pos;
        loop {
            match self.next() {
                Some('{') => depth += 1,
                Some('}') if depth == 0 => break,
                Some('}') => depth -= 1,
                Some(c) if c == self.escape => self.pos += 1,
                Some(_) => {}
                None => return Err("missing '}' in substitution".into()),
            }
        }
        let inner: String = self.chars[start..self.pos - 1].iter().collect();
        let mut lexer = Lexer {
            chars: inner.chars().collect(),
            pos: 0,
            escape: self.escape,
            vars: self.vars,
        };
        Ok(lexer.words(false)?.concat())
    }

    fn apply(
        &self,
        name: &str,
        op: char,
        value: Option<String>,
        word: String,
    ) -> Result<String, String> {
        match op {
            '-' => Ok(value.unwrap_or(word)),
            '+' => Ok(if value.is_some() { word } else { String::new() }),
            '?' => match value {
                Some(v) => Ok(v),
                None if word.is_empty() => Err(format!("{name}: is not allowed to be unset")),
                None => Err(format!("{name}: {word}")),
            },
            other => Err(format!(
                "unsupported modifier ({other}) in substitution of ${{{name}}}"
            )),
        }
    }
}

/// `text` as one word: variables expanded, quotes and escapes removed.
pub fn expand(text: &str, vars: &dyn Vars, escape: char) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        vars,
    };
    Ok(lexer.words(false)?.concat())
}

/// `text` as words split at unquoted blanks, each expanded.
pub fn expand_words(text: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, String> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        vars,
    };
    lexer.words(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("x y".into()),
            _ => None,
        }
    }

    fn x(text: &str) -> Result<String, String> {
        expand(text, &vars, '\\')
    }

    #[test]
    fn substitutions_as_docker() {
        assert_eq!(x("$A/${A}/$NONE/${NONE}").unwrap(), "a/a//");
        assert_eq!(
            x("${NONE:-d} ${EMPTY:-d} ${EMPTY-d} ${A:-d}").unwrap(),
            "d d  a"
        );
        assert_eq!(
            x("${A:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${NONE+alt}").unwrap(),
            "alt  alt "
        );
        assert_eq!(x("${NONE:-${A}b}").unwrap(), "ab");
        assert_eq!(x("${A:?}").unwrap(), "a");
        assert!(
            x("${NONE:?must be set}")
                .unwrap_err()
                .contains("must be set")
        );
        assert!(x("${A/x/y}").is_err());
        assert!(x("${A").is_err());
        assert_eq!(x("cost $5 and $").unwrap(), "cost $5 and $");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A' \"$A\" \\$A").unwrap(), "$A a $A");
        assert_eq!(x("\"a \\\"q\\\" \\$A \\\\\"").unwrap(), "a \"q\" $A \\");
        assert_eq!(x("\"keep\\n\"").unwrap(), "keep\\n");
        assert_eq!(expand("`$A", &vars, '`').unwrap(), "$A");
        assert!(x("'open").is_err());
        assert!(x("\"open").is_err());
    }

    #[test]
    fn words_split_outside_quotes() {
        let w = expand_words("a \"b c\" $SPACED '' d\\ e", &vars, '\\').unwrap();
        assert_eq!(w, vec!["a", "b c", "x", "y", "", "d e"]);
        let w = expand_words("\"$SPACED\" $NONE z", &vars, '\\').unwrap();
        assert_eq!(w, vec!["x y", "z"]);
        assert!(expand_words("  ", &vars, '\\').unwrap().is_empty());
    }
}
