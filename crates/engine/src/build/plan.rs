//! A Dockerfile as a DAG of stages: the ARGs before the first FROM, each
//! stage's base (an image, `scratch`, or an earlier stage), the stages it
//! copies or mounts from, and which stages the target needs (only those
//! are built, as BuildKit does).

use std::collections::{BTreeMap, BTreeSet};

use berth_dockerfile::instruction::{Flag, Instruction, Located};
use berth_dockerfile::words;

use crate::error::{Error, Result};

pub struct Plan {
    pub stages: Vec<StagePlan>,
    /// The stage whose result is the image.
    pub target: usize,
    /// The global ARGs (before the first FROM) with their values: the
    /// build's `--build-arg` over their defaults.
    pub global_args: BTreeMap<String, Option<String>>,
    pub escape: char,
    /// How many instructions the file has.
    pub instructions: usize,
}

pub struct StagePlan {
    pub index: usize,
    /// `AS name`, lower case.
    pub name: Option<String>,
    /// The FROM line.
    pub from: Located,
    /// The base as expanded: an image reference, `scratch`, or a stage.
    pub base: Base,
    pub steps: Vec<Located>,
    /// Where its FROM is among the file's instructions (0-based).
    pub first_instruction: usize,
    /// Stages this one needs (its base, `COPY --from`, `RUN --mount from=`).
    pub deps: BTreeSet<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    Scratch,
    Image(String),
    Stage(usize),
}

impl StagePlan {
    /// BuildKit's name for it in progress lines.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// Where `COPY --from=X` or `--mount from=X` reads: a stage (by name or
/// index) or an image.
pub fn stage_ref(stages: &[StagePlan], before: usize, name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    if let Some(s) = stages[..before.min(stages.len())]
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Some(s.index);
    }
    match name.parse::<usize>() {
        Ok(i) if i < before => Some(i),
        _ => None,
    }
}

pub fn flag<'f>(flags: &'f [Flag], name: &str) -> Option<&'f str> {
    flags
        .iter()
        .rev()
        .find(|f| f.name == name)
        .map(|f| f.value.as_deref().unwrap_or(""))
}

pub fn plan(
    file: &berth_dockerfile::Dockerfile,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
    dockerfile_name: &str,
) -> Result<Plan> {
    let escape = file.directives.escape;
    let mut global_args = BTreeMap::new();
    let mut stages: Vec<StagePlan> = Vec::new();
    for (position, located) in file.instructions.iter().enumerate() {
        match (&located.instruction, stages.last_mut()) {
            (Instruction::Arg(args), None) => {
                for (name, default) in args {
                    let value = match build_args.get(name) {
                        Some(v) => Some(v.clone()),
                        None => default
                            .as_deref()
                            .map(|d| expand(d, &global_args, escape))
                            .transpose()
                            .map_err(|e| step_error(dockerfile_name, located, &e))?,
                    };
                    global_args.insert(name.clone(), value);
                }
            }
            (
                Instruction::From {
                    image,
                    alias,
                    platform,
                },
                _,
            ) => {
                let index = stages.len();
                if let Some(p) = platform {
                    let p = expand(p, &global_args, escape)
                        .map_err(|e| step_error(dockerfile_name, located, &e))?;
                    check_platform(&p).map_err(|e| step_error(dockerfile_name, located, &e))?;
                }
                let expanded = expand(image, &global_args, escape)
                    .map_err(|e| step_error(dockerfile_name, located, &e))?;
                if expanded.is_empty() {
                    return Err(step_error(
                        dockerfile_name,
                        located,
                        "base name (\"\") should not be blank",
                    ));
                }
                let base = if expanded.eq_ignore_ascii_case("scratch") {
                    Base::Scratch
                } else if let Some(s) = stage_ref_by_name(&stages, &expanded) {
                    Base::Stage(s)
                } else {
                    Base::Image(expanded)
                };
                let name = alias.as_ref().map(|a| a.to_ascii_lowercase());
                if let Some(n) = &name
                    && stages.iter().any(|s| s.name.as_ref() == Some(n))
                {
                    return Err(step_error(
                        dockerfile_name,
                        located,
                        &format!("duplicate stage name {n:?}"),
                    ));
                }
                let mut deps = BTreeSet::new();
                if let Base::Stage(s) = base {
                    deps.insert(s);
                }
                stages.push(StagePlan {
                    index,
                    name,
                    first_instruction: position,
                    from: located.clone(),
                    base,
                    steps: Vec::new(),
                    deps,
                });
            }
            (_, None) => {
                return Err(step_error(
                    dockerfile_name,
                    located,
                    &format!(
                        "{} instruction before the first FROM: only ARG may come before it",
                        located.keyword
                    ),
                ));
            }
            (_, Some(stage)) => stage.steps.push(located.clone()),
        }
    }
    if stages.is_empty() {
        return Err(Error::invalid(format!(
            "the Dockerfile ({dockerfile_name}) cannot be empty: it has no FROM instruction"
        )));
    }
    // Dependencies through --from (names resolved among earlier stages).
    for i in 0..stages.len() {
        let mut deps = BTreeSet::new();
        for step in &stages[i].steps {
            for from in from_flags(&step.instruction) {
                let expanded = expand(&from, &global_args, escape).unwrap_or(from);
                if let Some(s) = stage_ref(&stages, i, &expanded) {
                    deps.insert(s);
                }
            }
        }
        stages[i].deps.extend(deps);
    }
    let target = match target {
        None | Some("") => stages.len() - 1,
        Some(t) => stage_ref_by_name(&stages, t)
            .ok_or_else(|| Error::invalid(format!("target stage \"{t}\" could not be found")))?,
    };
    Ok(Plan {
        stages,
        target,
        global_args,
        escape,
        instructions: file.instructions.len(),
    })
}

fn stage_ref_by_name(stages: &[StagePlan], name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    stages
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
        .map(|s| s.index)
}

/// The `--from` values a step names (COPY, RUN --mount).
fn from_flags(instruction: &Instruction) -> Vec<String> {
    match instruction {
        Instruction::Copy { flags, .. } => flag(flags, "from")
            .map(str::to_string)
            .into_iter()
            .collect(),
        Instruction::Run { flags, .. } => flags
            .iter()
            .filter(|f| f.name == "mount")
            .filter_map(|f| f.value.as_deref())
            .filter_map(|v| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix("from=").map(str::to_string))
            })
            .collect(),
        Instruction::Onbuild { parsed, .. } => from_flags(parsed),
        _ => Vec::new(),
    }
}

impl Plan {
    /// The stages the target needs, itself included, in index order.
    pub fn needed(&self) -> BTreeSet<usize> {
        let mut needed = BTreeSet::new();
        let mut todo = vec![self.target];
        while let Some(i) = todo.pop() {
            if needed.insert(i) {
                todo.extend(self.stages[i].deps.iter().copied());
            }
        }
        needed
    }
}

/// Expands with the global ARGs, and BuildKit's automatic platform
/// ARGs (which FROM may use undeclared).
fn expand(
    text: &str,
    vars: &BTreeMap<String, Option<String>>,
    escape: char,
) -> std::result::Result<String, String> {
    let lookup = |name: &str| {
        vars.get(name)
            .cloned()
            .flatten()
            .or_else(|| super::stage::platform_arg(name))
    };
    words::expand(text, &lookup, escape)
}

/// `FROM --platform=P`: berth builds for the host's platform only.
fn check_platform(p: &str) -> std::result::Result<(), String> {
    let want = berth_image::platform::Platform::parse(p)
        .map_err(|e| format!("invalid platform {p:?}: {}", e.0))?;
    let host = berth_image::platform::Platform::host();
    if want.os != host.os || want.architecture != host.architecture {
        return Err(format!(
            "--platform={p}: berth builds for this host's platform only ({}/{})",
            host.os, host.architecture
        ));
    }
    Ok(())
}

/// An error of one instruction: the file, its line and the instruction.
pub fn step_error(file: &str, located: &Located, message: &str) -> Error {
    Error::invalid(format!(
        "{file}:{}: {} {}: {message}",
        located.line, located.keyword, located.original
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(text: &str, target: Option<&str>) -> Plan {
        let file = berth_dockerfile::parse("Dockerfile", text).unwrap();
        plan(&file, &BTreeMap::new(), target, "Dockerfile").unwrap()
    }

    #[test]
    fn stages_dependencies_and_the_target() {
        let p = plan_of(
            "ARG BASE=busybox\nFROM $BASE AS a\nRUN true\nFROM scratch AS unused\nFROM a AS b\nCOPY --from=0 /x /x\nFROM busybox\nCOPY --from=b /y /y\n",
            None,
        );
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.stages[0].base, Base::Image("busybox".into()));
        assert_eq!(p.stages[1].base, Base::Scratch);
        assert_eq!(p.stages[2].base, Base::Stage(0));
        assert_eq!(p.target, 3);
        assert_eq!(p.needed().into_iter().collect::<Vec<_>>(), [0, 2, 3]);
        let p = plan_of("FROM busybox AS x\nFROM busybox AS y\n", Some("X"));
        assert_eq!(p.target, 0);
        assert_eq!(p.needed().len(), 1);
    }

    #[test]
    fn errors_name_the_line() {
        // The parser refuses an instruction before FROM, naming the line.
        let e = berth_dockerfile::parse("Dockerfile", "RUN true\n").unwrap_err();
        assert!(e.to_string().contains("Dockerfile:1"), "{e}");
        let file = berth_dockerfile::parse("Dockerfile", "FROM busybox\n").unwrap();
        let e = plan(&file, &BTreeMap::new(), Some("nope"), "Dockerfile")
            .err()
            .unwrap();
        assert!(
            e.message
                .contains("target stage \"nope\" could not be found")
        );
    }
}
