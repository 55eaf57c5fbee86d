//! Meta's error shapes and what they mean for Airbyte: the Graph `error` object, the typed
//! error of one request, and how a response (status and body) becomes JSON or that error.
//!
//! Owns parsing and classifying; it sends nothing and never shows a token (URLs are redacted).

use super::REQUIRED_PERMISSIONS;
use crate::error::ConnectorError;
use serde::Deserialize;
use serde_json::Value;

/// The `error` object of a Graph API error response.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GraphError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub is_transient: Option<bool>,
    pub fbtrace_id: Option<String>,
}

/// What Meta's message says when an answer would hold too much data (code 1).
pub const TOO_MUCH_DATA: &str = "reduce the amount of data";

/// Graph codes that mean "you are being throttled".
pub const THROTTLE_CODES: &[i64] =
    &[4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014];

impl GraphError {
    pub fn is_throttle(&self) -> bool {
        THROTTLE_CODES.contains(&self.code)
    }
    pub fn is_permission(&self) -> bool {
        self.code == 10 || self.code == 3 || (200..=299).contains(&self.code)
    }
    /// The token was rejected. Code 2500 is that only when it speaks of the token ("An
    /// active access token must be used…"); "Unknown path components" shares the code.
    pub fn is_token(&self) -> bool {
        matches!(self.code, 190 | 102 | 104)
            || (self.code == 2500 && self.message.to_ascii_lowercase().contains("access token"))
    }
    /// Code 100 about `appsecret_proof`: the app requires one ("Require App Secret") and the
    /// call had none ("API calls from the server require an appsecret_proof argument") or a
    /// wrong one ("Invalid appsecret_proof provided in the API argument").
    pub fn is_appsecret_proof(&self) -> bool {
        self.code == 100 && self.message.contains("appsecret_proof")
    }
    /// Code 1 "Please reduce the amount of data you're asking for, then retry your request":
    /// the same request fails again; a smaller one may not.
    pub fn is_too_much_data(&self) -> bool {
        self.code == 1 && self.message.contains(TOO_MUCH_DATA)
    }
    fn describe(&self) -> String {
        match self.error_subcode {
            Some(sub) => format!("Graph API error {}/{}: {}", self.code, sub, self.message),
            None => format!("Graph API error {}: {}", self.code, self.message),
        }
    }
}

/// Why one API call failed.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// Meta answered with its error shape.
    Graph { status: u16, error: GraphError, url: String },
    /// A non-2xx answer that is not Meta's error shape (e.g. an HTML error page).
    Status { status: u16, body: String, url: String },
    /// A 2xx answer whose body is not the JSON expected.
    Body { detail: String, url: String },
    /// No answer: connection refused, timeout, or refused by the host's network policy.
    Transport { detail: String, url: String },
}

impl ApiError {
    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            ApiError::Graph { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Turn the failure into what the user sees; `doing` says what the call was for.
    pub fn into_connector(self, doing: &str) -> ConnectorError {
        match self {
            ApiError::Graph { status, error, url } => {
                let detail = error.describe();
                let internal = format!(
                    "HTTP {status} from {url}: {detail} (fbtrace_id {})",
                    error.fbtrace_id.clone().unwrap_or_default()
                );
                let e = if error.is_appsecret_proof() && error.message.contains("Invalid") {
                    ConnectorError::config(format!(
                        "Meta refused {doing}: the app requires an app secret proof and the one sent does not match ({detail}). `client_secret` is not the secret of the app that issued the token: set it to that app's secret (App settings > Basic)."
                    ))
                    .for_whole_read()
                } else if error.is_appsecret_proof() {
                    ConnectorError::config(format!(
                        "Meta refused {doing}: the app's setting \"Require App Secret\" is on, so every call needs an app secret proof ({detail}). Set `client_secret` to the app's secret (the connector then signs every call), or turn \"Require App Secret\" off in the app's Advanced settings."
                    ))
                    .for_whole_read()
                } else if error.is_token() {
                    ConnectorError::config(format!(
                        "The access token was rejected while {doing} ({detail}). It is invalid or has expired: generate a new long-lived token with the permissions {REQUIRED_PERMISSIONS} and update `access_token`."
                    ))
                    .for_whole_read()
                } else if error.is_permission() {
                    ConnectorError::config(format!(
                        "The access token lacks a permission needed for {doing} ({detail}). The token needs {REQUIRED_PERMISSIONS}."
                    ))
                } else if error.code == 2635 || error.code == 12 {
                    ConnectorError::config(format!(
                        "Meta no longer serves the configured `api_version` ({detail}); set `api_version` to a current version."
                    ))
                    .for_whole_read()
                } else if error.is_throttle() {
                    ConnectorError::transient(format!(
                        "Meta's rate limit stopped {doing} ({detail}); the sync can be retried later."
                    ))
                } else if error.is_too_much_data() {
                    ConnectorError::system(format!("Meta refused {doing} as too much data at once ({detail})."))
                } else if error.is_transient == Some(true) || matches!(error.code, 1 | 2) || status >= 500 {
                    ConnectorError::transient(format!("Meta had a temporary failure while {doing} ({detail})."))
                } else {
                    ConnectorError::system(format!("The Graph API refused {doing} ({detail})."))
                };
                e.with_internal(internal)
            }
            ApiError::Status { status, body, url } => {
                let e = if status >= 500 || status == 429 {
                    ConnectorError::transient(format!("The Graph API answered HTTP {status} while {doing}."))
                } else {
                    ConnectorError::system(format!(
                        "The Graph API answered HTTP {status} with a body that is not a Graph error while {doing}."
                    ))
                };
                e.with_internal(format!("HTTP {status} from {url}; body starts: {body}"))
            }
            ApiError::Body { detail, url } => ConnectorError::system(format!(
                "The Graph API sent a response that is not what Meta documents while {doing}: {detail}."
            ))
            .with_internal(format!("from {url}: {detail}")),
            ApiError::Transport { detail, url } => {
                let detail = crate::error::transport_words(&detail);
                if detail.contains(READ_STOPS) {
                    // The host stopped the whole read (its cap on rate-limit waits, or an
                    // outage): every stream ends, and a later sync may succeed.
                    ConnectorError::transient(format!("The read stopped while {doing}: {detail}."))
                        .with_internal(format!("request to {url}: {detail}"))
                        .for_whole_read()
                } else if detail.contains("TLS certificate of") || detail.starts_with("the proxy ") {
                    // The host says retrying cannot help: the user must trust a CA or fix a proxy.
                    ConnectorError::config(format!("Could not reach the Graph API while {doing}: {detail}."))
                        .with_internal(format!("request to {url} failed: {detail}"))
                        .for_whole_read()
                } else if detail.contains(TOO_LARGE) {
                    // The host read no further than its cap on one answer: this request fails
                    // (and with it only the stream it serves); asking again gets the same answer.
                    ConnectorError::system(format!(
                        "The Graph API sent an answer too large to read while {doing}: {detail}."
                    ))
                    .with_internal(format!("request to {url} failed: {detail}"))
                } else if detail.contains("network policy refused") {
                    ConnectorError::system(format!(
                        "The host's network policy refused a request while {doing}: only the configured `api_base_url` may be reached."
                    ))
                    .with_internal(format!("request to {url} denied: {detail}"))
                } else {
                    ConnectorError::transient(format!("Could not reach the Graph API while {doing}: {detail}."))
                        .with_internal(format!("request to {url} failed: {detail}"))
                }
            }
        }
    }
}

/// The words by which a host says it stopped the whole read (`source-instagram`'s network
/// policy: `host/src/network/words.rs`).
pub const READ_STOPS: &str = "so the read stops here";

/// The words by which a host says an answer was longer than its cap on one answer
/// (`source-instagram`: `SOURCE_INSTAGRAM_MAX_RESPONSE_MB`, `host/src/network/transport.rs`).
pub const TOO_LARGE: &str = "the cap on one answer";

/// Remove `access_token` from a URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.query_pairs().any(|(k, _)| k == "access_token") => {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    if k == "access_token" {
                        (k.into_owned(), "REDACTED".into())
                    } else {
                        (k.into_owned(), v.into_owned())
                    }
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(kept);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// Interpret one Graph answer (status + body) the way Meta documents it.
pub fn parse_response(status: u16, body: &[u8], url: &str) -> Result<Value, ApiError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    if (200..300).contains(&status) {
        return match parsed {
            Ok(v) => match v.get("error") {
                Some(err) => graph_error(status, err, url, body),
                None => Ok(v),
            },
            Err(e) => Err(ApiError::Body {
                detail: format!("invalid JSON ({e}); body starts: {}", excerpt(body)),
                url: redact_url(url),
            }),
        };
    }
    match parsed.ok().and_then(|v| v.get("error").cloned()) {
        Some(err) => graph_error(status, &err, url, body),
        None => Err(ApiError::Status { status, body: excerpt(body), url: redact_url(url) }),
    }
}

fn graph_error(status: u16, err: &Value, url: &str, body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_value::<GraphError>(err.clone()) {
        Ok(error) => Err(ApiError::Graph { status, error, url: redact_url(url) }),
        Err(_) => Err(ApiError::Status {
            status: if status < 300 { 500 } else { status },
            body: excerpt(body),
            url: redact_url(url),
        }),
    }
}
