//! Running a parsed template over a JSON value, as Go's text/template runs
//! one over docker's structs: variables in scopes, `range` over lists and
//! (sorted) maps, Go's truth, Go's `%v` printing.

use std::fmt::Write as _;

use serde_json::Value;

use super::template::{Command, Node, Operand, Pipeline, Template, TemplateError};

pub(super) fn render(t: &Template, data: &Value) -> Result<String, TemplateError> {
    let mut state = State {
        vars: vec![("$".to_string(), data.clone())],
        out: String::new(),
    };
    state.nodes(&t.nodes, data)?;
    Ok(state.out)
}

struct State {
    /// Variables, innermost last; a scope is a length to truncate back to.
    vars: Vec<(String, Value)>,
    out: String,
}

/// How a list of nodes ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

impl State {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.vars.is_empty() {
                        if v.is_null() && ends_in_pointer_field(p) {
                            // Go prints a nil pointer so; a nil slice "[]".
                            self.out.push_str("<nil>");
                        } else {
                            self.out.push_str(&display(&v));
                        }
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(cond, dot)?;
                    let flow = self.nodes(if truthy(&v) { then } else { otherwise }, dot);
                    self.vars.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        other => return Ok(other),
                    }
                }
                Node::With {
                    value,
                    body,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(value, dot)?;
                    let flow = if truthy(&v) {
                        self.nodes(body, &v)
                    } else {
                        self.nodes(otherwise, dot)
                    };
                    self.vars.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        other => return Ok(other),
                    }
                }
                Node::Range {
                    over,
                    body,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let result = self.range(over, body, otherwise, dot);
                    self.vars.truncate(mark);
                    result?;
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        over: &Pipeline,
        body: &[Node],
        otherwise: &[Node],
        dot: &Value,
    ) -> Result<(), TemplateError> {
        // The range's variables get the key and element, not the whole.
        let commands = Pipeline {
            commands: over.commands.clone(),
            ..Pipeline::default()
        };
        let items: Vec<(Value, Value)> = match self.pipeline(&commands, dot)? {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Value::Object(m) => {
                let mut items: Vec<(String, Value)> = m.into_iter().collect();
                items.sort_by(|a, b| a.0.cmp(&b.0));
                items
                    .into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect()
            }
            Value::Null => Vec::new(),
            Value::Number(n) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            other => {
                return Err(TemplateError::exec(format!(
                    "range can't iterate over {}",
                    display(&other)
                )));
            }
        };
        if items.is_empty() {
            self.nodes(otherwise, dot)?;
            return Ok(());
        }
        let mark = self.vars.len();
        for (key, item) in items {
            self.vars.truncate(mark);
            match over.vars.as_slice() {
                [v] => self.vars.push((v.clone(), item.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), item.clone()));
                }
                _ => {}
            }
            if let Flow::Break = self.nodes(body, &item)? {
                break;
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut last: Option<Value> = None;
        for cmd in &pipe.commands {
            last = Some(self.command(cmd, dot, last.take())?);
        }
        let value = last.unwrap_or(Value::Null);
        for name in &pipe.vars {
            if pipe.declare {
                self.vars.push((name.clone(), value.clone()));
            } else if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value.clone();
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        cmd: &Command,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let Some((first, rest)) = cmd.args.split_first() else {
            return Ok(Value::Null);
        };
        match first {
            Operand::Func(name) => {
                // `and` and `or` stop at the first argument that decides.
                if matches!(name.as_str(), "and" | "or") {
                    let mut last = Value::Null;
                    let mut operands: Vec<Result<Value, TemplateError>> = Vec::new();
                    for a in rest {
                        operands.push(self.operand(a, dot));
                    }
                    if let Some(p) = piped {
                        operands.push(Ok(p));
                    }
                    if operands.is_empty() {
                        return Err(TemplateError::exec(format!(
                            "wrong number of args for {name}: want at least 1 got 0"
                        )));
                    }
                    for v in operands {
                        last = v?;
                        if truthy(&last) == (name == "or") {
                            return Ok(last);
                        }
                    }
                    return Ok(last);
                }
                let mut args = rest
                    .iter()
                    .map(|a| self.operand(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                args.extend(piped);
                super::template_funcs::call(name, &args)
            }
            // `.Label "k"`: a method of docker's ps rows.
            Operand::Field(path, base)
                if path.last().is_some_and(|p| p == "Label")
                    && (!rest.is_empty() || piped.is_some()) =>
            {
                let mut args = rest
                    .iter()
                    .map(|a| self.operand(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                args.extend(piped);
                let owner = self.operand(
                    &Operand::Field(path[..path.len() - 1].to_vec(), base.clone()),
                    dot,
                )?;
                label(&owner, &args)
            }
            _ if !rest.is_empty() || piped.is_some() => Err(TemplateError::exec(format!(
                "can't give argument to non-function {}",
                describe(first)
            ))),
            _ => self.operand(first, dot),
        }
    }

    fn operand(&mut self, op: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        Ok(match op {
            Operand::Dot => dot.clone(),
            Operand::Var(name) => self
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| TemplateError::exec(format!("undefined variable: {name}")))?,
            Operand::Str(s) => Value::String(s.clone()),
            Operand::Num(n) => number(*n),
            Operand::Bool(b) => Value::Bool(*b),
            Operand::Nil => Value::Null,
            Operand::Func(name) => super::template_funcs::call(name, &[])?,
            Operand::Sub(p) => self.pipeline(p, dot)?,
            // Walked by reference from `.` or a variable: only the value
            // reached is copied (a table renders every field of every row).
            Operand::Field(path, base) => match base.as_ref() {
                Operand::Dot => walk(dot, path)?,
                Operand::Var(name) => {
                    let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                        return Err(TemplateError::exec(format!("undefined variable: {name}")));
                    };
                    walk(v, path)?
                }
                other => {
                    let v = self.operand(other, dot)?;
                    walk(&v, path)?
                }
            },
        })
    }
}

/// `.A.B.C` of `v`: Go's errors for a missing field or a non-object;
/// through a nil, nil.
fn walk(v: &Value, path: &[String]) -> Result<Value, TemplateError> {
    let mut v = v;
    for f in path {
        v = match v {
            Value::Object(m) => match m.get(f) {
                Some(v) => v,
                // A field docker's JSON leaves out when empty (`omitempty`)
                // is still a field of its struct: a template sees its zero.
                None => match omitted_zero(f) {
                    Some(zero) => return Ok(zero),
                    None => return Err(TemplateError::exec(format!("can't evaluate field {f}"))),
                },
            },
            Value::Null => return Ok(Value::Null),
            other => {
                return Err(TemplateError::exec(format!(
                    "can't evaluate field {f} in type {}",
                    go_type(other)
                )));
            }
        };
    }
    // docker's health check durations are Go time.Durations: a template
    // prints them as Go does ("30s"), JSON as nanoseconds.
    if let [.., parent, field] = path
        && parent == "Healthcheck"
        && matches!(
            field.as_str(),
            "Interval" | "Timeout" | "StartPeriod" | "StartInterval"
        )
        && let Some(n) = v.as_i64()
    {
        return Ok(Value::String(go_duration(n)));
    }
    Ok(v.clone())
}

/// Fields of docker's structs that are pointers (nil prints `<nil>`).
const POINTER_FIELDS: &[&str] = &["Healthcheck", "Health", "StopTimeout"];

/// Whether a pipeline is one bare field chain ending in a pointer field.
fn ends_in_pointer_field(p: &super::template::Pipeline) -> bool {
    matches!(
        p.commands.as_slice(),
        [cmd] if matches!(
            cmd.args.as_slice(),
            [super::template::Operand::Field(path, _)]
                if path.last().is_some_and(|f| POINTER_FIELDS.contains(&f.as_str()))
        )
    )
}

/// The zero value of a field docker's JSON omits when empty.
fn omitted_zero(field: &str) -> Option<Value> {
    Some(match field {
        "ExposedPorts" => Value::Object(Default::default()),
        "StopSignal" | "MacAddress" => Value::String(String::new()),
        "StopTimeout" | "Healthcheck" | "Health" | "Shell" => Value::Null,
        "ArgsEscaped" | "NetworkDisabled" => Value::Bool(false),
        _ => return None,
    })
}

/// Go's `time.Duration.String()`.
pub(super) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let trim = |whole: u64, frac: u64, digits: usize| -> String {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{f}")
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", trim(n / 1_000, n % 1_000, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", trim(n / 1_000_000, n % 1_000_000, 6));
    }
    let (h, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let secs = trim(rest / 1_000_000_000, rest % 1_000_000_000, 9);
    match (h, m) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

/// A number literal: integral ones stay integers (they print as such).
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// `.Label "k"` of a `ps` row: its `Labels` ("k=v,k2=v2" as docker's ps
/// shows them, or an object).
fn label(owner: &Value, args: &[Value]) -> Result<Value, TemplateError> {
    let [name] = args else {
        return Err(TemplateError::exec(
            "wrong number of args for Label: want 1",
        ));
    };
    let name = display(name);
    Ok(match &owner["Labels"] {
        Value::Object(m) => m
            .get(&name)
            .cloned()
            .unwrap_or(Value::String(String::new())),
        Value::String(s) => Value::String(
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        ),
        _ => Value::String(String::new()),
    })
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Str(s) => format!("{s:?}"),
        Operand::Num(n) => display(&number(*n)),
        Operand::Bool(b) => b.to_string(),
        Operand::Dot => ".".into(),
        Operand::Var(v) => v.clone(),
        Operand::Field(p, _) => format!(".{}", p.join(".")),
        _ => "value".into(),
    }
}

/// The Go type docker's value would have, for error messages.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's truth: false, 0, "", nil and empty collections are false.
pub(super) fn truthy(v: &Value) -> bool {
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
