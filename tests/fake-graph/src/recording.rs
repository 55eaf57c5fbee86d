//! The recording format: what `source-instagram read --record FILE` writes and what
//! [`crate::FakeGraph::replay`] (`fake-graph --replay FILE`) answers from. Test cassettes
//! (`tests/cassettes/`) are such files.
//!
//! JSON lines. The first line says what replay needs:
//! `{"recording": "source-instagram", "version": 1, "command": "read" | "check", "now": RFC 3339,
//! "connector_version", "login", "api_version", "redacted_text": bool, "config": {…without
//! secrets and api_base_url…}, "catalog": {…}, "state": … | null}`. Every other line is one
//! exchange the component made, in the order its final answers arrived:
//! - `method`, and `url`: the path and query under `api_base_url` (`/v27.0/me/accounts?…`), as
//!   the component asked, without credentials;
//! - `request` (POST only): the form fields sent; a Graph batch is `{"batch": [{"method",
//!   "relative_url"}…], "include_headers": "false"}`;
//! - `status`, `headers` (the ones that matter, [`RECORDED_HEADERS`], lower-case names), and the
//!   body: `json` when it is JSON, else `body` (text). A batch answer's items are
//!   `{"code", "json" | "body", "headers"?}` (Meta sends each item's body as a JSON string; it is
//!   kept parsed here, so a cassette is readable and writable by hand);
//! - or `error`: no answer came (the connection failed), with the host's words.
//!
//! Owns the format's names and how a request is matched ([`request_key`]: method, path and
//! query parameters without credentials, in any order and any encoding), so the writer and the
//! replayer agree. It does not write files or answer HTTP.

use serde_json::Value;

/// The first line's `recording` value.
pub const FORMAT: &str = "source-instagram";
/// The format's version (the first line's `version`).
pub const VERSION: u64 = 1;

/// Query parameters (and form fields) that carry credentials: never recorded, never matched.
pub const CREDENTIAL_PARAMS: &[&str] =
    &["access_token", "appsecret_proof", "appsecret_time", "client_secret", "fb_exchange_token", "input_token"];

/// Response headers worth keeping: the usage headers pacing reads, the content type, how Meta
/// names the request and its version, and what an auth failure or a throttle adds.
pub const RECORDED_HEADERS: &[&str] = &[
    "content-type",
    "x-app-usage",
    "x-business-use-case-usage",
    "x-ad-account-usage",
    "retry-after",
    "www-authenticate",
    "facebook-api-version",
    "x-fb-trace-id",
];

/// `path?query` with every credential parameter removed (the rest as written).
pub fn without_credentials(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else { return path_and_query.to_string() };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let name = url::form_urlencoded::parse(name.as_bytes()).next().map(|(k, _)| k.into_owned());
            !name.is_some_and(|n| CREDENTIAL_PARAMS.contains(&n.as_str()))
        })
        .collect();
    if kept.is_empty() { path.to_string() } else { format!("{path}?{}", kept.join("&")) }
}

/// The identity of a request for replay: the method, the path (with a leading `/`, version
/// included) and the query parameters decoded and sorted, credentials left out. Two URLs that
/// differ only in parameter order or percent-encoding are the same request.
pub fn request_key(method: &str, path_and_query: &str) -> String {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let path = format!("/{}", path.trim_start_matches('/'));
    let path = path.trim_end_matches('/');
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| !CREDENTIAL_PARAMS.contains(&k.as_str()))
        .collect();
    pairs.sort();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        out.append_pair(k, v);
    }
    format!("{} {}?{}", method.to_ascii_uppercase(), if path.is_empty() { "/" } else { path }, out.finish())
}

/// A body as recorded: `("json", value)` when it is JSON, else `("body", text)`.
pub fn body_field(text: &str) -> (&'static str, Value) {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => ("json", v),
        Err(_) => ("body", Value::String(text.to_string())),
    }
}

/// The body text of a recorded answer (or batch item): its `json` written out, or its `body`.
pub fn body_text(recorded: &Value) -> String {
    match (recorded.get("json"), recorded.get("body")) {
        (Some(v), _) => v.to_string(),
        (None, Some(Value::String(s))) => s.clone(),
        (None, Some(other)) => other.to_string(),
        (None, None) => String::new(),
    }
}

/// A batch answer's body as recorded: each item's JSON-string `body` kept parsed as `json`.
pub fn batch_items_recorded(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|item| match item {
            Value::Object(o) => {
                let mut out = o.clone();
                if let Some(Value::String(text)) = out.remove("body") {
                    let (key, value) = body_field(&text);
                    out.insert(key.into(), value);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
        .collect()
}

/// A recorded batch item as Meta sends it: `body` a JSON string.
pub fn batch_item_sent(recorded: &Value) -> Value {
    match recorded {
        Value::Object(o) if o.contains_key("json") || o.contains_key("body") => {
            let mut out = o.clone();
            let text = body_text(recorded);
            out.remove("json");
            out.insert("body".into(), Value::String(text));
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_ignore_credentials_order_and_encoding() {
        let a = request_key("get", "/v27.0/1784/media?fields=id%2Ccaption&access_token=T&limit=100");
        let b = request_key("GET", "v27.0/1784/media?limit=100&fields=id,caption");
        assert_eq!(a, b);
        assert_eq!(a, "GET /v27.0/1784/media?fields=id%2Ccaption&limit=100");
        assert_ne!(a, request_key("GET", "/v27.0/1784/media?limit=25&fields=id,caption"));
        assert_eq!(request_key("POST", "/v27.0/"), "POST /v27.0?");
        assert_eq!(without_credentials("/v1/x?a=1&access_token=T&appsecret_proof=P&b=%20"), "/v1/x?a=1&b=%20");
        assert_eq!(without_credentials("/v1/x?access_token=T"), "/v1/x");
    }

    #[test]
    fn batch_items_round_trip() {
        let sent =
            vec![json!({"code": 200, "body": "{\"data\":[1]}"}), json!({"code": 502, "body": "<html>"}), Value::Null];
        let recorded = batch_items_recorded(&sent);
        assert_eq!(recorded[0], json!({"code": 200, "json": {"data": [1]}}));
        assert_eq!(recorded[1], json!({"code": 502, "body": "<html>"}));
        let back: Vec<Value> = recorded.iter().map(batch_item_sent).collect();
        assert_eq!(back, sent);
    }
}
