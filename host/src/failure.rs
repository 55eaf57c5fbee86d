//! What the user sees when a command fails: Airbyte's failure type and the messages of a
//! TRACE ERROR (or of a FAILED connection status).
//!
//! Owns the host's failure values only; `protocol` writes them, and nothing here may format
//! a message for stdout.

/// Airbyte failure types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureType {
    Config,
    System,
    Transient,
}

impl FailureType {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureType::Config => "config_error",
            FailureType::System => "system_error",
            FailureType::Transient => "transient_error",
        }
    }
}

/// What the user sees when something fails.
#[derive(Debug, Clone)]
pub struct Failure {
    pub failure_type: FailureType,
    pub message: String,
    pub internal: Option<String>,
    pub stream: Option<String>,
}

impl Failure {
    pub fn config(message: impl Into<String>) -> Self {
        Self { failure_type: FailureType::Config, message: message.into(), internal: None, stream: None }
    }
    pub fn system(message: impl Into<String>, internal: impl Into<String>) -> Self {
        Self {
            failure_type: FailureType::System,
            message: message.into(),
            internal: Some(internal.into()),
            stream: None,
        }
    }
}
