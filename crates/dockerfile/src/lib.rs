//! berth-dockerfile: the Dockerfile language as BuildKit's
//! `docker/dockerfile:1` frontend reads it, without executing anything.
//!
//! - `lines`: parser directives (`syntax`, `escape`, `check`), comments,
//!   line continuations with the escape character, heredocs (`<<EOF`,
//!   `<<-EOF`, quoted delimiters) — the file as logical instructions, each
//!   with the line it starts on;
//! - `instruction`: each logical line as a typed instruction (flags,
//!   shell and exec forms, both ENV syntaxes, HEALTHCHECK, ONBUILD, …);
//! - `words`: Docker's variable substitution (`$v`, `${v}`, `${v:-w}`,
//!   `${v:+w}`, `${v-w}`, `${v+w}`, escapes, quotes) and word splitting,
//!   applied by the builder where Docker applies it.
//!
//! Every error names the file, the line and the instruction.
#![forbid(unsafe_code)]

mod error;
pub mod instruction;
pub mod lines;
pub mod words;

pub use error::{Error, Result};
pub use instruction::{Dockerfile, Instruction, parse};
