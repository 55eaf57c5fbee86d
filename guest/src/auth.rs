//! The portable token contract: how the component authenticates when its host does not.
//!
//! `source-instagram` (our host) removes `access_token` from the config before the component
//! sees it and adds the `Authorization` header to allowed requests itself, so under our host
//! this module holds nothing and adds nothing. A host that passes the config unchanged (a stock
//! runtime, wasmtime-py, jco) leaves `access_token` in it; then the component sends it itself as
//! `Authorization: Bearer …`, and only to the origin of `api_base_url` (Meta's absolute paging
//! links are moved there first, see `links`), never to any other origin.
//!
//! This module owns the token for the duration of one call (set at the start of every export)
//! and the header. It must not log, format or return the token anywhere else: the token never
//! reaches an error message, a log line or a record.

use std::sync::Mutex;

/// The token and the only origin it may be sent to, for the current call.
struct Credential {
    token: String,
    origin: url::Origin,
}

static CURRENT: Mutex<Option<Credential>> = Mutex::new(None);

/// Take the token (if any) from the raw config of the current call, replacing the previous
/// call's: a component instance reused across calls never keeps a stale token. `api_base_url`
/// is the validated base URL of that config.
pub fn set_from_config(config_json: &str, api_base_url: &str) {
    let token = serde_json::from_str::<serde_json::Value>(config_json)
        .ok()
        .and_then(|v| v.get("access_token").and_then(|t| t.as_str()).map(|t| t.trim().to_string()))
        .filter(|t| !t.is_empty());
    let origin = url::Url::parse(api_base_url).ok().map(|u| u.origin());
    let credential = match (token, origin) {
        (Some(token), Some(origin)) if origin.is_tuple() => Some(Credential { token, origin }),
        _ => None,
    };
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = credential;
}

/// Forget the token (no config in this call, or the config did not parse).
pub fn clear() {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The headers to add to a request for `url`: `Authorization: Bearer …` when this call has a
/// token and `url` is on the token's origin, else none.
pub fn headers_for(url: &str) -> Vec<(&'static str, String)> {
    let guard = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    let Some(credential) = guard.as_ref() else { return Vec::new() };
    match url::Url::parse(url) {
        Ok(u) if u.origin() == credential.origin => vec![("authorization", format!("Bearer {}", credential.token))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the credential is process-global, and parallel tests would race on it.
    #[test]
    fn token_goes_only_to_the_base_origin_and_only_for_the_current_call() {
        set_from_config(r#"{"access_token": " T0K "}"#, "http://127.0.0.1:8080");
        assert_eq!(headers_for("http://127.0.0.1:8080/v25.0/me?x=1"), vec![("authorization", "Bearer T0K".into())]);
        assert!(headers_for("http://127.0.0.1:8081/v25.0/me").is_empty(), "other port");
        assert!(headers_for("https://127.0.0.1:8080/v25.0/me").is_empty(), "other scheme");
        assert!(headers_for("http://evil.example/v25.0/me").is_empty(), "other host");
        assert!(headers_for("not a url").is_empty());

        set_from_config(r#"{"api_base_url": "http://127.0.0.1:8080"}"#, "http://127.0.0.1:8080");
        assert!(headers_for("http://127.0.0.1:8080/v25.0/me").is_empty(), "a call without a token keeps none");

        set_from_config(r#"{"access_token": "T"}"#, "http://127.0.0.1:8080");
        clear();
        assert!(headers_for("http://127.0.0.1:8080/v25.0/me").is_empty());

        set_from_config(r#"{"access_token": ""}"#, "http://127.0.0.1:8080");
        assert!(headers_for("http://127.0.0.1:8080/").is_empty(), "empty token");
    }
}
