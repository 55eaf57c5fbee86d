//! Pacing with the usage headers Meta really sends. Meta adds `X-App-Usage` and
//! `X-Business-Use-Case-Usage` only "once enough calls have been made", and a token often gets
//! only one of them (user tokens `X-App-Usage`, Page and Instagram tokens the business use-case
//! header). Whatever the fake sends (none, one, both), the host must still protect the read:
//! - with the header that shows a limit filling up, the host pauses before Meta throttles;
//! - without it, Meta's throttle (80002 for an account, 4 for the app) is waited out and the
//!   same request is sent again, so the read loses nothing;
//! - with usage far from any limit, nothing waits, whichever headers come.
//!
//! The fake counts usage and throttles the same way in every case; only what it tells differs.

mod common;

use common::*;
use fake_graph::{AppBudgetReport, DatasetSpec, FakeOptions, FaultPlan, UsageHeaderSet, UsageHeaders, UsageModel};
use serde_json::{Value, json};
use std::time::Duration;

const SETS: [UsageHeaderSet; 4] =
    [UsageHeaderSet::Neither, UsageHeaderSet::AppOnly, UsageHeaderSet::BusinessUseCaseOnly, UsageHeaderSet::Both];

/// The records of a read, sorted: a lane held up by a long wait gives way to the others
/// (`scheduler::STUCK`), so waits may change the order, never the records.
fn records(r: &Run) -> Vec<Value> {
    let mut v: Vec<Value> = r
        .all_records()
        .into_iter()
        .map(|m| json!({"stream": m["record"]["stream"], "data": m["record"]["data"]}))
        .collect();
    v.sort_by_key(|m| m.to_string());
    v
}

/// The records of `r` equal those of `clean` (a difference is named by id).
fn assert_same_records(r: &Run, clean: &Run, case: &str) {
    let (got, want) = (records(r), records(clean));
    if got != want {
        let key = |v: &Value| format!("{} {}", v["stream"], v["data"]["id"]);
        let missing: Vec<String> = want.iter().filter(|v| !got.contains(v)).map(key).collect();
        let extra: Vec<String> = got.iter().filter(|v| !want.contains(v)).map(key).collect();
        panic!(
            "{case}: {} records instead of {}; missing {missing:?}, unexpected {extra:?}; logs: {:#?}",
            got.len(),
            want.len(),
            r.logs()
        );
    }
}

fn rate_limited(r: &Run) -> usize {
    r.of_type("TRACE")
        .into_iter()
        .filter(|t| t["trace"]["stream_status"]["reasons"][0]["type"] == "RATE_LIMITED")
        .count()
}

/// What a read did about rate limits.
#[derive(Debug)]
struct Waits {
    /// Throttles Meta answered (each waited out, then the request sent again).
    throttled: usize,
    /// Pauses the host took on its own, from a usage header near the limit.
    paused: usize,
    /// Waits for room in the call budget.
    budget: usize,
    rate_limited: usize,
}

/// A read of `streams` of the small dataset, one post per page (so each account makes a dozen
/// calls), against a fake whose usage model is `faults` and that tells it with `headers`, on a
/// clock `scale` times faster.
fn read(headers: UsageHeaders, faults: FaultPlan, scale: u32, streams: &[&str]) -> (Run, Waits, AppBudgetReport) {
    let options = FakeOptions { page_size_cap: 1, faults, usage_headers: headers, ..FakeOptions::default() };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    // Waits run at the clock's scale, but the cap on them is nominal: the app limit below needs
    // hours of (scaled) waiting.
    let (config, catalog) = (sb.config(json!({"rate_limit_max_wait_minutes": 1440})), sb.catalog(streams));
    let r = run_env(
        &["read", "--config", &config, "--catalog", &catalog],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_TIME_SCALE", &scale.to_string())],
    );
    let count = |needle: &str| r.logs().iter().filter(|l| l.contains(needle)).count();
    let waits = Waits {
        throttled: count("Meta throttled"),
        paused: count("of the rate limit used; pausing"),
        budget: count("wait for room"),
        rate_limited: rate_limited(&r),
    };
    (r, waits, sb.fake.app_budget_report())
}

fn clean_read(streams: &[&str]) -> Run {
    let (r, waits, _) = read(UsageHeaders::both(), FaultPlan::none(), 1000, streams);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!((waits.throttled, waits.paused, waits.rate_limited), (0, 0, 0), "{waits:?}");
    r
}

/// An idle account gauge of the fake drops back to 0 % after this long (real time): longer
/// than the spacing and the throttle backoff between calls at 1000× (at most 20 ms), shorter
/// than a pause (2 minutes: 120 ms).
const RECOVERY: Duration = Duration::from_millis(60);

/// An account's limit that fills up: its 10th call reaches 96 % (the host pauses from 95 %),
/// the 11th would pass 100 % and is refused, with the next two (then the gauge resets); an idle
/// gauge recovers after [`RECOVERY`].
fn account_filling() -> FaultPlan {
    FaultPlan::none().with_usage(UsageModel {
        account_percent_per_call: 9.6,
        throttle_calls: 3,
        regain_minutes: 1,
        recover_after: Some(RECOVERY),
        ..UsageModel::default()
    })
}

/// An account's business use-case limit (80002): with `X-Business-Use-Case-Usage` the host
/// pauses before it; without it (none, or `X-App-Usage` only) Meta's throttles are waited out
/// and retried. Every way, the read has every post.
#[test]
fn an_account_limit_is_respected_with_any_headers() {
    let clean = clean_read(&["media"]);
    for set in SETS {
        let (r, waits, _) = read(UsageHeaders::only(set), account_filling(), 1000, &["media"]);
        assert_eq!(r.code, 0, "{set:?}: {}", r.stdout);
        assert_same_records(&r, &clean, &format!("{set:?}"));
        assert!(waits.rate_limited >= 1, "{set:?}: the wait is reported as RATE_LIMITED: {waits:?}");
        let sees_accounts = matches!(set, UsageHeaderSet::BusinessUseCaseOnly | UsageHeaderSet::Both);
        if sees_accounts {
            assert_eq!(waits.throttled, 0, "{set:?}: paused before Meta throttled: {waits:?}");
            assert!(waits.paused >= 1, "{set:?}: {waits:?}");
        } else {
            assert!(waits.throttled >= 1, "{set:?}: Meta's 80002 was met and waited out: {waits:?}");
            let logs = r.logs();
            let scoped = |l: &&str| l.contains("Meta throttled") && l.contains("the limit of account");
            assert!(logs.iter().any(scoped), "{set:?}: the throttle holds back its account: {logs:#?}");
        }
        eprintln!("{set:?}: {waits:?}");
    }
}

/// The app's limit (code 4), as Meta applies it: a rolling hour that holds 8 calls, every call
/// counted (refused ones too). With `X-App-Usage` the host keeps its calls within the limit
/// (the call budget and the pauses); without it (none, or the business use-case header only)
/// it meets Meta's throttles, waits them out and sends the same requests again. Meta's default,
/// no header for the first calls and then only the one of a user token, is covered too. Every
/// way, the read has every post.
#[test]
fn the_app_limit_is_respected_with_any_headers() {
    let clean = clean_read(&["media"]);
    // An hour lasts 100 ms at 36,000×.
    let limit = FaultPlan::app_budget(8, Duration::from_millis(100));
    let cases = SETS.into_iter().map(UsageHeaders::only).chain([UsageHeaders::default()]);
    for headers in cases {
        let (r, waits, report) = read(headers, limit.clone(), 36_000, &["media"]);
        assert_eq!(r.code, 0, "{headers:?}: {}", r.stdout);
        assert_same_records(&r, &clean, &format!("{headers:?}"));
        assert!(waits.rate_limited >= 1, "{headers:?}: {waits:?}");
        assert!(report.calls - report.refused > 16, "{headers:?}: the read needs several hours' calls: {report:?}");
        match headers.set {
            UsageHeaderSet::AppOnly | UsageHeaderSet::Both => {
                assert!(report.refused <= 2, "{headers:?}: kept within the limit: {report:?} {waits:?}");
                assert!(waits.budget + waits.paused >= 1, "{headers:?}: {waits:?}");
            }
            _ => {
                assert!(waits.throttled >= 1, "{headers:?}: Meta's code 4 was met and waited out: {waits:?}");
                let logs = r.logs();
                assert!(
                    logs.iter().any(|l| l.contains("Meta throttled") && l.contains("the app's limit")),
                    "{logs:#?}"
                );
            }
        }
        eprintln!("{headers:?}: {waits:?} {report:?}");
    }
}

/// Far from every limit, whatever headers come (none, one, both, late or from the first call),
/// the host never waits: no pause, no throttle, no wait for room, no RATE_LIMITED status.
#[test]
fn nothing_waits_needlessly() {
    let clean = clean_read(ALL_STREAMS);
    let cases = SETS.into_iter().map(UsageHeaders::only).chain([UsageHeaders::default()]);
    for headers in cases {
        let (r, waits, _) = read(headers, FaultPlan::none(), 1000, ALL_STREAMS);
        assert_eq!(r.code, 0, "{headers:?}: {}", r.stdout);
        assert_same_records(&r, &clean, &format!("{headers:?}"));
        assert_eq!(
            (waits.throttled, waits.paused, waits.budget, waits.rate_limited),
            (0, 0, 0, 0),
            "{headers:?}: {waits:?}"
        );
    }
}
