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
        l["log"]["level"] == "WARN"
            && l["log"]["message"].as_str().unwrap().contains(&elsewhere.fake.base_url().replace("http://", ""))
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
        assert_eq!(q.header("authorization"), Some(format!("Bearer {}", sb.token).as_str()), "{} {}", q.method, q.path);
        assert!(q.query.iter().all(|(k, _)| k != "access_token"));
        assert!(!q.body.contains(&sb.token));
    }
}

fn hostile(mode: serde_json::Value, env: &[(&str, &str)]) -> Run {
    let sb = Sandbox::start(DatasetSpec::small());
    let mut cfg = mode;
    cfg["access_token"] = json!(sb.token);
    cfg["api_base_url"] = json!(sb.fake.base_url());
    let cfg = sb.file("hostile.json", &cfg);
    let cat = sb.file("cat.json", &json!({"streams": []}));
    run_env(
        &["--component", env!("HOSTILE_GUEST_WASM"), "read", "--config", &cfg, "--catalog", &cat],
        None,
        &sb.token,
        env,
    )
}

/// Each hostile component is stopped by its own limit, with its own clear system_error; raw
/// sockets, the environment and the filesystem are not granted at all.
#[test]
fn hostile_components_are_contained() {
    let busy = hostile(json!({"mode": "busy-loop"}), &[("SOURCE_INSTAGRAM_DEADLINE_SECS", "1")]);
    assert_ne!(busy.code, 0);
    let e = busy.error().unwrap();
    assert_eq!(e["failure_type"], "system_error");
    assert!(e["message"].as_str().unwrap().contains("execution deadline"), "{e}");

    let hog = hostile(json!({"mode": "memory"}), &[("SOURCE_INSTAGRAM_MEMORY_MB", "64")]);
    assert_ne!(hog.code, 0);
    let e = hog.error().unwrap();
    assert_eq!(e["failure_type"], "system_error");
    assert!(e["message"].as_str().unwrap().contains("memory limit"), "{e}");

    let elsewhere = Sandbox::start(DatasetSpec::small());
    let sneaky = hostile(json!({"mode": "other-host", "target": elsewhere.fake.base_url() + "/v25.0/me"}), &[]);
    assert_ne!(sneaky.code, 0);
    assert!(elsewhere.fake.requests().is_empty(), "the other host was reached");
    let e = sneaky.error().unwrap();
    assert!(e["message"].as_str().unwrap().contains("HttpRequestDenied"), "{e}");
    assert!(sneaky.logs().iter().any(|m| m.contains("Network policy refused")));

    let escape = hostile(json!({"mode": "escape", "target": elsewhere.fake.base_url().replace("http://", "")}), &[]);
    let e = escape.error().unwrap()["message"].as_str().unwrap().to_string();
    assert!(e.contains("socket: refused") && e.contains("env: empty") && e.contains("fs: refused"), "{e}");
    assert!(elsewhere.fake.requests().is_empty(), "no raw socket reached the other host");

    let crash = hostile(json!({"mode": "panic"}), &[]);
    assert_ne!(crash.code, 0);
    let e = crash.error().unwrap();
    assert_eq!(e["failure_type"], "system_error");
    assert!(e["message"].as_str().unwrap().contains("crashed"), "{e}");
}

/// Through a reverse proxy that serves the Graph API under a path prefix on another port (a
/// gateway or regional proxy origin), a read of the bench dataset (two accounts of 300 posts:
/// media pages after the first, reached from the account list's field expansion, batch items,
/// comment and reply edges) equals a direct read. The fake writes its paging links on Meta's
/// origin, as Meta does; the component moves each onto the proxy's base, prefix kept, and
/// every request goes through the proxy.
#[test]
fn a_read_through_a_reverse_proxy_equals_a_direct_read() {
    let sb = Sandbox::start(DatasetSpec::bench());
    let catalog = sb.catalog(ALL_STREAMS);
    let direct = sb.read(&sb.config(json!({})), &catalog, None);
    assert_eq!(direct.code, 0, "{}", direct.stdout);
    let direct_requests = sb.fake.requests().len();
    sb.fake.clear_requests();

    let proxy = common::reverse_proxy::ReverseProxy::start(&sb.fake.base_url(), "meta-gw/graph");
    let r = sb.read(&sb.config(json!({"api_base_url": proxy.base_url()})), &catalog, None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let without_time = |r: &Run| r.all_records().into_iter().map(|m| without_emitted_at(m.clone())).collect::<Vec<_>>();
    assert_eq!(without_time(&r), without_time(&direct), "the same records, in the same order");
    assert_eq!(r.final_state(), direct.final_state());
    assert!(r.logs().iter().all(|l| !l.contains("Network policy refused")), "{:?}", r.logs());

    let requests = sb.fake.requests();
    assert_eq!(requests.len(), direct_requests, "the same requests as the direct read");
    assert_eq!(proxy.forwarded(), requests.len(), "every request went through the proxy");
    let followed = sb.calls().into_iter().filter(|c| c.contains("/media?") && c.contains("after=")).count();
    assert!(followed >= 4, "media pages after the first were followed from Meta-origin links ({followed})");
}
