//! Unit tests of `graph`: error classification, redaction, batch items and pages.
use super::*;
use crate::error::FailureType;

fn err_body(code: i64, sub: Option<i64>, msg: &str) -> Vec<u8> {
    serde_json::json!({"error": {"message": msg, "type": "OAuthException", "code": code, "error_subcode": sub, "fbtrace_id": "X"}})
        .to_string()
        .into_bytes()
}

/// Meta's error shapes are classified the way Airbyte expects.
#[test]
fn classification() {
    let class = |status, code, sub| {
        parse_response(status, &err_body(code, sub, "m"), "https://g/v25.0/me").unwrap_err().into_connector("x").failure
    };
    assert_eq!(class(400, 190, Some(463)), FailureType::Config);
    assert_eq!(class(400, 10, None), FailureType::Config);
    assert_eq!(class(403, 200, None), FailureType::Config);
    assert_eq!(class(400, 4, None), FailureType::Transient);
    assert_eq!(class(400, 80002, None), FailureType::Transient);
    assert_eq!(class(500, 1, None), FailureType::Transient);
    assert_eq!(class(400, 100, Some(33)), FailureType::System);
    let path = |msg: &str| {
        parse_response(400, &err_body(2500, None, msg), "https://g/v25.0/1/x").unwrap_err().into_connector("x")
    };
    let unknown = path("Unknown path components: /x/y");
    assert_eq!((unknown.failure, unknown.whole_read), (FailureType::System, false), "not a token problem");
    let no_token = path("An active access token must be used to query information about the current user.");
    assert_eq!((no_token.failure, no_token.whole_read), (FailureType::Config, true));
    let html = parse_response(502, b"<html>Bad gateway</html>", "https://g/x").unwrap_err().into_connector("x");
    assert_eq!(html.failure, FailureType::Transient);
    assert!(html.internal.unwrap().contains("<html>"));
    let bad = parse_response(200, b"{\"data\": [", "https://g/x").unwrap_err().into_connector("x");
    assert_eq!(bad.failure, FailureType::System);
}

/// Tokens in URLs are never shown.
#[test]
fn urls_are_redacted() {
    assert_eq!(redact_url("https://g/v1/me?access_token=SECRET&a=1"), "https://g/v1/me?access_token=REDACTED&a=1");
    let e = parse_response(400, &err_body(100, None, "m"), "https://g/me?access_token=SECRET")
        .unwrap_err()
        .into_connector("x");
    assert!(!format!("{e:?}").contains("SECRET"));
}

/// Batch items carry their own status; null means "not run, retry".
#[test]
fn batch_items() {
    let ok = serde_json::json!({"code": 200, "body": "{\"data\":[]}"});
    assert!(parse_batch_item(ok, "u").is_ok());
    let bad = serde_json::json!({"code": 400, "body": String::from_utf8(err_body(100, Some(2108006), "old")).unwrap()});
    assert_eq!(parse_batch_item(bad, "u").unwrap_err().graph().unwrap().error_subcode, Some(2108006));
    assert!(parse_batch_item(Value::Null, "u").is_err());
}

/// `next` is followed only when present.
#[test]
fn pages() {
    let p = parse_page(serde_json::json!({"data": [1], "paging": {"cursors": {"after": "a"}}}), "u").unwrap();
    assert!(p.next.is_none());
    let p = parse_page(serde_json::json!({"data": [], "paging": {"next": "n"}}), "u").unwrap();
    assert_eq!(p.next.as_deref(), Some("n"));
    assert!(parse_page(serde_json::json!({"oops": 1}), "u").is_err());
}
