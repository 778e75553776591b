//! A Dockerfile error: where (file, line, instruction) and what.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {instruction}: {message}")]
pub struct Error {
    /// The Dockerfile's name as the user gave it (`Dockerfile`, `-`).
    pub file: String,
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// The instruction's keyword as written (`FROM`), or `directive` /
    /// `line` for what precedes instructions.
    pub instruction: String,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(file: &str, line: usize, instruction: &str, message: impl Into<String>) -> Error {
        Error {
            file: file.to_string(),
            line,
            instruction: instruction.to_string(),
            message: message.into(),
        }
    }
}
