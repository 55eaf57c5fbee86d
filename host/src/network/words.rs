//! Plain words for logs: durations, Graph error bodies and who a throttle holds back.
//!
//! Owns wording only. It must not decide anything.

use super::pauses;
use serde_json::Value;
use std::time::Duration;

/// Who a throttle holds back, for logs.
pub(super) fn describe_scopes(scopes: &[pauses::Scope]) -> String {
    let accounts: Vec<&str> = scopes
        .iter()
        .filter_map(|s| match s {
            pauses::Scope::Account(a) => Some(a.as_str()),
            pauses::Scope::App | pauses::Scope::Platform => None,
        })
        .collect();
    if scopes.contains(&pauses::Scope::Platform) {
        "the platform rate limit: business discovery and hashtag calls wait, the others go on".to_string()
    } else if accounts.is_empty() {
        "the app's limit: every request waits".to_string()
    } else {
        format!("the limit of account {}: its requests wait, other accounts go on", accounts.join(", "))
    }
}

/// `code: message` of a Graph error body, or a short note on what the body is.
pub(super) fn graph_error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("error").cloned()) {
        Some(e) => format!(
            "Graph error {}: {}",
            e.get("code").and_then(Value::as_i64).unwrap_or(0),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        ),
        None => format!("{} bytes, not a Graph error", body.len()),
    }
}

/// `90 s`, `5 min`, `1.5 h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The phrase by which the component knows the host stopped the whole read (its streams end;
/// the error is a `transient_error`). `guest/src/graph.rs` looks for the same words.
pub const READ_STOPS: &str = "so the read stops here";

/// Why the run stopped: a wait for `why` would pass the cap on rate-limit waits.
pub(super) fn cap_reached(why: &str, wait: Duration, max: Duration) -> String {
    format!(
        "{why}; waiting {} more on Meta's rate limits would pass the cap, `rate_limit_max_wait_minutes` ({} in all for this read), {READ_STOPS}: the records and checkpoints already written stand, and the next sync goes on from them",
        human(wait),
        human(max)
    )
}

/// Why the run stopped: requests keep failing after all their retries.
pub(super) fn outage(why: &str) -> String {
    format!(
        "Meta failed requests in a row after all their retries (last: {why}), {READ_STOPS}: the records and checkpoints already written stand, and the next sync goes on from them"
    )
}
