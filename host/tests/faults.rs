//! Network failure semantics, end to end: throttling, transient failures and usage near the
//! limit are handled by the host (with a sped-up clock), so the guest sees clean answers.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan, GraphError, UsageHeaders, UsageModel};
use serde_json::{Value, json};
use std::time::Duration;

fn records_without_time(r: &Run) -> Vec<Value> {
    r.all_records().into_iter().map(|m| json!({"stream": m["record"]["stream"], "data": m["record"]["data"]})).collect()
}

fn rate_limited_statuses(r: &Run) -> usize {
    r.of_type("TRACE")
        .into_iter()
        .filter(|t| {
            t["trace"]["stream_status"]["status"] == "RUNNING"
                && t["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED"
        })
        .count()
}

/// With 5 % of calls throttled and 2 % failing transiently (the same calls on every run,
/// inside batches too), a full read emits exactly the records of a clean read and exits 0.
#[test]
fn throttles_and_transient_failures_lose_nothing() {
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    assert_eq!(baseline.code, 0);

    let faults = FaultPlan::throttle(0.05, 11).combine(FaultPlan::transient(0.02, 12));
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records_without_time(&r), records_without_time(&baseline));
    let (calls, clean_calls) = (sb.fake.requests().len(), clean.fake.requests().len());
    assert!(calls > clean_calls, "failures were injected and retried ({calls} vs {clean_calls} requests)");
    assert!(rate_limited_statuses(&r) > 0, "waiting on throttles is reported as RATE_LIMITED");
    let logs = r.logs();
    assert!(logs.iter().any(|l| l.contains("throttled")), "{logs:#?}");
}

/// Usage headers climbing toward 100 % make the host pause before Meta throttles: no
/// request is ever refused, and the pause is logged and reported as RATE_LIMITED.
#[test]
fn usage_near_the_limit_pauses_before_throttling() {
    let usage = UsageModel {
        // The 10th call of an account reaches 96 % (the host pauses from 95 %); the 11th
        // would pass 100 % and be refused. Each account makes 11 (its first page comes with
        // the account list).
        account_percent_per_call: 9.6,
        throttle_calls: 3,
        regain_minutes: 1,
        recover_after: Some(Duration::from_millis(300)),
        ..UsageModel::default()
    };
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions {
            page_size_cap: 1,
            faults: FaultPlan::none().with_usage(usage),
            usage_headers: UsageHeaders::both(),
            ..FakeOptions::default()
        },
    );
    let args_cfg = sb.config(json!({}));
    let cat = sb.catalog(&["media"]);
    // 200× faster: a 2-minute pause takes 600 ms, longer than the fake's 300 ms recovery, while
    // the spacing between calls (at most 20 s, 100 ms real) stays well below it.
    let r = run_env(
        &["read", "--config", &args_cfg, "--catalog", &cat],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_TIME_SCALE", "200")],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let posts: usize = sb.dataset().accounts().iter().map(|a| a.media.len()).sum();
    assert_eq!(r.records("media").len(), posts);
    let refused: Vec<_> = sb.fake.requests().into_iter().filter(|q| q.status != 200).collect();
    assert!(refused.is_empty(), "throttled before pausing: {refused:?}");
    let pauses = r.logs().iter().filter(|m| m.contains("pausing requests")).count();
    assert!(pauses >= 1, "{}", r.stdout);
    assert!(rate_limited_statuses(&r) >= 1);
}

/// A throttle that outlasts the configured cap ends the read with a transient_error, after
/// the state of the work already done.
#[test]
fn throttle_beyond_the_cap_ends_with_state_and_transient_error() {
    let second = DatasetSpec::small();
    let data = fake_graph::Dataset::generate(&second);
    let ig2 = data.accounts()[1].ig_user_id.clone();
    let faults = FaultPlan::none().force_graph_error(&format!("/{ig2}/media"), &GraphError::throttled(80002));
    // Pages of 5: the second account's first page comes with the account list, its second
    // (an operation on its media edge) is throttled.
    let sb = Sandbox::start_with(second, FakeOptions { faults, page_size_cap: 5, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({"rate_limit_max_wait_minutes": 5})), &sb.catalog(&["users", "media"]), None);
    assert_ne!(r.code, 0);
    let e = r.error().expect("a TRACE ERROR");
    assert_eq!(e["failure_type"], "transient_error", "{e}");
    assert!(e["message"].as_str().unwrap().contains("rate limit"), "{e}");
    // The first account was read and checkpointed before the error.
    let states = r.of_type("STATE");
    assert!(states.iter().any(|s| s["state"]["stream"]["stream_descriptor"]["name"] == "media"));
    let error_pos = r.messages.iter().position(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR").unwrap();
    let last_state = r.messages.iter().rposition(|m| m["type"] == "STATE").unwrap();
    assert!(last_state < error_pos);
    assert!(rate_limited_statuses(&r) >= 1);
    assert!(r.logs().iter().any(|m| m.contains("cap")));
}

/// A TCP proxy in front of the fake that breaks some connections on purpose: every `every`th
/// connection is either closed before any answer (a reset) or answered with a truncated body
/// (a `Content-Length` longer than what is sent before the close). Others are relayed.
struct FlakyProxy {
    addr: std::net::SocketAddr,
    upstream: std::sync::Arc<std::sync::OnceLock<String>>,
    faults: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyProxy {
    fn start(every: usize) -> FlakyProxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
        let faults = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (target, counter) = (upstream.clone(), faults.clone());
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(mut client) = client else { continue };
                if n % every == every - 1 {
                    let injected = counter.fetch_add(1, Ordering::Relaxed);
                    // Read the request head so the client has finished sending.
                    let mut buf = [0u8; 8192];
                    let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
                    let _ = client.read(&mut buf);
                    if injected % 2 == 1 {
                        let _ = client.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n{\"data\":[{\"id\":",
                        );
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let upstream = target.get().expect("upstream set").trim_start_matches("http://").to_string();
                std::thread::spawn(move || {
                    let Ok(mut server) = TcpStream::connect(&upstream) else { return };
                    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = up.join();
                });
            }
        });
        FlakyProxy { addr, upstream, faults }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Connections reset before an answer and bodies cut short are retried by the host as
/// transient failures: the read emits exactly the records of a clean read.
#[test]
fn resets_and_truncated_bodies_are_retried() {
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    assert_eq!(baseline.code, 0);

    let proxy = FlakyProxy::start(3);
    // Paging links point at the proxy too: it is the only origin the connector may reach.
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { paging_base_url: Some(proxy.url()), ..FakeOptions::default() },
    );
    proxy.upstream.set(sb.fake.base_url()).unwrap();
    // One connection per request, so the proxy's every-3rd-connection faults hit requests
    // (with keep-alive a whole read needs only a few connections).
    let (config, catalog) = (sb.config(json!({"api_base_url": proxy.url()})), sb.catalog(ALL_STREAMS));
    let r = run_env(
        &["read", "--config", &config, "--catalog", &catalog],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_TIME_SCALE", "60000"), ("SOURCE_INSTAGRAM_KEEPALIVE", "0")],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records_without_time(&r), records_without_time(&baseline));
    let injected = proxy.faults.load(std::sync::atomic::Ordering::Relaxed);
    assert!(injected >= 4, "resets and truncations were injected ({injected})");
    let transient: Vec<&str> = r.logs().into_iter().filter(|m| m.contains("Transient failure")).collect();
    assert!(!transient.is_empty(), "{}", r.stdout);
    assert!(transient.iter().any(|m| m.contains("closed the connection before answering")), "a reset: {transient:#?}");
    assert!(transient.iter().any(|m| m.contains("ended before it was complete")), "a truncated body: {transient:#?}");
}
