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
    /// The failure concerns every stream (the token was rejected, the API version is gone,
    /// the network cannot be reached as configured): the read ends at once. Any other failure
    /// inside a stream's hooks stops only that stream (see `engine::failures`).
    pub whole_read: bool,
}

impl ConnectorError {
    fn new(failure: FailureType, message: impl Into<String>) -> Self {
        Self { failure, message: message.into(), internal: None, stream: None, whole_read: false }
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
    /// Mark the failure as one that concerns every stream (see [`ConnectorError::whole_read`]).
    pub fn for_whole_read(mut self) -> Self {
        self.whole_read = true;
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

/// A transport failure in plain words. `wasi:http` error codes reach the guest as Rust
/// `Debug` text (`ErrorCode::ConnectionRefused`, `DnsError(DnsErrorPayload { … })`,
/// `InternalError(Some("…"))`); users see what happened instead. Text that is already plain
/// (the host's own words inside `InternalError`) is kept as it is.
pub fn transport_words(detail: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("DnsTimeout", "the host name could not be resolved in time (DNS timeout)"),
        ("DnsError", "the host name could not be resolved (DNS error)"),
        ("DestinationNotFound", "the host was not found"),
        ("DestinationUnavailable", "the host is unavailable"),
        ("DestinationIpProhibited", "the host's IP address is not allowed"),
        ("DestinationIpUnroutable", "the host's IP address cannot be reached"),
        ("ConnectionRefused", "the connection was refused (nothing accepts connections at that address and port)"),
        ("ConnectionTerminated", "the server closed the connection before answering"),
        ("ConnectionReadTimeout", "the server stopped sending data (read timeout)"),
        ("ConnectionWriteTimeout", "the request could not be sent in time (write timeout)"),
        ("ConnectionTimeout", "the connection timed out"),
        ("ConnectionLimitReached", "too many connections are open"),
        ("TlsCertificateError", "the server's TLS certificate was not accepted"),
        ("TlsAlertReceived", "the server ended the TLS handshake with an alert"),
        ("TlsProtocolError", "the TLS handshake failed"),
        ("HttpRequestDenied", "the host's network policy refused the request"),
        ("HttpResponseIncomplete", "the answer ended before it was complete"),
        ("HttpResponseTimeout", "the server did not answer in time"),
        ("HttpResponseBodySize", "the answer is larger than allowed"),
        ("HttpProtocolError", "the server's answer is not valid HTTP"),
        ("LoopDetected", "a redirect loop was detected"),
    ];
    // The host's own explanation travels inside `InternalError(Some("…"))`.
    if let Some(start) = detail.find("InternalError(Some(\"") {
        let rest = &detail[start + "InternalError(Some(\"".len()..];
        if let Some(end) = rest.find("\"))") {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    let prefix = detail.find("ErrorCode::").map(|i| &detail[..i]).unwrap_or("");
    for (name, words) in KNOWN {
        if detail.contains(name) {
            return format!("{prefix}{words}");
        }
    }
    // Another code: its variant name as words (`HttpRequestUriInvalid` → "http request uri invalid").
    if let Some(i) = detail.find("ErrorCode::") {
        let name: String =
            detail[i + "ErrorCode::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let mut words = String::new();
        for c in name.chars() {
            if c.is_ascii_uppercase() && !words.is_empty() {
                words.push(' ');
            }
            words.push(c.to_ascii_lowercase());
        }
        return format!("{prefix}{words}");
    }
    detail.to_string()
}

#[cfg(test)]
mod tests {
    use super::transport_words;

    /// No Rust `Debug` text reaches a message.
    #[test]
    fn plain_transport_errors() {
        assert_eq!(
            transport_words("ErrorCode::ConnectionRefused"),
            "the connection was refused (nothing accepts connections at that address and port)"
        );
        let dns = transport_words(
            "ErrorCode::DnsError(DnsErrorPayload { rcode: Some(\"address not available\"), info_code: Some(0) })",
        );
        assert!(dns.contains("could not be resolved") && !dns.contains("Payload"), "{dns}");
        assert_eq!(transport_words("ErrorCode::InternalError(Some(\"sideways\"))"), "sideways");
        assert_eq!(
            transport_words("reading the body: ErrorCode::HttpResponseIncomplete"),
            "reading the body: the answer ended before it was complete"
        );
        assert_eq!(transport_words("ErrorCode::HttpRequestUriInvalid"), "http request uri invalid");
        assert_eq!(transport_words("plain words"), "plain words");
    }
}
