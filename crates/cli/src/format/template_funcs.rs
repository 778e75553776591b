//! The functions a `--format` template can call: Go's built-ins (`eq`,
//! `lt`, …, `not`, `len`, `index`, `slice`, `print`, `printf`, `println`,
//! `html`, `js`, `urlquery`; `and`/`or` are run by the executor, which
//! stops at the deciding argument) and docker's (`json`, `join`, `split`,
//! `lower`, `upper`, `title`, `truncate`, `pad`).

use std::cmp::Ordering;

use serde_json::Value;

use super::template::TemplateError;
use super::template_exec::{display, go_type, truthy};

const FUNCS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice", "print",
    "printf", "println", "html", "js", "urlquery", "json", "join", "split", "lower", "upper",
    "title", "truncate", "pad",
];

pub(super) fn exists(name: &str) -> bool {
    FUNCS.contains(&name)
}

pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(TemplateError::exec(format!(
                "error calling {name}: wrong number of args for {name}: want {n} got {}",
                args.len()
            )))
        }
    };
    let s = |v: &Value| display(v);
    Ok(match name {
        "not" => {
            arity(1)?;
            Value::Bool(!truthy(&args[0]))
        }
        "eq" => {
            if args.len() < 2 {
                return Err(TemplateError::exec(
                    "error calling eq: missing argument for comparison",
                ));
            }
            let mut any = false;
            for other in &args[1..] {
                any |= compare(name, &args[0], other)? == Ordering::Equal;
            }
            Value::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            let o = compare(name, &args[0], &args[1])?;
            Value::Bool(match name {
                "ne" => o != Ordering::Equal,
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
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
            // Go's strings.Title: the first letter of each word.
            let mut out = String::new();
            let mut start = true;
            for c in s(&args[0]).chars() {
                if start && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric() && c != '\'';
            }
            Value::String(out)
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
                    return Err(TemplateError::exec(format!(
                        "error calling len: len of type {}",
                        go_type(other)
                    )));
                }
            };
            Value::from(n)
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err(TemplateError::exec(
                    "wrong number of args for index: want at least 1 got 0",
                ));
            };
            let mut v = first.clone();
            for key in keys {
                v = match (v, key) {
                    (Value::Array(a), k) => {
                        let i = k.as_f64().filter(|f| *f >= 0.0).map(|f| f as usize);
                        match i.and_then(|i| a.get(i)) {
                            Some(item) => item.clone(),
                            None => {
                                return Err(TemplateError::exec(format!(
                                    "error calling index: index out of range: {}",
                                    display(k)
                                )));
                            }
                        }
                    }
                    (Value::Object(m), k) => m.get(&display(k)).cloned().unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (other, _) => {
                        return Err(TemplateError::exec(format!(
                            "error calling index: can't index item of type {}",
                            go_type(&other)
                        )));
                    }
                };
            }
            v
        }
        "slice" => {
            let Some((first, bounds)) = args.split_first() else {
                return Err(TemplateError::exec(
                    "wrong number of args for slice: want at least 1 got 0",
                ));
            };
            let bound = |i: usize, len: usize, default: usize| -> Result<usize, TemplateError> {
                match bounds.get(i) {
                    None => Ok(default),
                    Some(b) => b
                        .as_f64()
                        .filter(|f| *f >= 0.0 && (*f as usize) <= len)
                        .map(|f| f as usize)
                        .ok_or_else(|| {
                            TemplateError::exec(format!(
                                "error calling slice: index out of range: {}",
                                display(b)
                            ))
                        }),
                }
            };
            match first {
                Value::String(t) => {
                    let (a, b) = (bound(0, t.len(), 0)?, bound(1, t.len(), t.len())?);
                    Value::String(t.get(a..b.max(a)).unwrap_or_default().to_string())
                }
                Value::Array(items) => {
                    let (a, b) = (
                        bound(0, items.len(), 0)?,
                        bound(1, items.len(), items.len())?,
                    );
                    Value::Array(items[a..b.max(a)].to_vec())
                }
                other => {
                    return Err(TemplateError::exec(format!(
                        "error calling slice: can't slice item of type {}",
                        go_type(other)
                    )));
                }
            }
        }
        "print" => Value::String(sprint(args)),
        "println" => {
            let mut text = args.iter().map(display).collect::<Vec<_>>().join(" ");
            text.push('\n');
            Value::String(text)
        }
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err(TemplateError::exec(
                    "wrong number of args for printf: want at least 1 got 0",
                ));
            };
            Value::String(printf(&s(format), rest))
        }
        "html" => Value::String(
            sprint(args)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        ),
        "js" => {
            let mut out = String::new();
            for c in sprint(args).chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    '"' => out.push_str("\\\""),
                    '<' => out.push_str("\\u003C"),
                    '>' => out.push_str("\\u003E"),
                    '&' => out.push_str("\\u0026"),
                    '=' => out.push_str("\\u003D"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            Value::String(out)
        }
        "urlquery" => {
            let mut out = String::new();
            for b in sprint(args).bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        out.push(b as char)
                    }
                    b' ' => out.push('+'),
                    b => out.push_str(&format!("%{b:02X}")),
                }
            }
            Value::String(out)
        }
        other => {
            return Err(TemplateError::exec(format!(
                "function \"{other}\" not defined"
            )));
        }
    })
}

/// Go's comparison of basic values (numbers by value, strings, bools);
/// other kinds and mixed kinds are errors, as in Go.
fn compare(name: &str, a: &Value, b: &Value) -> Result<Ordering, TemplateError> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x
            .as_f64()
            .unwrap_or_default()
            .partial_cmp(&y.as_f64().unwrap_or_default())
            .unwrap_or(Ordering::Equal)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if matches!(name, "eq" | "ne") => Ok(x.cmp(y)),
        (Value::Null, Value::Null) if matches!(name, "eq" | "ne") => Ok(Ordering::Equal),
        _ if matches!(name, "eq" | "ne") && go_type(a) != go_type(b) => Err(TemplateError::exec(
            format!("error calling {name}: incompatible types for comparison"),
        )),
        _ => Err(TemplateError::exec(format!(
            "error calling {name}: invalid type for comparison"
        ))),
    }
}

/// Go's fmt.Sprint: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&display(a));
    }
    out
}

/// Go's fmt.Sprintf for the verbs templates use: `%v %s %d %q %x %X %o
/// %b %c %t %f %e %g %%`, with flags `-+ 0#`, width and precision.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = String::new();
        while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            width.push(*c);
            i += 1;
        }
        spec.width = width.parse().ok();
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut precision = String::new();
            while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit()) {
                precision.push(*c);
                i += 1;
            }
            spec.precision = Some(precision.parse().unwrap_or(0));
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.next() {
            Some(v) => out.push_str(&spec.pad(&verb_of(verb, &spec, v))),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    let extra: Vec<String> = args
        .map(|a| format!("{}={}", go_type(a), display(a)))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, s: &str) -> String {
        let Some(width) = self.width else {
            return s.to_string();
        };
        let len = s.chars().count();
        if len >= width {
            return s.to_string();
        }
        let fill = width - len;
        if self.left {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero && s.starts_with(['-', '+']) {
            format!("{}{}{}", &s[..1], "0".repeat(fill), &s[1..])
        } else if self.zero {
            format!("{}{s}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }
}

fn verb_of(verb: char, spec: &Spec, v: &Value) -> String {
    let bad = || format!("%!{verb}({}={})", go_type(v), display(v));
    let int = || {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    };
    let signed = |n: i64, text: String| {
        if n >= 0 && spec.plus {
            format!("+{text}")
        } else if n >= 0 && spec.space {
            format!(" {text}")
        } else {
            text
        }
    };
    match verb {
        'v' => {
            if spec.sharp && v.is_string() {
                format!("{:?}", display(v))
            } else {
                display(v)
            }
        }
        's' => match v {
            Value::Number(_) | Value::Bool(_) => bad(),
            _ => {
                let text = display(v);
                match spec.precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                }
            }
        },
        'q' => match v {
            Value::String(s) => go_quote(s),
            Value::Number(_) => match int().and_then(|n| char::from_u32(n as u32)) {
                Some(c) => format!("'{c}'"),
                None => bad(),
            },
            _ => bad(),
        },
        'd' => match int() {
            Some(n) => signed(n, n.to_string()),
            None => bad(),
        },
        'x' | 'X' | 'o' | 'b' => match (v, int()) {
            (Value::Number(_), Some(n)) => {
                let magnitude = n.unsigned_abs();
                let digits = match verb {
                    'x' => format!("{magnitude:x}"),
                    'X' => format!("{magnitude:X}"),
                    'o' => format!("{magnitude:o}"),
                    _ => format!("{magnitude:b}"),
                };
                let prefix = match (spec.sharp, verb) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0",
                    _ => "",
                };
                format!("{}{prefix}{digits}", if n < 0 { "-" } else { "" })
            }
            (Value::String(s), _) if matches!(verb, 'x' | 'X') => s
                .bytes()
                .map(|b| {
                    if verb == 'x' {
                        format!("{b:02x}")
                    } else {
                        format!("{b:02X}")
                    }
                })
                .collect(),
            _ => bad(),
        },
        'c' => match int().and_then(|n| char::from_u32(n as u32)) {
            Some(c) => c.to_string(),
            None => bad(),
        },
        't' => match v {
            Value::Bool(b) => b.to_string(),
            _ => bad(),
        },
        'f' | 'F' | 'e' | 'g' => match v.as_f64() {
            Some(f) => {
                let text = match verb {
                    'e' => format!("{:.*e}", spec.precision.unwrap_or(6), f),
                    'g' => match spec.precision {
                        Some(p) => format!("{:.*}", p, f),
                        None => format!("{f}"),
                    },
                    _ => format!("{:.*}", spec.precision.unwrap_or(6), f),
                };
                if f >= 0.0 && spec.plus {
                    format!("+{text}")
                } else {
                    text
                }
            }
            None => bad(),
        },
        _ => format!("%!{verb}({}={})", go_type(v), display(v)),
    }
}

/// Go's strconv.Quote.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
