//! Logical lines as typed instructions, with BuildKit's rules for each:
//! flags (`--name=value`, unknown ones refused), exec form (a JSON array)
//! or shell form, ENV/LABEL's two syntaxes, ARG with defaults, COPY/ADD
//! sources and destination, HEALTHCHECK NONE or CMD, ONBUILD triggers.
//! Values stay as written (quotes included): `words::expand` gives them
//! their meaning when the builder reaches them, with the variables of
//! that moment.

use crate::error::{Error, Result};
use crate::lines::{self, Directives, Heredoc};

/// A command as RUN, CMD, ENTRYPOINT or HEALTHCHECK give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `["executable", "arg"]`
    Exec(Vec<String>),
    /// `executable arg`, run by the stage's SHELL.
    Shell(String),
}

/// `--name` or `--name=value`, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    From {
        platform: Option<String>,
        image: String,
        alias: Option<String>,
    },
    Run {
        flags: Vec<Flag>,
        command: Command,
        heredocs: Vec<Heredoc>,
    },
    Cmd(Command),
    Entrypoint(Command),
    /// (name, value as written)
    Env(Vec<(String, String)>),
    /// (name, default as written)
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    /// COPY, or ADD (`add`): sources then the destination, as written.
    Copy {
        add: bool,
        flags: Vec<Flag>,
        sources: Vec<String>,
        dest: String,
        heredocs: Vec<Heredoc>,
    },
    Workdir(String),
    User(String),
    Volume(Vec<String>),
    StopSignal(String),
    HealthcheckNone,
    Healthcheck {
        flags: Vec<Flag>,
        command: Command,
    },
    Shell(Vec<String>),
    Onbuild {
        /// The trigger as written (what the image's config records).
        trigger: String,
        parsed: Box<Instruction>,
    },
    Maintainer(String),
}

/// An instruction and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    /// The keyword, upper case (`RUN`).
    pub keyword: String,
    /// The line as written after the keyword (what `created_by` shows).
    pub original: String,
    pub instruction: Instruction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub instructions: Vec<Located>,
}

/// Words split at unquoted blanks, quotes and escapes kept (BuildKit's
/// parseWords): the builder expands each later.
fn raw_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A JSON array of strings, if `text` is one (the exec form).
fn json_array(text: &str) -> Option<Vec<String>> {
    let t = text.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str(t).ok()
}

fn command(text: &str) -> Command {
    match json_array(text) {
        Some(v) => Command::Exec(v),
        None => Command::Shell(text.to_string()),
    }
}

struct Ctx<'a> {
    file: &'a str,
    line: usize,
    keyword: &'a str,
    escape: char,
}

impl Ctx<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::new(self.file, self.line, self.keyword, message)
    }

    /// Leading `--flags` (of those `allowed`), and the rest.
    fn flags<'t>(&self, text: &'t str, allowed: &[&str]) -> Result<(Vec<Flag>, &'t str)> {
        let mut flags = Vec::new();
        let mut rest = text.trim_start();
        while let Some(after) = rest.strip_prefix("--") {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let token = &after[..end];
            let (name, value) = match token.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (token, None),
            };
            if !allowed.contains(&name) {
                return Err(self.err(format!("unknown flag: {name}")));
            }
            flags.push(Flag {
                name: name.to_string(),
                value,
            });
            rest = after[end..].trim_start();
        }
        Ok((flags, rest))
    }

    /// ENV and LABEL: `k=v k2="v 2"`, or the legacy `k value…`.
    fn pairs(&self, text: &str) -> Result<Vec<(String, String)>> {
        let words = raw_words(text, self.escape);
        let Some(first) = words.first() else {
            return Err(self.err(format!("{} requires at least one argument", self.keyword)));
        };
        if !first.contains('=') {
            let value = text.trim_start()[first.len()..].trim().to_string();
            if words.len() < 2 {
                return Err(self.err(format!("{} must have two arguments", self.keyword)));
            }
            return Ok(vec![(first.clone(), value)]);
        }
        let mut out = Vec::new();
        for w in words {
            let Some((k, v)) = w.split_once('=') else {
                return Err(self.err(format!(
                    "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                )));
            };
            if k.is_empty() {
                return Err(self.err(format!("{} names can not be blank", self.keyword)));
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(out)
    }

    fn instruction(&self, rest: &str, heredocs: Vec<Heredoc>) -> Result<Instruction> {
        let need = |what: &str| -> Result<()> {
            if rest.trim().is_empty() {
                Err(self.err(format!("{} requires {what}", self.keyword)))
            } else {
                Ok(())
            }
        };
        Ok(match self.keyword {
            "FROM" => {
                let (flags, rest) = self.flags(rest, &["platform"])?;
                let words = raw_words(rest, self.escape);
                let alias = match words.as_slice() {
                    [_] => None,
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.clone()),
                    _ => return Err(self.err("FROM requires either one or three arguments")),
                };
                Instruction::From {
                    platform: flags.into_iter().find_map(|f| f.value),
                    image: words[0].clone(),
                    alias,
                }
            }
            "RUN" => {
                let (flags, rest) = self.flags(rest, &["mount", "network", "security"])?;
                if rest.trim().is_empty() && heredocs.is_empty() {
                    return Err(self.err("RUN requires at least one argument"));
                }
                Instruction::Run {
                    flags,
                    command: command(rest),
                    heredocs,
                }
            }
            "CMD" => {
                need("at least one argument")?;
                Instruction::Cmd(command(rest))
            }
            "ENTRYPOINT" => {
                need("at least one argument")?;
                Instruction::Entrypoint(command(rest))
            }
            "ENV" => Instruction::Env(self.pairs(rest)?),
            "LABEL" => Instruction::Label(self.pairs(rest)?),
            "ARG" => {
                let words = raw_words(rest, self.escape);
                if words.is_empty() {
                    return Err(self.err("ARG requires at least one argument"));
                }
                Instruction::Arg(
                    words
                        .into_iter()
                        .map(|w| match w.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (w, None),
                        })
                        .collect(),
                )
            }
            "EXPOSE" => {
                need("at least one argument")?;
                Instruction::Expose(raw_words(rest, self.escape))
            }
            "COPY" | "ADD" => {
                let add = self.keyword == "ADD";
                let allowed: &[&str] = if add {
                    &[
                        "chown",
                        "chmod",
                        "link",
                        "exclude",
                        "checksum",
                        "keep-git-dir",
                    ]
                } else {
                    &["from", "chown", "chmod", "link", "exclude", "parents"]
                };
                let (flags, rest) = self.flags(rest, allowed)?;
                let mut words = json_array(rest).unwrap_or_else(|| raw_words(rest, self.escape));
                // Heredoc sources are words too (`COPY <<EOF /dst`).
                if words.len() < 2 {
                    return Err(self.err(format!(
                        "{} requires at least two arguments, but only one was provided. Destination could not be determined",
                        self.keyword
                    )));
                }
                let dest = words.pop().unwrap_or_default();
                Instruction::Copy {
                    add,
                    flags,
                    sources: words,
                    dest,
                    heredocs,
                }
            }
            "WORKDIR" => {
                need("exactly one argument")?;
                Instruction::Workdir(rest.trim().to_string())
            }
            "USER" => {
                need("exactly one argument")?;
                Instruction::User(rest.trim().to_string())
            }
            "VOLUME" => {
                need("at least one argument")?;
                Instruction::Volume(
                    json_array(rest).unwrap_or_else(|| raw_words(rest, self.escape)),
                )
            }
            "STOPSIGNAL" => {
                need("exactly one argument")?;
                Instruction::StopSignal(rest.trim().to_string())
            }
            "SHELL" => match json_array(rest) {
                Some(v) if !v.is_empty() => Instruction::Shell(v),
                _ => return Err(self.err("SHELL requires the arguments to be in JSON form")),
            },
            "HEALTHCHECK" => {
                if rest.trim().eq_ignore_ascii_case("none") {
                    Instruction::HealthcheckNone
                } else {
                    let (flags, rest) = self.flags(
                        rest,
                        &[
                            "interval",
                            "timeout",
                            "start-period",
                            "start-interval",
                            "retries",
                        ],
                    )?;
                    let kind_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    let kind = &rest[..kind_end];
                    if kind.eq_ignore_ascii_case("none") {
                        return Err(self.err("HEALTHCHECK NONE takes no other arguments"));
                    }
                    if !kind.eq_ignore_ascii_case("cmd") {
                        return Err(
                            self.err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"))
                        );
                    }
                    let cmd = rest[kind_end..].trim();
                    if cmd.is_empty() {
                        return Err(self.err("Missing command after HEALTHCHECK CMD"));
                    }
                    Instruction::Healthcheck {
                        flags,
                        command: command(cmd),
                    }
                }
            }
            "ONBUILD" => {
                let trigger = rest.trim();
                let keyword = trigger
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                match keyword.as_str() {
                    "" => return Err(self.err("ONBUILD requires at least one argument")),
                    "ONBUILD" => {
                        return Err(
                            self.err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
                        );
                    }
                    "FROM" | "MAINTAINER" => {
                        return Err(
                            self.err(format!("{keyword} isn't allowed as an ONBUILD trigger"))
                        );
                    }
                    _ => {}
                }
                let inner = Ctx {
                    file: self.file,
                    line: self.line,
                    keyword: &keyword,
                    escape: self.escape,
                };
                let after = trigger[keyword.len()..].trim_start();
                Instruction::Onbuild {
                    trigger: trigger.to_string(),
                    parsed: Box::new(inner.instruction(after, Vec::new())?),
                }
            }
            "MAINTAINER" => {
                need("exactly one argument")?;
                Instruction::Maintainer(rest.trim().to_string())
            }
            other => return Err(self.err(format!("unknown instruction: {other}"))),
        })
    }
}

/// Parses a Dockerfile (named `file` in errors).
pub fn parse(file: &str, text: &str) -> Result<Dockerfile> {
    let (directives, logical) = lines::split(file, text)?;
    let mut instructions = Vec::new();
    for l in logical {
        let end = l.text.find(char::is_whitespace).unwrap_or(l.text.len());
        let written = &l.text[..end];
        let keyword = written.to_ascii_uppercase();
        let rest = l.text[end..].trim_start();
        let ctx = Ctx {
            file,
            line: l.line,
            keyword: &keyword,
            escape: directives.escape,
        };
        let instruction = ctx.instruction(rest, l.heredocs)?;
        if instructions.iter().all(|i: &Located| i.keyword == "ARG")
            && !matches!(instruction, Instruction::From { .. } | Instruction::Arg(_))
        {
            return Err(ctx.err("no build stage in current context (the first instruction must be FROM, after ARGs only)"));
        }
        instructions.push(Located {
            line: l.line,
            keyword,
            original: rest.to_string(),
            instruction,
        });
    }
    if !instructions.iter().any(|i| i.keyword == "FROM") {
        return Err(Error::new(
            file,
            1,
            "FROM",
            "the Dockerfile has no FROM instruction",
        ));
    }
    Ok(Dockerfile {
        directives,
        instructions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Instruction {
        let f = parse("Dockerfile", &format!("FROM scratch\n{text}\n")).unwrap();
        f.instructions[1].instruction.clone()
    }

    fn fails(text: &str) -> Error {
        parse("Dockerfile", text).unwrap_err()
    }

    #[test]
    fn from_with_platform_and_alias() {
        let f = parse(
            "Dockerfile",
            "ARG V=1\nFROM --platform=$BUILDPLATFORM busybox:$V AS build\n",
        )
        .unwrap();
        assert_eq!(
            f.instructions[1].instruction,
            Instruction::From {
                platform: Some("$BUILDPLATFORM".into()),
                image: "busybox:$V".into(),
                alias: Some("build".into()),
            }
        );
        let e = fails("FROM a b\n");
        assert_eq!((e.line, e.instruction.as_str()), (1, "FROM"));
        assert!(e.to_string().starts_with("Dockerfile:1: FROM: "), "{e}");
    }

    #[test]
    fn run_cmd_entrypoint_forms() {
        assert_eq!(
            one("RUN --mount=type=cache,target=/c --network=none echo hi"),
            Instruction::Run {
                flags: vec![
                    Flag {
                        name: "mount".into(),
                        value: Some("type=cache,target=/c".into())
                    },
                    Flag {
                        name: "network".into(),
                        value: Some("none".into())
                    },
                ],
                command: Command::Shell("echo hi".into()),
                heredocs: vec![],
            }
        );
        assert_eq!(
            one("CMD [\"a\", \"b c\"]"),
            Instruction::Cmd(Command::Exec(vec!["a".into(), "b c".into()]))
        );
        // Not JSON: the shell form, as written.
        assert_eq!(
            one("ENTRYPOINT [not json"),
            Instruction::Entrypoint(Command::Shell("[not json".into()))
        );
        assert!(
            fails("FROM a\nRUN --bogus x\n")
                .message
                .contains("unknown flag: bogus")
        );
        assert!(fails("FROM a\nCMD\n").message.contains("requires"));
    }

    #[test]
    fn env_label_arg() {
        assert_eq!(
            one("ENV A=1 B=\"two words\" C=a\\ b"),
            Instruction::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into()),
                ("C".into(), "a\\ b".into()),
            ])
        );
        assert_eq!(
            one("ENV A legacy value"),
            Instruction::Env(vec![("A".into(), "legacy value".into())])
        );
        assert_eq!(
            one("LABEL a=b"),
            Instruction::Label(vec![("a".into(), "b".into())])
        );
        assert_eq!(
            one("ARG A B=2"),
            Instruction::Arg(vec![("A".into(), None), ("B".into(), Some("2".into()))])
        );
        assert!(
            fails("FROM a\nENV A=1 B\n")
                .message
                .contains("can't find =")
        );
        assert!(fails("FROM a\nENV\n").message.contains("at least one"));
    }

    #[test]
    fn copy_add_workdir_volume_and_others() {
        assert_eq!(
            one("COPY --from=build --chown=1:1 --link a b /dst/"),
            Instruction::Copy {
                add: false,
                flags: vec![
                    Flag {
                        name: "from".into(),
                        value: Some("build".into())
                    },
                    Flag {
                        name: "chown".into(),
                        value: Some("1:1".into())
                    },
                    Flag {
                        name: "link".into(),
                        value: None
                    },
                ],
                sources: vec!["a".into(), "b".into()],
                dest: "/dst/".into(),
                heredocs: vec![],
            }
        );
        match one("ADD [\"a b\", \"/c\"]") {
            Instruction::Copy {
                add: true,
                sources,
                dest,
                ..
            } => {
                assert_eq!((sources, dest), (vec!["a b".to_string()], "/c".to_string()));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            fails("FROM a\nCOPY only\n")
                .message
                .contains("at least two arguments")
        );
        assert!(
            fails("FROM a\nADD --from=x a b\n")
                .message
                .contains("unknown flag: from")
        );
        assert_eq!(
            one("VOLUME [\"/a\", \"/b\"]"),
            Instruction::Volume(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(
            one("VOLUME /a /b"),
            Instruction::Volume(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(one("WORKDIR /w"), Instruction::Workdir("/w".into()));
        assert_eq!(one("USER 1:2"), Instruction::User("1:2".into()));
        assert_eq!(
            one("STOPSIGNAL SIGINT"),
            Instruction::StopSignal("SIGINT".into())
        );
        assert_eq!(
            one("EXPOSE 80/tcp 53/udp"),
            Instruction::Expose(vec!["80/tcp".into(), "53/udp".into()])
        );
        assert_eq!(
            one("SHELL [\"/bin/sh\", \"-ec\"]"),
            Instruction::Shell(vec!["/bin/sh".into(), "-ec".into()])
        );
        assert!(fails("FROM a\nSHELL /bin/sh\n").message.contains("JSON"));
        assert_eq!(one("MAINTAINER me"), Instruction::Maintainer("me".into()));
    }

    #[test]
    fn healthcheck_and_onbuild() {
        assert_eq!(one("HEALTHCHECK NONE"), Instruction::HealthcheckNone);
        assert_eq!(
            one("HEALTHCHECK --interval=5s --retries=3 CMD true"),
            Instruction::Healthcheck {
                flags: vec![
                    Flag {
                        name: "interval".into(),
                        value: Some("5s".into())
                    },
                    Flag {
                        name: "retries".into(),
                        value: Some("3".into())
                    },
                ],
                command: Command::Shell("true".into()),
            }
        );
        assert!(
            fails("FROM a\nHEALTHCHECK RUN x\n")
                .message
                .contains("try CMD")
        );
        match one("ONBUILD RUN echo hi") {
            Instruction::Onbuild { trigger, parsed } => {
                assert_eq!(trigger, "RUN echo hi");
                assert_eq!(
                    *parsed,
                    Instruction::Run {
                        flags: vec![],
                        command: Command::Shell("echo hi".into()),
                        heredocs: vec![]
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            fails("FROM a\nONBUILD ONBUILD RUN x\n")
                .message
                .contains("Chaining")
        );
        assert!(
            fails("FROM a\nONBUILD FROM x\n")
                .message
                .contains("isn't allowed")
        );
    }

    #[test]
    fn structure_errors_name_the_line() {
        let e = fails("FROM a\n\nFORM b\n");
        assert_eq!((e.line, e.instruction.as_str()), (3, "FORM"));
        assert!(e.message.contains("unknown instruction"));
        let e = fails("RUN x\nFROM a\n");
        assert!(e.message.contains("no build stage"), "{e}");
        assert!(fails("ARG A\n").message.contains("no FROM"));
        // Keywords are case-insensitive; heredocs reach RUN.
        let f = parse("Dockerfile", "from a\nrun <<EOF\necho x\nEOF\n").unwrap();
        match &f.instructions[1].instruction {
            Instruction::Run { heredocs, .. } => assert_eq!(heredocs[0].body, "echo x\n"),
            other => panic!("{other:?}"),
        }
    }
}
