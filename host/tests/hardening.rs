//! Hardening against a hostile network and hostile input, end to end through the real host
//! and component: no request or command hangs, no secret is printed whatever the config's
//! shape, run-many rejects bad jobs one by one, and messages name the problem in plain words.

mod common;

use common::hostile::{Behaviour, HostileServer};
use common::*;
use fake_graph::DatasetSpec;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SECRET: &str = "EAAB-hardening-secret-token-0123456789";

/// Write `value` as a file in a fresh temp dir (kept alive by the returned guard).
fn file(dir: &tempfile::TempDir, name: &str, value: &Value) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, value.to_string()).unwrap();
    p.to_string_lossy().into_owned()
}

fn run_with(args: &[&str], env: &[(&str, &str)]) -> (Run, Duration) {
    // Compile the component first: only the command itself is timed.
    warm_cache();
    let started = Instant::now();
    let mut all = vec![("SOURCE_INSTAGRAM_TIME_SCALE", "60000")];
    all.extend_from_slice(env);
    let r = run_env(args, None, SECRET, &all);
    (r, started.elapsed())
}

fn assert_no_debug_text(message: &str) {
    for bad in ["ErrorCode::", "Payload {", "Some(\"", "DnsErrorPayload"] {
        assert!(!message.contains(bad), "Rust debug text in a message: {message}");
    }
}

/// A server that sends its body a byte at a time is cut off by the total time limit of a
/// request; retries are bounded and the failure says why, in plain words.
#[test]
fn a_trickling_body_is_cut_off() {
    let server = HostileServer::start(Behaviour::Trickle { every: Duration::from_millis(20) });
    let dir = tempfile::tempdir().unwrap();
    let config = file(&dir, "c.json", &json!({"access_token": SECRET, "api_base_url": server.base_url()}));
    let (r, took) = run_with(&["check", "--config", &config], &[("SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS", "0.5")]);
    assert!(took < Duration::from_secs(20), "check took {took:?}");
    let error = r.error().unwrap_or_else(|| panic!("a TRACE ERROR: {}", r.stdout));
    assert_eq!(error["failure_type"], "transient_error", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("no complete answer within 0.5 s"), "{message}");
    assert_no_debug_text(message);
    assert!((2..=6).contains(&server.connections()), "bounded retries: {} connections", server.connections());
    assert!(r.logs().iter().any(|l| l.contains("Giving up on")), "{:#?}", r.logs());
}

/// Each retry of a trickled request has only what is left of the request's retry budget: with
/// attempts limited to 3 s and a budget of 5.5 s (README: 120 s and 3 min by default), `check`
/// gives up after 2 attempts and 4.5 s (not 6 s), saying the last attempt had what was left.
#[test]
fn a_trickling_body_costs_a_request_its_retry_budget_at_most() {
    let server = HostileServer::start(Behaviour::Trickle { every: Duration::from_millis(20) });
    let dir = tempfile::tempdir().unwrap();
    let config = file(&dir, "c.json", &json!({"access_token": SECRET, "api_base_url": server.base_url()}));
    let (r, took) = run_with(
        &["check", "--config", &config],
        &[("SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS", "3"), ("SOURCE_INSTAGRAM_RETRY_BUDGET_SECS", "5.5")],
    );
    let error = r.error().unwrap_or_else(|| panic!("a TRACE ERROR: {}", r.stdout));
    assert_eq!(error["failure_type"], "transient_error", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("what was left of the 5.5 s one request may spend on failed attempts"), "{message}");
    assert_eq!(server.connections(), 2, "one retry");
    // 3 s, a backoff of 1 s ± 20 % on the test clock (1/60000 of it in real time), then the
    // 1.3 to 1.7 s left.
    assert!(took >= Duration::from_millis(4200) && took < Duration::from_millis(5400), "check took {took:?}");
}

/// A server that accepts and never answers fails the request after its first-byte limit and
/// a bounded number of retries, not after half an hour.
#[test]
fn a_silent_server_fails_fast() {
    let server = HostileServer::start(Behaviour::Silent);
    let dir = tempfile::tempdir().unwrap();
    let config = file(&dir, "c.json", &json!({"access_token": SECRET, "api_base_url": server.base_url()}));
    let (r, took) = run_with(&["check", "--config", &config], &[("SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS", "0.5")]);
    assert!(took < Duration::from_secs(20), "check took {took:?}");
    let message = r.error().expect("a TRACE ERROR")["message"].as_str().unwrap().to_string();
    assert!(message.contains("Could not reach the Graph API"), "{message}");
    assert_no_debug_text(&message);
    assert!(server.connections() <= 6, "{} connections", server.connections());
}

/// The execution deadline stops a command wherever it waits: here on a request that would
/// take minutes. The streams it started are reported INCOMPLETE.
#[test]
fn the_deadline_stops_a_command_waiting_on_the_network() {
    let server = HostileServer::start(Behaviour::Silent);
    let dir = tempfile::tempdir().unwrap();
    let config = file(&dir, "c.json", &json!({"access_token": SECRET, "api_base_url": server.base_url()}));
    let catalog = file(
        &dir,
        "cat.json",
        &json!({"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                             "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let (r, took) =
        run_with(&["read", "--config", &config, "--catalog", &catalog], &[("SOURCE_INSTAGRAM_DEADLINE_SECS", "1.5")]);
    assert!(took < Duration::from_secs(10), "read took {took:?}");
    assert_eq!(r.code, 1);
    let error = r.error().expect("a TRACE ERROR");
    assert_eq!(error["failure_type"], "system_error");
    assert!(error["message"].as_str().unwrap().contains("execution deadline of 1.5 s"), "{error}");
}

/// In run-many, a tenant stuck on the network ends at its own deadline; the other tenants
/// finish as usual and the summary is written right after.
#[test]
fn a_stuck_tenant_does_not_hold_back_the_batch() {
    warm_cache();
    let sb = Sandbox::start(DatasetSpec::small());
    let server = HostileServer::start(Behaviour::Silent);
    let dir = tempfile::tempdir().unwrap();
    let good = json!({"access_token": sb.token, "api_base_url": sb.fake.base_url()});
    let stuck = json!({"access_token": SECRET, "api_base_url": server.base_url()});
    let jobs = [
        json!({"id": "stuck", "command": "check", "config": stuck, "deadline_secs": 1.5}),
        json!({"id": "fine", "command": "check", "config": good}),
    ];
    let jobs_file = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs_file, jobs.iter().map(|j| format!("{j}\n")).collect::<String>()).unwrap();
    let out = dir.path().join("out");
    let started = Instant::now();
    let status = std::process::Command::new(BIN)
        .args(["run-many", "--jobs", jobs_file.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_TIME_SCALE", "60000")
        .status()
        .unwrap();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results[0]["outcome"], "failed");
    assert!(results[0]["message"].as_str().unwrap().contains("execution deadline"), "{}", results[0]);
    assert_eq!(results[1]["outcome"], "succeeded", "{}", results[1]);
    assert!(!std::fs::read_to_string(out.join("summary.json")).unwrap().contains(SECRET));
}
