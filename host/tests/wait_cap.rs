//! `rate_limit_max_wait_minutes` bounds every wait of a read: the call budget, usage pacing,
//! throttle pauses. A wait that would pass it ends the read at once with a `transient_error`
//! (the records and checkpoints already written stand), with the call budget on or off. An
//! outage (every batch answered with an HTML 502) ends the read after the retries instead of
//! waiting. The fake holds the app's usage figure as Meta reports it (app-wide), and at 100 %
//! refuses every call with code 4, as Meta does.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan, UsageHeaders};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const STREAMS: &[&str] = &["users", "media", "media_insights", "stories", "story_insights"];

fn timed_read(spec: DatasetSpec, options: FakeOptions, extra: Value, env: &[(&str, &str)]) -> (Run, Duration) {
    let sb = Sandbox::start_with(spec, options);
    let (config, catalog) = (sb.config(extra), sb.catalog(STREAMS));
    let started = Instant::now();
    let r = run_env(&["read", "--config", &config, "--catalog", &catalog], Some(&sb.now), &sb.token, env);
    (r, started.elapsed())
}

fn failure_type(r: &Run) -> String {
    r.error().map(|e| e["failure_type"].as_str().unwrap_or_default().to_string()).unwrap_or_default()
}

/// Meta reports 100 % for the app on every answer and refuses every call (regain: 1 minute);
/// with a cap of 1 minute the read waits once (1 minute) and then stops, where it used to go
/// on at about one call an hour. At ×60 a minute is a second.
#[test]
fn app_usage_held_at_100_percent_ends_at_the_cap_with_the_budget_on_or_off() {
    for budget in ["1", "0"] {
        let options = FakeOptions { faults: FaultPlan::app_usage_held(100.0, 1), ..FakeOptions::default() };
        let env = [("SOURCE_INSTAGRAM_TIME_SCALE", "60"), ("SOURCE_INSTAGRAM_CALL_BUDGET", budget)];
        let (r, took) = timed_read(DatasetSpec::small(), options, json!({"rate_limit_max_wait_minutes": 1}), &env);
        assert_ne!(r.code, 0, "budget {budget}: {}", r.stdout);
        assert_eq!(failure_type(&r), "transient_error", "budget {budget}: {}", r.stdout);
        let error = r.error().unwrap()["message"].as_str().unwrap().to_string();
        assert!(error.contains("rate_limit_max_wait_minutes"), "budget {budget}: {error}");
        assert!(
            took < Duration::from_secs(20),
            "budget {budget}: the read took {took:?} (the cap is 1 s at this clock)"
        );
        assert!(r.stdout.lines().any(|l| l.contains("\"INCOMPLETE\"")), "budget {budget}: streams end INCOMPLETE");
    }
}

/// Every batch request answers an HTML 502 (plain requests still work): each batch is retried
/// as transient, and two requests in a row failing after all their retries end the read with a
/// `transient_error` naming the outage, instead of waiting on.
#[test]
fn an_outage_on_every_batch_ends_the_read_after_the_retries() {
    let html =
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>";
    let options = FakeOptions { faults: FaultPlan::none().force_batch_error(502, html), ..FakeOptions::default() };
    let (r, took) = timed_read(DatasetSpec::small(), options, json!({}), &[("SOURCE_INSTAGRAM_TIME_SCALE", "600")]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(failure_type(&r), "transient_error", "{}", r.stdout);
    assert!(r.stdout.contains("in a row after all their retries"), "the outage is named: {}", r.stdout);
    assert!(took < Duration::from_secs(30), "the read took {took:?}");
    assert!(!r.records("users").is_empty(), "what plain requests read stands");
}

/// Meta reports 85 % for the app on every answer: the app's other users hold it there (the
/// figure is app-wide), and this read's calls barely move it. The budget learns from the
/// readings' differences that its calls cost little, so the usage pacing spaces calls out
/// and nothing waits for room: the read ends with every record, where it used to wait for its
/// own calls to leave Meta's hour (a minute at ×60).
#[test]
fn app_usage_held_at_85_percent_spaces_calls_instead_of_holding_the_read() {
    let spec = DatasetSpec { media_per_account: 120, ..DatasetSpec::small() };
    let clean = {
        let sb = Sandbox::start(spec.clone());
        sb.read(&sb.config(json!({})), &sb.catalog(STREAMS), None)
    };
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    let options = FakeOptions {
        faults: FaultPlan::app_usage_held(85.0, 1),
        usage_headers: UsageHeaders::both(),
        ..FakeOptions::default()
    };
    let (r, took) = timed_read(spec, options, json!({}), &[("SOURCE_INSTAGRAM_TIME_SCALE", "60")]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let sorted = |r: &Run| {
        let mut v: Vec<Value> = r.all_records().into_iter().map(|m| without_emitted_at(m.clone())).collect();
        v.sort_by_key(|m| m.to_string());
        v
    };
    assert_eq!(sorted(&r), sorted(&clean), "the same records as a read far from any limit");
    let logs = r.logs();
    assert!(!logs.iter().any(|l| l.contains("wait for room")), "nothing waits for room: {logs:#?}");
    assert!(took < Duration::from_secs(40), "the read took {took:?}; an hour is a minute at this clock");
    eprintln!("app usage held at 85 %: {} records in {took:?}", r.all_records().len());
}
