//! The one error type the connector reports, typed as Airbyte expects.
//!
//! Owns the failure classification (`config_error`, `system_error`, `transient_error`).
//! Messages must never contain secrets; the guest never holds the token, and the host redacts
//! as a second line of defence.

/// Airbyte's failure classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureType {
    /// The user must change config, catalog, state or credentials.
    Config,
    /// Unexpected: a bug or a response that is not what Meta documents.
    System,
    /// Temporary: the same sync may succeed later.
    Transient,
}

/// A failure reported to the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectorError {
    pub failure: FailureType,
    pub message: String,
    pub internal: Option<String>,
    pub stream: Option<String>,
}

impl ConnectorError {
    fn new(failure: FailureType, message: impl Into<String>) -> Self {
        Self { failure, message: message.into(), internal: None, stream: None }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(FailureType::Config, message)
    }
    pub fn system(message: impl Into<String>) -> Self {
        Self::new(FailureType::System, message)
    }
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(FailureType::Transient, message)
    }
    pub fn with_internal(mut self, internal: impl Into<String>) -> Self {
        self.internal = Some(internal.into());
        self
    }
    /// Attach the stream this failure belongs to (kept if already set).
    pub fn in_stream(mut self, stream: &str) -> Self {
        if self.stream.is_none() {
            self.stream = Some(stream.to_string());
        }
        self
    }
}

pub type Result<T> = std::result::Result<T, ConnectorError>;
