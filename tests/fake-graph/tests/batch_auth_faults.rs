//! Batch requests, authentication, usage headers, faults and latency.

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use fake_graph::{DatasetSpec, FakeGraph, FakeOptions, FaultPlan, GraphError, MediaKind, UsageHeaders};

/// A fake that sends both usage headers from the first call (these tests read them).
fn start_with_both_headers(faults: FaultPlan) -> FakeGraph {
    start(DatasetSpec::small(), FakeOptions { faults, usage_headers: UsageHeaders::both(), ..FakeOptions::default() })
}
use serde_json::{Value, json};

fn batch_json(urls: &[String]) -> String {
    let ops: Vec<Value> = urls.iter().map(|u| json!({ "method": "GET", "relative_url": u })).collect();
    Value::Array(ops).to_string()
}

#[test]
fn batch_with_mixed_success_and_errors() {
    let graph = start_with_both_headers(FaultPlan::none());
    let account = &graph.dataset().accounts()[0];
    let image = account.media.iter().find(|m| m.kind() == MediaKind::Image && !m.flags.any()).unwrap();
    let before = account.media.iter().find(|m| m.flags.posted_before_business).unwrap();
    let urls = vec![
        format!("{}/insights?metric=reach,saved", image.id), // no version, no slash
        format!("/v24.0/{}/insights?metric=reach", before.id), // version and slash
        format!("v22.0/{}?fields=id,username", account.ig_user_id), // version, no slash
        "/99999999?fields=id".to_string(),                   // unknown object
    ];
    let reply = post_form(&graph.url("/v24.0/"), &[("batch", &batch_json(&urls))]);
    let results = reply.ok();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);

    assert_eq!(results[0]["code"], 200);
    let headers = results[0]["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h["name"] == "Content-Type" && h["value"] == "text/javascript; charset=UTF-8"));
    let body: Value = serde_json::from_str(results[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"][0]["name"], "reach");

    assert_eq!(results[1]["code"], 400);
    let body: Value = serde_json::from_str(results[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["error_subcode"], 2108006);

    assert_eq!(results[2]["code"], 200);
    let body: Value = serde_json::from_str(results[2]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["username"], account.username.as_str());

    assert_eq!(results[3]["code"], 400);
    let body: Value = serde_json::from_str(results[3]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["error_subcode"], 33);

    // Usage headers on the envelope, with the touched IG account.
    assert!(reply.header("X-App-Usage").is_some());
    assert!(reply.header_json("X-Business-Use-Case-Usage").get(&account.ig_user_id).is_some());

    let log = graph.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].batch_ops, 4);
    assert_eq!(log[0].batch_relative_urls(), urls);
}

#[test]
fn batch_paths_token_in_form_and_include_headers() {
    let graph = start_small();
    let urls = vec!["me?fields=id".to_string()];
    for path in ["/", "/v24.0", "/v24.0/"] {
        let reply = post_form_plain(
            &graph.url(path),
            &[("batch", &batch_json(&urls)), ("access_token", TOKEN), ("include_headers", "false")],
        );
        let results = reply.ok();
        assert_eq!(results[0]["code"], 200, "{path}");
        assert!(results[0].get("headers").is_none(), "include_headers=false drops op headers");
    }
    // Missing token for the whole batch.
    let e = post_form_plain(&graph.url("/v24.0"), &[("batch", &batch_json(&urls))]).error(400);
    assert_eq!(e["code"], 2500);
    // Bad token for the whole batch.
    let e =
        post_form_plain(&graph.url("/v24.0"), &[("batch", &batch_json(&urls)), ("access_token", "nope")]).error(400);
    assert_eq!(e["code"], 190);
}

#[test]
fn batch_limit_is_fifty() {
    let graph = start_small();
    let fifty: Vec<String> = (0..50).map(|_| "me?fields=id".to_string()).collect();
    let reply = post_form(&graph.url("/v24.0/"), &[("batch", &batch_json(&fifty))]);
    assert_eq!(reply.ok().as_array().unwrap().len(), 50);
    let fifty_one: Vec<String> = (0..51).map(|_| "me?fields=id".to_string()).collect();
    let reply = post_form(&graph.url("/v24.0/"), &[("batch", &batch_json(&fifty_one))]);
    let e = reply.error(400);
    assert_eq!(e["code"], 100);
    assert_eq!(e["message"], "(#100) Too many requests in batch message. Maximum batch size is 50");
    assert!(reply.header("X-App-Usage").is_some());
    let log = graph.requests();
    assert_eq!(log.iter().map(|r| r.batch_ops).collect::<Vec<_>>(), [50, 51]);
}

#[test]
fn auth_errors_carry_usage_headers() {
    let graph = start_with_both_headers(FaultPlan::none());
    let url = graph.url("/v24.0/17841400000000001?fields=id");

    let missing = get_with_token(&url, None);
    let e = missing.error(400);
    assert_eq!(e["code"], 2500);
    assert_eq!(e["message"], "An active access token must be used to query information about the current user.");
    assert!(missing.header("X-App-Usage").is_some());
    assert!(missing.header("X-Business-Use-Case-Usage").is_some());

    let wrong = get_with_token(&url, Some("wrong"));
    let e = wrong.error(400);
    assert_eq!(e["code"], 190);
    assert_eq!(e["message"], "Invalid OAuth access token - Cannot parse access token");
    assert!(e.get("error_subcode").is_none());
    assert!(wrong.header("X-App-Usage").is_some());

    let expired = get_plain(&graph.url("/v24.0/me/accounts?access_token=expired-token"));
    let e = expired.error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(190), Some(463)));
    assert!(e["message"].as_str().unwrap().starts_with("Error validating access token: Session has expired on "));

    // Same request, same trace id.
    let again = get_with_token(&url, Some("wrong")).error(400);
    assert_eq!(again["fbtrace_id"], get_with_token(&url, Some("wrong")).error(400)["fbtrace_id"]);

    let ok = get(&url);
    let usage = ok.header_json("X-App-Usage");
    for key in ["call_count", "total_cputime", "total_time"] {
        assert!(usage[key].is_u64(), "{key}");
    }
    let buc = ok.header_json("X-Business-Use-Case-Usage");
    let entry = &buc["17841400000000001"][0];
    assert_eq!(entry["type"], "instagram");
    assert_eq!(entry["estimated_time_to_regain_access"], 0);
    // Not about an IG user: app usage only.
    let pages = get(&graph.url("/v24.0/me/accounts"));
    assert!(pages.header("X-App-Usage").is_some() && pages.header("X-Business-Use-Case-Usage").is_none());
}

/// The requests a connector-like client would make against the small dataset.
fn workload(graph: &FakeGraph) -> Vec<String> {
    let mut paths = vec!["/v24.0/me/accounts?fields=id,instagram_business_account&limit=100".to_string()];
    for account in graph.dataset().accounts() {
        paths.push(format!("/v24.0/{}?fields=id,username", account.ig_user_id));
        paths.push(format!("/v24.0/{}/media?fields=id&limit=100", account.ig_user_id));
        for media in &account.media {
            paths.push(format!("/v24.0/{}/insights?metric=reach", media.id));
        }
    }
    paths
}

fn failing_requests(plan: FaultPlan, reverse: bool, threads: usize) -> BTreeSet<String> {
    let graph = start(DatasetSpec::small(), FakeOptions { faults: plan, ..FakeOptions::default() });
    let mut paths = workload(&graph);
    if reverse {
        paths.reverse();
    }
    let chunks: Vec<Vec<String>> = paths.chunks(paths.len().div_ceil(threads)).map(<[String]>::to_vec).collect();
    let failed: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let graph = &graph;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter(|p| {
                            let first = get(&graph.url(p));
                            let failed = first.body.contains("\"is_transient\":true") || first.status >= 500;
                            if failed {
                                // A retry of the same request succeeds (failing_attempts = 1).
                                let retry = get(&graph.url(p));
                                assert!(
                                    retry.status < 500 && !retry.body.contains("is_transient\":true"),
                                    "{p}: {}",
                                    retry.body
                                );
                            }
                            failed
                        })
                        .cloned()
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    failed.into_iter().collect()
}

#[test]
fn faults_are_deterministic_whatever_the_order() {
    let plan = FaultPlan::transient(0.3, 42).combine(FaultPlan::throttle(0.15, 7));
    let sequential = failing_requests(plan.clone(), false, 1);
    let reversed_parallel = failing_requests(plan.clone(), true, 4);
    assert!(!sequential.is_empty(), "some requests should fail");
    assert!(sequential.len() < workload_len(), "not all requests should fail");
    assert_eq!(sequential, reversed_parallel);
    let other_seed = failing_requests(FaultPlan::transient(0.3, 43).combine(FaultPlan::throttle(0.15, 8)), false, 1);
    assert_ne!(sequential, other_seed);
}

fn workload_len() -> usize {
    workload(&start_small()).len()
}

#[test]
fn throttle_and_transient_bodies() {
    let graph = start_with_both_headers(FaultPlan::throttle(1.0, 1).with_failing_attempts(u32::MAX));
    let mut codes = BTreeSet::new();
    for media in &graph.dataset().accounts()[0].media {
        let reply = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach", media.id)));
        assert!(reply.status == 400 || reply.status == 403);
        let e = reply.json()["error"].clone();
        assert_eq!(e["is_transient"], true);
        let code = e["code"].as_i64().unwrap();
        assert!([4, 17, 613, 80002].contains(&code), "{code}");
        if code == 80002 {
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("(#80002) There have been too many calls to this Instagram account.")
            );
            let buc = reply.header_json("X-Business-Use-Case-Usage");
            assert!(
                buc[&graph.dataset().accounts()[0].ig_user_id][0]["estimated_time_to_regain_access"].as_u64().unwrap()
                    >= 1
            );
        }
        codes.insert(code);
    }
    assert!(codes.len() >= 2, "a mix of throttling codes: {codes:?}");

    let graph = start_with_both_headers(FaultPlan::transient(1.0, 3).with_failing_attempts(u32::MAX));
    let mut statuses = BTreeSet::new();
    for media in &graph.dataset().accounts()[0].media {
        let reply = get(&graph.url(&format!("/v24.0/{}?fields=id", media.id)));
        statuses.insert(reply.status);
        assert!(reply.header("X-App-Usage").is_some());
        if reply.header("Content-Type").unwrap().starts_with("text/html") {
            assert_eq!(reply.status, 503);
        } else {
            let e = reply.json()["error"].clone();
            assert_eq!(e["is_transient"], true);
            assert!([1, 2].contains(&e["code"].as_i64().unwrap()));
        }
    }
    assert!(statuses.iter().all(|s| *s >= 500));
}

#[test]
fn faults_apply_to_batch_operations() {
    let graph =
        start(DatasetSpec::small(), FakeOptions { faults: FaultPlan::transient(1.0, 3), ..FakeOptions::default() });
    let urls: Vec<String> = graph.dataset().accounts()[0].media.iter().map(|m| format!("{}?fields=id", m.id)).collect();
    let first = post_form(&graph.url("/v24.0/"), &[("batch", &batch_json(&urls))]).ok();
    assert!(first.as_array().unwrap().iter().all(|r| r["code"].as_u64().unwrap() >= 500));
    // Same operations again: second attempt of each, all succeed; same ops as plain GETs too.
    let second = post_form(&graph.url("/v24.0/"), &[("batch", &batch_json(&urls))]).ok();
    assert!(second.as_array().unwrap().iter().all(|r| r["code"] == 200));
}

#[test]
fn usage_climbs_then_throttles_with_80002() {
    let graph = start_with_both_headers(FaultPlan::usage_climb(20.0, 2));
    let ig = graph.dataset().accounts()[0].ig_user_id.clone();
    let url = graph.url(&format!("/v24.0/{ig}?fields=id"));
    let mut seen = Vec::new();
    for _ in 0..8 {
        let reply = get(&url);
        let entry = reply.header_json("X-Business-Use-Case-Usage")[&ig][0].clone();
        let code = if reply.status == 200 { 0 } else { reply.json()["error"]["code"].as_i64().unwrap() };
        seen.push((
            entry["call_count"].as_u64().unwrap(),
            entry["estimated_time_to_regain_access"].as_u64().unwrap(),
            code,
        ));
    }
    assert_eq!(
        seen,
        [(20, 0, 0), (40, 0, 0), (60, 0, 0), (80, 0, 0), (100, 1, 80002), (100, 1, 80002), (20, 0, 0), (40, 0, 0)]
    );
    // The other account is unaffected.
    let other = graph.dataset().accounts()[1].ig_user_id.clone();
    let reply = get(&graph.url(&format!("/v24.0/{other}?fields=id")));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header_json("X-Business-Use-Case-Usage")[&other][0]["call_count"], 20);
}

#[test]
fn forced_errors_by_path_prefix() {
    let error = GraphError::throttled(4);
    let plan = FaultPlan::none().force_graph_error("/17841400000000001/insights", &error).force_error_times(
        "/me/accounts",
        500,
        "<html>oops</html>",
        2,
    );
    let graph = start(DatasetSpec::small(), FakeOptions { faults: plan, ..FakeOptions::default() });
    let e = get(&graph.url("/v24.0/17841400000000001/insights?metric=reach&period=day")).error(403);
    assert_eq!(e["code"], 4);
    assert_eq!(get(&graph.url("/v24.0/17841400000000002/insights?metric=reach&period=day")).status, 200);
    assert_eq!(get(&graph.url("/v24.0/me/accounts")).status, 500);
    assert_eq!(get(&graph.url("/v24.0/me/accounts")).status, 500);
    assert_eq!(get(&graph.url("/v24.0/me/accounts")).status, 200);
}

#[test]
fn slow_responses_do_not_block_others() {
    let plan = FaultPlan::none().combine(FaultPlan::slow(1.0, 0, Duration::from_millis(800)));
    let slow = start(DatasetSpec::small(), FakeOptions { faults: plan, ..FakeOptions::default() });
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| assert_eq!(get(&slow.url("/v24.0/me")).status, 200));
        }
    });
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(800));
    assert!(elapsed < Duration::from_millis(2000), "served concurrently: {elapsed:?}");

    let latency =
        start(DatasetSpec::small(), FakeOptions { latency: Duration::from_millis(150), ..FakeOptions::default() });
    let started = Instant::now();
    assert_eq!(get(&latency.url("/v24.0/me")).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(latency.requests()[0].duration >= Duration::from_millis(150));
}

#[test]
fn request_log_records_everything() {
    let graph = start_small();
    get(&graph.url("/v24.0/me/accounts?limit=2&fields=id"));
    get_with_token(&graph.url("/v24.0/me"), Some("bad"));
    let log = graph.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, "/v24.0/me/accounts");
    assert_eq!(log[0].query_param("limit"), Some("2"));
    assert_eq!(log[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!((log[0].status, log[0].batch_ops), (200, 0));
    assert_eq!(log[1].status, 400);
    graph.clear_requests();
    assert!(graph.requests().is_empty());
}

/// Meta's usage headers by default: none for the first calls ("once enough calls have been
/// made"), then only the one that fits the token: `X-App-Usage` for a user token,
/// `X-Business-Use-Case-Usage` for a Page (or Instagram) token. Every call counts, each batch
/// operation included.
#[test]
fn usage_headers_come_late_and_fit_the_token() {
    use fake_graph::usage_headers::DEFAULT_QUIET_CALLS;
    use fake_graph::{TokenKind, TokenOptions};
    let graph = start_small();
    let ig = graph.dataset().accounts()[0].ig_user_id.clone();
    let url = graph.url(&format!("/v24.0/{ig}?fields=id"));
    for _ in 0..DEFAULT_QUIET_CALLS {
        let reply = get(&url);
        assert_eq!(reply.status, 200);
        assert!(reply.header("X-App-Usage").is_none() && reply.header("X-Business-Use-Case-Usage").is_none());
    }
    let user = get(&url);
    assert!(user.header_json("X-App-Usage")["call_count"].is_u64());
    assert!(user.header("X-Business-Use-Case-Usage").is_none(), "a user token gets X-App-Usage only");

    let page_token = start(
        DatasetSpec::small(),
        FakeOptions { tokens: TokenOptions { kind: TokenKind::Page, ..TokenOptions::default() }, ..Default::default() },
    );
    let ops: Vec<String> = (0..DEFAULT_QUIET_CALLS).map(|_| format!("{ig}?fields=id")).collect();
    let quiet = post_form(&page_token.url("/v24.0/"), &[("batch", &batch_json(&ops))]);
    assert!(quiet.header("X-App-Usage").is_none() && quiet.header("X-Business-Use-Case-Usage").is_none());
    let page = get(&page_token.url(&format!("/v24.0/{ig}?fields=id")));
    assert!(page.header("X-App-Usage").is_none(), "a Page token gets X-Business-Use-Case-Usage only");
    assert_eq!(page.header_json("X-Business-Use-Case-Usage")[&ig][0]["type"], "instagram");
}
