//! The host's network rules, compiled here from the host's own files so that the native host
//! and this component apply one set of rules: classification of answers and batch surgery
//! (`retry`), usage headers and pacing (`usage`), throttle scopes (`pauses`, `platform`), the
//! retry limits (`limits`), origins (`origin`) and the wording of logs (`words`). This module
//! adds only the allow-list check of a request's scheme and authority; it must not send or
//! sleep (see `send`).

#![allow(dead_code)]

#[path = "../../../host/src/network/limits.rs"]
pub mod limits;
#[path = "../../../host/src/network/origin.rs"]
pub mod origin;
#[path = "../../../host/src/network/pauses.rs"]
pub mod pauses;
#[path = "../../../host/src/network/platform.rs"]
pub mod platform;
#[path = "../../../host/src/network/retry.rs"]
pub mod retry;
#[path = "../../../host/src/network/usage.rs"]
pub mod usage;
#[path = "../../../host/src/network/words.rs"]
pub mod words;

use origin::Origin;
pub use words::human;

/// Who a throttle holds back, in the host's words.
pub fn describe_scopes(scopes: &[pauses::Scope]) -> String {
    words::describe_scopes(scopes)
}

/// `code: message` of a Graph error body, in the host's words.
pub fn graph_error_text(body: &[u8]) -> String {
    words::graph_error_text(body)
}

/// The origin the config allows, as the host decides it (`host/src/settings.rs`): that of
/// `api_base_url`, else the login's default Graph origin. `None` (nothing allowed) for a config
/// that is not a JSON object or whose `api_base_url` is not an http(s) URL with a host and no
/// user name (the connector reports those as config errors itself).
pub fn allowed_origin(config: &str) -> Option<Origin> {
    let config: serde_json::Value = serde_json::from_str(config).ok()?;
    let config = config.as_object()?;
    let default = match config.get("login").and_then(|v| v.as_str()) {
        Some("instagram") => "https://graph.instagram.com",
        _ => "https://graph.facebook.com",
    };
    let base = match config.get("api_base_url") {
        None | Some(serde_json::Value::Null) => default,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => default,
        Some(serde_json::Value::String(s)) => s.trim(),
        Some(_) => return None,
    };
    let parsed = url::Url::parse(base).ok()?;
    if !parsed.username().is_empty() || parsed.password().is_some() || !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    Origin::of_url(base)
}

/// Whether a request to `scheme://authority` may go out under `allowed`.
pub fn permits(allowed: Option<&Origin>, scheme: &str, authority: &str) -> bool {
    let Some(allowed) = allowed else { return false };
    let Ok(uri) = format!("{scheme}://{authority}/").parse::<http::Uri>() else { return false };
    Origin::of_uri(&uri).is_some_and(|target| target.matches(allowed))
}

#[cfg(test)]
mod allow_list {
    use super::*;

    /// Only the config's origin passes; without a usable config nothing does.
    #[test]
    fn only_the_configs_origin() {
        let fake = allowed_origin(r#"{"access_token":"t","api_base_url":"http://127.0.0.1:8123/"}"#);
        assert!(permits(fake.as_ref(), "http", "127.0.0.1:8123"));
        assert!(!permits(fake.as_ref(), "http", "127.0.0.1:8124"));
        assert!(!permits(fake.as_ref(), "https", "127.0.0.1:8123"));
        assert!(!permits(fake.as_ref(), "http", "evil.test"));
        let graph = allowed_origin(r#"{"access_token":"t"}"#);
        assert!(permits(graph.as_ref(), "https", "graph.facebook.com"));
        assert!(permits(graph.as_ref(), "https", "GRAPH.facebook.com:443"));
        assert!(!permits(graph.as_ref(), "https", "graph.instagram.com"));
        let ig = allowed_origin(r#"{"access_token":"t","login":"instagram","api_base_url":""}"#);
        assert!(permits(ig.as_ref(), "https", "graph.instagram.com"));
        assert!(!permits(ig.as_ref(), "https", "graph.facebook.com"));
        for bad in ["[]", "not json", r#"{"api_base_url":"ftp://x"}"#, r#"{"api_base_url":"http://u:p@x"}"#] {
            assert!(!permits(allowed_origin(bad).as_ref(), "http", "x"), "{bad}");
        }
        assert!(!permits(None, "https", "graph.facebook.com"));
    }
}
