//! `rate_limit_max_wait_minutes` bounds every wait of a read: the call budget, usage pacing,
//! throttle pauses. A wait that would pass it ends the read at once with a `transient_error`
//! (the records and checkpoints already written stand), with the call budget on or off. An
//! outage (every batch answered with an HTML 502) ends the read after the retries instead of
//! waiting. The fake holds the app's usage figure as Meta reports it (app-wide), and at 100 %
//! refuses every call with code 4, as Meta does.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan};
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
