//! Pacing by Graph calls, not HTTP requests. The fake enforces Meta's app-level limit as Meta
//! applies it: every call, each batch operation included, counts in a rolling window.
//! - Here the limit is 200 calls. Its one-hour window runs at the test clock's scale, so it lasts
//!   one second.
//! - A full read that needs several windows' worth of calls stays at or under 100 %, with at
//!   most a few refused calls, in close to the time the limit allows. It gives the same records
//!   as a read with no limit.
//! - The same read with the budget off (`SOURCE_INSTAGRAM_CALL_BUDGET=0`) passes 100 %, so the
//!   test can tell the budget works.

mod common;

use common::*;
use fake_graph::{AppBudgetReport, DatasetSpec, FakeOptions, FaultPlan};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CALLS: u32 = 200;
/// One hour (Meta's window) at the clock scale below.
const WINDOW: Duration = Duration::from_secs(1);
const SCALE: &str = "3600";
const STREAMS: &[&str] = &["users", "media", "media_insights", "stories", "story_insights", "user_insights"];

fn records(r: &Run) -> Vec<Value> {
    let mut v: Vec<Value> = r.all_records().into_iter().map(|m| without_emitted_at(m.clone())).collect();
    v.sort_by_key(|m| m.to_string());
    v
}

/// A full read against a fake enforcing the app limit, with the call budget on or off.
fn limited_read(budget_on: bool) -> (Run, AppBudgetReport, Duration) {
    let options = FakeOptions {
        latency: Duration::from_millis(20),
        faults: FaultPlan::app_budget(CALLS, WINDOW),
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::bench(), options);
    // Several windows of waiting are several hours at this clock: give the read a day, so the
    // cap on waiting (`rate_limit_max_wait_minutes`, tested in wait_cap.rs) stays out of the way.
    let (config, catalog) = (sb.config(json!({"rate_limit_max_wait_minutes": 1440})), sb.catalog(STREAMS));
    let started = Instant::now();
    let r = run_env(
        &["read", "--config", &config, "--catalog", &catalog],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_TIME_SCALE", SCALE), ("SOURCE_INSTAGRAM_CALL_BUDGET", if budget_on { "1" } else { "0" })],
    );
    let took = started.elapsed();
    (r, sb.fake.app_budget_report(), took)
}

#[test]
fn a_read_stays_under_the_app_limit_in_close_to_the_time_it_allows() {
    let unlimited = Sandbox::start(DatasetSpec::bench());
    let plain = unlimited.read(&unlimited.config(json!({})), &unlimited.catalog(STREAMS), None);
    assert_eq!(plain.code, 0, "{}", plain.stdout);

    let (r, report, took) = limited_read(true);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records(&r), records(&plain), "the same records as without a limit");
    let calls = report.calls - report.refused;
    assert!(calls as u32 > 3 * CALLS, "the read needs several windows ({calls} calls)");
    assert!(report.peak_percent <= 100.0, "usage peaked at {:.0} %", report.peak_percent);
    assert!(report.refused <= 3, "{} calls refused", report.refused);
    // The limit allows CALLS calls at once and CALLS more each window after that. The budget
    // aims at 90 % and sends whole batches of up to 50, so it fills about 3/4 of each window.
    let allowed = WINDOW.mul_f64((calls as f64 - CALLS as f64) / CALLS as f64);
    assert!(took < allowed * 2 + Duration::from_secs(1), "took {took:?}; the limit allows {allowed:?}");
    let waits = r.logs().into_iter().filter(|l| l.contains("wait for room")).count();
    assert!((1..=8).contains(&waits), "a wait for room is told once per full window ({waits} times)");
    eprintln!(
        "budget on: {calls} calls, peak {:.0} %, {} refused, {took:?} (the limit allows {allowed:?})",
        report.peak_percent, report.refused
    );

    // Without the budget, four batches of 50 land before any usage header can slow the read.
    let (_, report, took) = limited_read(false);
    eprintln!(
        "budget off: peak {:.0} %, {} of {} calls refused, {took:?}",
        report.peak_percent, report.refused, report.calls
    );
    assert!(report.peak_percent > 100.0, "without the budget usage passes 100 % ({:.0} %)", report.peak_percent);
}
