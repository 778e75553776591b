//! Go's text/template, as docker's `--format` uses it, over JSON values:
//! this file reads a template into a tree (`template_exec.rs` runs it,
//! `template_funcs.rs` holds the functions).
//!
//! The language: `{{.Field.Sub}}`, `{{.}}`, `{{$}}`, variables (`{{$x :=
//! …}}`, `{{$x = …}}`, `{{range $i, $v := …}}`), literals (strings, raw
//! strings, numbers, `true`/`false`/`nil`), pipelines (`{{.X | json}}`),
//! parentheses with field chains (`{{(index .X 0).Name}}`), `if` / `else
//! if` / `else with` / `else`, `range` (with `else`, `break`, `continue`),
//! `with`, comments and trim markers (`{{-`, `-}}`); method-style calls
//! on a field with arguments (`{{.Label "k"}}` on `ps` rows).

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Template {
    pub(super) nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    /// An action that prints its pipeline's value (or declares/assigns).
    Action(Pipeline),
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        over: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        value: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Break,
    Continue,
}

/// `$a, $b :=` (declare) or `$a =` (assign), then `cmd | cmd | …`.
#[derive(Debug, Clone, Default)]
pub(super) struct Pipeline {
    pub vars: Vec<String>,
    pub declare: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(super) struct Command {
    pub args: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub(super) enum Operand {
    Dot,
    /// `$name` (`$` alone is the root).
    Var(String),
    /// A chain of fields on a base.
    Field(Vec<String>, Box<Operand>),
    Str(String),
    Num(f64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipeline),
}

/// A template that cannot be parsed (docker exits 64 for it) or run.
#[derive(Debug)]
pub struct TemplateError {
    pub parse: bool,
    pub message: String,
}

impl TemplateError {
    pub(super) fn parse(m: impl Into<String>) -> TemplateError {
        TemplateError {
            parse: true,
            message: format!("template: :1: {}", m.into()),
        }
    }
    pub(super) fn exec(m: impl Into<String>) -> TemplateError {
        TemplateError {
            parse: false,
            message: format!("template: :1: {}", m.into()),
        }
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.parse {
            write!(f, "template parsing error: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let segments = lex(src)?;
        let mut parser = Parser {
            segments,
            pos: 0,
            vars: vec![vec!["$".to_string()]],
            loops: 0,
        };
        let (nodes, end) = parser.nodes()?;
        match end {
            None => Ok(Template { nodes }),
            Some(End::End) => Err(TemplateError::parse("unexpected {{end}}")),
            Some(End::Else(_)) => Err(TemplateError::parse("unexpected {{else}}")),
        }
    }

    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        super::template_exec::render(self, data)
    }
}

enum Segment {
    Text(String),
    Action(String),
}

fn lex(src: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let after = match after
            .strip_prefix("- ")
            .or_else(|| after.strip_prefix("-\t"))
        {
            Some(a) => {
                text = text.trim_end();
                a
            }
            None => after,
        };
        if !text.is_empty() {
            segments.push(Segment::Text(text.to_string()));
        }
        let end = find_action_end(after).ok_or_else(|| TemplateError::parse("unclosed action"))?;
        let mut action = &after[..end];
        trim_next = false;
        if let Some(a) = action
            .strip_suffix(" -")
            .or_else(|| action.strip_suffix("\t-"))
        {
            action = a;
            trim_next = true;
        }
        let action = action.trim();
        if !(action.starts_with("/*") && action.ends_with("*/")) {
            segments.push(Segment::Action(action.to_string()));
        }
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        segments.push(Segment::Text(text.to_string()));
    }
    Ok(segments)
}

/// The `}}` that closes an action, skipping quoted strings.
fn find_action_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' && q != b'`' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if matches!(b[i], b'"' | b'`' | b'\'') {
                    quote = Some(b[i]);
                } else if b[i] == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// How a list of nodes ended.
enum End {
    End,
    /// `{{else}}`, or `{{else if …}}` / `{{else with …}}` (the rest).
    Else(String),
}

struct Parser {
    segments: Vec<Segment>,
    pos: usize,
    /// Variables in scope, innermost scope last (checked at parse, as Go).
    vars: Vec<Vec<String>>,
    loops: usize,
}

impl Parser {
    fn nodes(&mut self) -> Result<(Vec<Node>, Option<End>), TemplateError> {
        let mut nodes = Vec::new();
        while self.pos < self.segments.len() {
            let action = match &self.segments[self.pos] {
                Segment::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    self.pos += 1;
                    continue;
                }
                Segment::Action(a) => a.clone(),
            };
            self.pos += 1;
            let (word, rest) = action
                .split_once(char::is_whitespace)
                .map(|(w, r)| (w, r.trim()))
                .unwrap_or((action.as_str(), ""));
            match word {
                "end" => return Ok((nodes, Some(End::End))),
                "else" => return Ok((nodes, Some(End::Else(rest.to_string())))),
                "if" | "with" | "range" => nodes.push(self.control(word, rest)?),
                "break" | "continue" => {
                    if self.loops == 0 {
                        return Err(TemplateError::parse(format!(
                            "{{{{{word}}}}} outside {{{{range}}}}"
                        )));
                    }
                    nodes.push(if word == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "template" | "block" => {
                    return Err(TemplateError::parse(format!(
                        "{{{{{word}}}}} is not supported in --format"
                    )));
                }
                "" => return Err(TemplateError::parse("missing value for command")),
                _ => {
                    let pipe = self.pipeline(&action, true)?;
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, None))
    }

    /// `if`/`with`/`range` and their bodies, through the matching end.
    fn control(&mut self, word: &str, rest: &str) -> Result<Node, TemplateError> {
        // The pipeline's variables are in scope to the control's end.
        self.vars.push(Vec::new());
        let node = self.control_in_scope(word, rest);
        self.vars.pop();
        node
    }

    fn control_in_scope(&mut self, word: &str, rest: &str) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(rest, true)?;
        if word == "range" {
            self.loops += 1;
        }
        let body = self.nodes();
        if word == "range" {
            self.loops -= 1;
        }
        let (body, end) = body?;
        let otherwise = match end {
            Some(End::End) => Vec::new(),
            Some(End::Else(chain)) if chain.is_empty() => {
                let (o, end) = self.nodes()?;
                match end {
                    Some(End::End) => o,
                    _ => {
                        return Err(TemplateError::parse(format!(
                            "expected end; found {{{{else}}}} in {word}"
                        )));
                    }
                }
            }
            Some(End::Else(chain)) => {
                // `else if X` / `else with X`: a nested control that shares
                // this one's end.
                let (inner, inner_rest) = chain
                    .split_once(char::is_whitespace)
                    .map(|(w, r)| (w, r.trim()))
                    .unwrap_or((chain.as_str(), ""));
                if !matches!(inner, "if" | "with") || word == "range" && inner == "with" {
                    return Err(TemplateError::parse(format!(
                        "unexpected \"{inner}\" after else"
                    )));
                }
                vec![self.control(inner, inner_rest)?]
            }
            None => return Err(TemplateError::parse("unexpected EOF")),
        };
        Ok(match word {
            "if" => Node::If {
                cond: pipe,
                then: body,
                otherwise,
            },
            "range" => Node::Range {
                over: pipe,
                body,
                otherwise,
            },
            _ => Node::With {
                value: pipe,
                body,
                otherwise,
            },
        })
    }

    /// A pipeline, with its declaration when `decl` allows one.
    fn pipeline(&mut self, src: &str, decl: bool) -> Result<Pipeline, TemplateError> {
        let tokens = tokenize(src)?;
        let mut pos = 0;
        let mut pipe = Pipeline::default();
        if decl {
            // `$x :=`, `$x =`, `$i, $v :=`
            let mut names = Vec::new();
            let mut p = 0;
            while let Some(Token::Word(w)) = tokens.get(p) {
                if !w.starts_with('$') || w.contains('.') {
                    break;
                }
                names.push(w.clone());
                p += 1;
                if tokens.get(p) == Some(&Token::Comma) {
                    p += 1;
                    continue;
                }
                break;
            }
            match tokens.get(p) {
                Some(Token::Declare) | Some(Token::Assign) if !names.is_empty() => {
                    pipe.declare = tokens[p] == Token::Declare;
                    if !pipe.declare {
                        for n in &names {
                            self.known(n)?;
                        }
                    }
                    pipe.vars = names;
                    pos = p + 1;
                }
                _ => {}
            }
        }
        pipe.commands = self.commands(&tokens, &mut pos)?;
        if pos < tokens.len() {
            return Err(TemplateError::parse(format!(
                "unexpected {} in operand",
                tokens[pos]
            )));
        }
        if pipe.commands.is_empty() {
            return Err(TemplateError::parse("missing value for command"));
        }
        if pipe.declare
            && let Some(scope) = self.vars.last_mut()
        {
            scope.extend(pipe.vars.iter().cloned());
        }
        Ok(pipe)
    }

    fn known(&self, var: &str) -> Result<(), TemplateError> {
        if self.vars.iter().any(|s| s.iter().any(|v| v == var)) {
            Ok(())
        } else {
            Err(TemplateError::parse(format!(
                "undefined variable \"{var}\""
            )))
        }
    }

    fn commands(&self, tokens: &[Token], pos: &mut usize) -> Result<Vec<Command>, TemplateError> {
        let mut commands = Vec::new();
        let mut args = Vec::new();
        while *pos < tokens.len() {
            match &tokens[*pos] {
                Token::Close => break,
                Token::Pipe => {
                    *pos += 1;
                    if args.is_empty() {
                        return Err(TemplateError::parse("missing command before '|'"));
                    }
                    commands.push(Command {
                        args: std::mem::take(&mut args),
                    });
                }
                Token::Open => {
                    *pos += 1;
                    let sub = self.commands(tokens, pos)?;
                    if tokens.get(*pos) != Some(&Token::Close) {
                        return Err(TemplateError::parse("unclosed left paren"));
                    }
                    *pos += 1;
                    let base = Operand::Sub(Pipeline {
                        commands: sub,
                        ..Pipeline::default()
                    });
                    // `(index .X 0).Field`
                    args.push(match tokens.get(*pos) {
                        Some(Token::Word(w)) if w.starts_with('.') && w.len() > 1 => {
                            *pos += 1;
                            Operand::Field(fields(w), Box::new(base))
                        }
                        _ => base,
                    });
                }
                Token::Str(s) => {
                    *pos += 1;
                    args.push(Operand::Str(s.clone()));
                }
                Token::Word(w) => {
                    *pos += 1;
                    args.push(self.word(w)?);
                }
                t @ (Token::Comma | Token::Declare | Token::Assign) => {
                    return Err(TemplateError::parse(format!("unexpected {t} in command")));
                }
            }
        }
        if !args.is_empty() {
            commands.push(Command { args });
        }
        Ok(commands)
    }

    fn word(&self, w: &str) -> Result<Operand, TemplateError> {
        Ok(match w {
            "." => Operand::Dot,
            "true" => Operand::Bool(true),
            "false" => Operand::Bool(false),
            "nil" => Operand::Nil,
            _ if w.starts_with('.') => Operand::Field(fields(w), Box::new(Operand::Dot)),
            _ if w.starts_with('$') => {
                let (name, path) = match w.find('.') {
                    Some(i) => (&w[..i], &w[i..]),
                    None => (w, ""),
                };
                self.known(name)?;
                let var = Operand::Var(name.to_string());
                if path.is_empty() {
                    var
                } else {
                    Operand::Field(fields(path), Box::new(var))
                }
            }
            _ if w.starts_with('\'') => {
                // A character constant is its code point, as in Go.
                let c = w.trim_matches('\'').chars().next().unwrap_or_default();
                Operand::Num(c as u32 as f64)
            }
            _ if w.parse::<f64>().is_ok() => Operand::Num(w.parse().unwrap_or_default()),
            _ if super::template_funcs::exists(w) => Operand::Func(w.to_string()),
            _ => {
                return Err(TemplateError::parse(format!(
                    "function \"{w}\" not defined"
                )));
            }
        })
    }
}

fn fields(w: &str) -> Vec<String> {
    w.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Pipe,
    Open,
    Close,
    Comma,
    Declare,
    Assign,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "<{w}>"),
            Token::Str(s) => write!(f, "{s:?}"),
            Token::Pipe => f.write_str("<|>"),
            Token::Open => f.write_str("<(>"),
            Token::Close => f.write_str("<)>"),
            Token::Comma => f.write_str("<,>"),
            Token::Declare => f.write_str("<:=>"),
            Token::Assign => f.write_str("<=>"),
        }
    }
}

fn tokenize(src: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Declare);
                i += 2;
            }
            '=' => {
                tokens.push(Token::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(TemplateError::parse("unterminated quoted string")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some(&o) => s.push(o),
                                None => {
                                    return Err(TemplateError::parse("unterminated quoted string"));
                                }
                            }
                        }
                        Some(&o) => s.push(o),
                    }
                    i += 1;
                }
                i += 1;
                tokens.push(Token::Str(s));
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| TemplateError::parse("unterminated raw quoted string"))?;
                tokens.push(Token::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or_else(|| TemplateError::parse("unterminated character constant"))?;
                tokens.push(Token::Word(chars[i..i + 2 + end].iter().collect()));
                i += end + 2;
            }
            _ => {
                let start = i;
                let ends_word = |i: usize| {
                    chars[i].is_whitespace()
                        || matches!(chars[i], '|' | '(' | ')' | '"' | ',' | '=')
                        || (chars[i] == ':' && chars.get(i + 1) == Some(&'='))
                };
                while i < chars.len() && !ends_word(i) {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}
