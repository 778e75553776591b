//! Engine errors to Docker's status codes and `{"message": …}` bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_engine::ErrorKind;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
    }
}

/// Docker's errdefs classes, as its API maps them to statuses.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        // A container command that cannot run: Docker answers a start with
        // 400, and its CLI picks 127/126 from these words in the message.
        ErrorKind::CommandNotFound | ErrorKind::CommandNotExecutable => StatusCode::BAD_REQUEST,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<berth_engine::Error> for ApiError {
    fn from(e: berth_engine::Error) -> ApiError {
        let mut message = e.to_string();
        // The docker CLI decides `run`'s exit code on these words
        // (127: "executable file not found" / "no such file or directory",
        // 126: "permission denied"); make sure they are there.
        match e.kind {
            ErrorKind::CommandNotFound
                if !message.contains("executable file not found")
                    && !message.contains("no such file or directory") =>
            {
                message.push_str(": executable file not found in $PATH");
            }
            ErrorKind::CommandNotExecutable if !message.contains("permission denied") => {
                message.push_str(": permission denied");
            }
            _ => {}
        }
        ApiError::new(status_of(e.kind), message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
