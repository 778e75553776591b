//! The subset of Go's text/template that `--format` uses, over JSON values.
//!
//! Supported: `{{.Field.Sub}}`, `{{.}}`, `{{$}}`, string and number literals,
//! pipes (`{{.X | json}}`), parentheses, `{{range}}`, `{{if}}`/`{{else}}`,
//! `{{with}}`, `{{end}}`, trim markers (`{{-`, `-}}`), and Docker's functions
//! `json`, `join`, `split`, `index`, `len`, `lower`, `upper`, `title`,
//! `truncate`, `pad`, `println`. Values print as Go prints them (`[a b]`,
//! `map[k:v]`).

use std::fmt::Write as _;

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Output(Pipeline),
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
}

type Pipeline = Vec<Command>;

#[derive(Debug, Clone)]
struct Command {
    args: Vec<Operand>,
}

#[derive(Debug, Clone)]
enum Operand {
    Dot,
    Root,
    Field(Vec<String>, Box<Operand>),
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipeline),
}

#[derive(Debug)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

const FUNCS: &[&str] = &[
    "json", "join", "split", "index", "len", "lower", "upper", "title", "truncate", "pad",
    "println", "print",
];

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let segments = lex(src)?;
        let mut pos = 0;
        let (nodes, end) = parse_nodes(&segments, &mut pos)?;
        if let Some(end) = end {
            return Err(TemplateError(format!("template: unexpected {{{{{end}}}}}")));
        }
        Ok(Template { nodes })
    }

    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec_nodes(&self.nodes, data, data, &mut out)?;
        Ok(out)
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
        let (after, trim_left) = match after.strip_prefix("- ") {
            Some(a) => (a, true),
            None => (after, false),
        };
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text.to_string()));
        }
        let end = find_action_end(after)
            .ok_or_else(|| TemplateError("template: unclosed action".into()))?;
        let mut action = &after[..end];
        trim_next = false;
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            trim_next = true;
        }
        segments.push(Segment::Action(action.trim().to_string()));
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
                if b[i] == b'\\' && q == b'"' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'`' {
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

/// Parses nodes until `{{end}}` or `{{else}}` (returned) or the end of input.
fn parse_nodes(
    segments: &[Segment],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while *pos < segments.len() {
        let seg = &segments[*pos];
        *pos += 1;
        match seg {
            Segment::Text(t) => nodes.push(Node::Text(t.clone())),
            Segment::Action(a) => {
                let (word, rest) = a
                    .split_once(char::is_whitespace)
                    .unwrap_or((a.as_str(), ""));
                match word {
                    "end" | "else" => return Ok((nodes, Some(word.to_string()))),
                    "if" | "range" | "with" => {
                        let pipe = parse_pipeline(rest)?;
                        let (body, end) = parse_nodes(segments, pos)?;
                        let otherwise = match end.as_deref() {
                            Some("else") => match parse_nodes(segments, pos)? {
                                (o, Some(e)) if e == "end" => o,
                                _ => {
                                    return Err(TemplateError(format!(
                                        "template: {word} without matching end"
                                    )));
                                }
                            },
                            Some("end") => Vec::new(),
                            _ => {
                                return Err(TemplateError(format!(
                                    "template: {word} without matching end"
                                )));
                            }
                        };
                        nodes.push(match word {
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
                        });
                    }
                    _ if a.starts_with("/*") => {}
                    _ => nodes.push(Node::Output(parse_pipeline(a)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn parse_pipeline(src: &str) -> Result<Pipeline, TemplateError> {
    let tokens = tokenize(src)?;
    let mut pos = 0;
    let pipe = parse_tokens(&tokens, &mut pos)?;
    if pos < tokens.len() {
        return Err(TemplateError(format!(
            "template: unexpected {:?} in {src:?}",
            tokens[pos]
        )));
    }
    if pipe.is_empty() {
        return Err(TemplateError("template: missing value for command".into()));
    }
    Ok(pipe)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Pipe,
    Open,
    Close,
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
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(TemplateError(
                                "template: unterminated quoted string".into(),
                            ));
                        }
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some(&o) => s.push(o),
                                None => {
                                    return Err(TemplateError(
                                        "template: unterminated quoted string".into(),
                                    ));
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
                    .ok_or_else(|| TemplateError("template: unterminated raw string".into()))?;
                tokens.push(Token::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '|' | '(' | ')' | '"')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn parse_tokens(tokens: &[Token], pos: &mut usize) -> Result<Pipeline, TemplateError> {
    let mut pipe = Vec::new();
    let mut args = Vec::new();
    while *pos < tokens.len() {
        match &tokens[*pos] {
            Token::Close => break,
            Token::Pipe => {
                *pos += 1;
                if args.is_empty() {
                    return Err(TemplateError("template: missing command before '|'".into()));
                }
                pipe.push(Command {
                    args: std::mem::take(&mut args),
                });
            }
            Token::Open => {
                *pos += 1;
                let sub = parse_tokens(tokens, pos)?;
                if tokens.get(*pos) != Some(&Token::Close) {
                    return Err(TemplateError("template: unclosed '('".into()));
                }
                *pos += 1;
                let base = Operand::Sub(sub);
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
                args.push(parse_word(w)?);
            }
        }
    }
    if !args.is_empty() {
        pipe.push(Command { args });
    }
    Ok(pipe)
}

fn fields(w: &str) -> Vec<String> {
    w.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_word(w: &str) -> Result<Operand, TemplateError> {
    Ok(match w {
        "." => Operand::Dot,
        "$" => Operand::Root,
        "true" => Operand::Bool(true),
        "false" => Operand::Bool(false),
        _ if w.starts_with('.') => Operand::Field(fields(w), Box::new(Operand::Dot)),
        _ if w.starts_with("$.") => Operand::Field(fields(&w[1..]), Box::new(Operand::Root)),
        _ if w.parse::<f64>().is_ok() => Operand::Num(w.parse().unwrap_or_default()),
        _ if FUNCS.contains(&w) => Operand::Func(w.to_string()),
        _ => {
            return Err(TemplateError(format!(
                "template: function {w:?} not defined"
            )));
        }
    })
}

fn exec_nodes(
    nodes: &[Node],
    dot: &Value,
    root: &Value,
    out: &mut String,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Output(p) => out.push_str(&display(&eval_pipeline(p, dot, root)?)),
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let branch = if truthy(&eval_pipeline(cond, dot, root)?) {
                    then
                } else {
                    otherwise
                };
                exec_nodes(branch, dot, root, out)?;
            }
            Node::With {
                value,
                body,
                otherwise,
            } => {
                let v = eval_pipeline(value, dot, root)?;
                if truthy(&v) {
                    exec_nodes(body, &v, root, out)?;
                } else {
                    exec_nodes(otherwise, dot, root, out)?;
                }
            }
            Node::Range {
                over,
                body,
                otherwise,
            } => {
                let items: Vec<Value> = match eval_pipeline(over, dot, root)? {
                    Value::Array(a) => a,
                    Value::Object(m) => {
                        let mut keys: Vec<_> = m.keys().cloned().collect();
                        keys.sort();
                        keys.into_iter()
                            .filter_map(|k| m.get(&k).cloned())
                            .collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(TemplateError(format!(
                            "template: range can't iterate over {}",
                            display(&other)
                        )));
                    }
                };
                if items.is_empty() {
                    exec_nodes(otherwise, dot, root, out)?;
                }
                for item in &items {
                    exec_nodes(body, item, root, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(pipe: &Pipeline, dot: &Value, root: &Value) -> Result<Value, TemplateError> {
    let mut last: Option<Value> = None;
    for cmd in pipe {
        last = Some(eval_command(cmd, dot, root, last.take())?);
    }
    Ok(last.unwrap_or(Value::Null))
}

fn eval_command(
    cmd: &Command,
    dot: &Value,
    root: &Value,
    piped: Option<Value>,
) -> Result<Value, TemplateError> {
    let Some((first, rest)) = cmd.args.split_first() else {
        return Ok(Value::Null);
    };
    if let Operand::Func(name) = first {
        let mut args = rest
            .iter()
            .map(|a| eval_operand(a, dot, root))
            .collect::<Result<Vec<_>, _>>()?;
        args.extend(piped);
        return call(name, &args);
    }
    if !rest.is_empty() || piped.is_some() {
        return Err(TemplateError(format!(
            "template: can't give argument to non-function {first:?}"
        )));
    }
    eval_operand(first, dot, root)
}

fn eval_operand(op: &Operand, dot: &Value, root: &Value) -> Result<Value, TemplateError> {
    Ok(match op {
        Operand::Dot => dot.clone(),
        Operand::Root => root.clone(),
        Operand::Str(s) => Value::String(s.clone()),
        Operand::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Func(name) => call(name, &[])?,
        Operand::Sub(p) => eval_pipeline(p, dot, root)?,
        Operand::Field(path, base) => {
            let mut v = eval_operand(base, dot, root)?;
            for f in path {
                v = match v {
                    Value::Object(mut m) => m.remove(f).ok_or_else(|| {
                        TemplateError(format!("template: can't evaluate field {f}"))
                    })?,
                    Value::Null => Value::Null,
                    other => {
                        return Err(TemplateError(format!(
                            "template: can't evaluate field {f} in {}",
                            display(&other)
                        )));
                    }
                };
            }
            v
        }
    })
}

fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(TemplateError(format!(
                "template: wrong number of args for {name}: want {n} got {}",
                args.len()
            )))
        }
    };
    let s = |v: &Value| display(v);
    Ok(match name {
        "json" => {
            arity(1)?;
            Value::String(serde_json::to_string(&args[0]).unwrap_or_default())
        }
        "join" => {
            arity(2)?;
            let items: Vec<String> = match &args[0] {
                Value::Array(a) => a.iter().map(display).collect(),
                Value::Null => Vec::new(),
                other => vec![display(other)],
            };
            Value::String(items.join(&s(&args[1])))
        }
        "split" => {
            arity(2)?;
            Value::Array(
                s(&args[0])
                    .split(&s(&args[1]))
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        "lower" => {
            arity(1)?;
            Value::String(s(&args[0]).to_lowercase())
        }
        "upper" => {
            arity(1)?;
            Value::String(s(&args[0]).to_uppercase())
        }
        "title" => {
            arity(1)?;
            let text = s(&args[0]);
            let mut c = text.chars();
            Value::String(
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default(),
            )
        }
        "truncate" => {
            arity(2)?;
            let n = args[1].as_f64().unwrap_or(0.0) as usize;
            Value::String(s(&args[0]).chars().take(n).collect())
        }
        "pad" => {
            arity(3)?;
            let l = args[1].as_f64().unwrap_or(0.0) as usize;
            let r = args[2].as_f64().unwrap_or(0.0) as usize;
            Value::String(format!("{}{}{}", " ".repeat(l), s(&args[0]), " ".repeat(r)))
        }
        "len" => {
            arity(1)?;
            let n = match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                Value::String(t) => t.len(),
                Value::Null => 0,
                other => {
                    return Err(TemplateError(format!(
                        "template: len of {}",
                        display(other)
                    )));
                }
            };
            Value::from(n)
        }
        "index" => {
            if args.is_empty() {
                return Err(TemplateError("template: index needs a value".into()));
            }
            let mut v = args[0].clone();
            for key in &args[1..] {
                v = match (v, key) {
                    (Value::Array(a), k) => {
                        let i = k.as_f64().map(|f| f as usize).unwrap_or(usize::MAX);
                        a.get(i).cloned().ok_or_else(|| {
                            TemplateError(format!("template: index {} out of range", display(k)))
                        })?
                    }
                    (Value::Object(m), k) => m.get(&display(k)).cloned().unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (other, _) => {
                        return Err(TemplateError(format!(
                            "template: can't index {}",
                            display(&other)
                        )));
                    }
                };
            }
            v
        }
        "println" | "print" => {
            let mut text = args.iter().map(display).collect::<Vec<_>>().join(" ");
            if name == "println" {
                text.push('\n');
            }
            Value::String(text)
        }
        other => {
            return Err(TemplateError(format!(
                "template: function {other:?} not defined"
            )));
        }
    })
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's `%v` of a value.
pub fn display(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        // Docker's typed fields that are null are nil slices or maps: "[]".
        Value::Null => out.push_str("[]"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
                let _ = write!(out, "{}", f as i64);
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, &m[k]);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t)
            .and_then(|t| t.render(v))
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn renders_fields_functions_and_control() {
        let v = json!({"Id": "sha256:abc", "RepoTags": ["a:1", "b:2"], "Config": {"Env": ["A=1"], "Cmd": null, "Labels": {"z": "1", "a": "2"}}, "Size": 42});
        assert_eq!(render("{{.Id}}", &v), "sha256:abc");
        assert_eq!(render("{{.Config.Env}}", &v), "[A=1]");
        assert_eq!(render("{{.Config.Cmd}}", &v), "[]");
        assert_eq!(render("{{.Config.Labels}}", &v), "map[a:2 z:1]");
        assert_eq!(render("{{json .RepoTags}}", &v), r#"["a:1","b:2"]"#);
        assert_eq!(render("{{.RepoTags | json}}", &v), r#"["a:1","b:2"]"#);
        assert_eq!(render("{{join .RepoTags \",\"}}", &v), "a:1,b:2");
        assert_eq!(render("{{index .RepoTags 1}}", &v), "b:2");
        assert_eq!(render("{{(index .RepoTags 0)}}", &v), "a:1");
        assert_eq!(render("{{index .Config.Labels \"z\"}}", &v), "1");
        assert_eq!(
            render("{{range .RepoTags}}<{{.}}>{{end}}", &v),
            "<a:1><b:2>"
        );
        assert_eq!(
            render("{{range .Config.Cmd}}x{{else}}none{{end}}", &v),
            "none"
        );
        assert_eq!(render("{{if .Config.Cmd}}yes{{else}}no{{end}}", &v), "no");
        assert_eq!(render("{{with .Config}}{{len .Env}}{{end}}", &v), "1");
        assert_eq!(
            render("{{.Size}} {{upper \"x\"}} {{lower .Id}}", &v),
            "42 X sha256:abc"
        );
        assert_eq!(render("a  {{- .Size -}}  b", &v), "a42b");
        assert_eq!(render("{{truncate .Id 6}}", &v), "sha256");
        assert_eq!(render("{{$.Size}}", &v), "42");
    }

    #[test]
    fn errors_are_reported() {
        let v = json!({"A": 1});
        assert!(render("{{.B}}", &v).starts_with("ERR"));
        assert!(render("{{nosuch .A}}", &v).starts_with("ERR"));
        assert!(render("{{if .A}}x", &v).starts_with("ERR"));
        assert!(render("{{.A", &v).starts_with("ERR"));
    }
}
