//! The host's network policy, end to end: the guest reaches only the configured origin.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::json;

/// A `paging.next` link that points at another host is refused by the host: the other host
/// receives nothing (so never sees the token), and the read fails with a clear error.
#[test]
fn requests_to_other_hosts_are_refused() {
    let elsewhere = Sandbox::start(DatasetSpec::small());
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { page_size_cap: 4, paging_base_url: Some(elsewhere.fake.base_url()), ..FakeOptions::default() },
    );
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media"]), None);
    assert_ne!(r.code, 0);
    assert!(elsewhere.fake.requests().is_empty(), "the other host was reached: {:?}", elsewhere.fake.requests());
    let e = r.error().expect("a TRACE ERROR");
    assert_eq!(e["failure_type"], "system_error");
    assert!(e["message"].as_str().unwrap().contains("network policy"), "{e}");
    let refused = r.of_type("LOG").into_iter().any(|l| {
        l["log"]["level"] == "WARN" && l["log"]["message"].as_str().unwrap().contains(&elsewhere.fake.base_url().replace("http://", ""))
    });
    assert!(refused, "the refusal is logged with the refused origin");
}

/// The token travels only as a header added by the host, never in a URL the guest built.
#[test]
fn token_is_added_by_the_host() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "media_insights"]), None);
    assert_eq!(r.code, 0);
    for q in sb.fake.requests() {
        assert_eq!(q.header("authorization").as_deref(), Some(format!("Bearer {}", sb.token).as_str()), "{} {}", q.method, q.path);
        assert!(q.query.iter().all(|(k, _)| k != "access_token"));
        assert!(!q.body.contains(&sb.token));
    }
}
