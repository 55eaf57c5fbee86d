//! Issue 25, the account data of 2026, end to end through the real host and component against
//! the fake: `user_insights_breakdowns` (full, incremental, a breakdown Meta does not serve)
//! and the audience demographics of both timeframes, dated with the day they were read. Every
//! value is checked against what the fake says it must be.

mod common;

use common::checks::*;
use common::*;
use fake_graph::day_end_time;
use fake_graph::insights::{
    account_daily_value, demographic_results, media_metric_value, total_value_breakdown_results,
};
use fake_graph::{DatasetSpec, FakeOptions, Quirks};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The account breakdowns the issue asks for: (breakdown, metrics).
const ACCOUNT_BREAKDOWNS: &[(&str, &[&str])] = &[
    ("follower_type", &["views"]),
    ("media_product_type", &["views", "total_interactions", "likes", "comments", "shares", "saves", "reposts"]),
    ("follow_type", &["follows_and_unfollows"]),
    ("contact_button_type", &["profile_links_taps"]),
];

fn date(day: chrono::NaiveDate) -> String {
    day_end_time(day).format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// The records `user_insights_breakdowns` must hold for `days` (index into the insight days)
/// of every account: (account, date, metric, breakdown, dimension value) → value.
fn expected_breakdowns(
    ds: &fake_graph::Dataset,
    days: std::ops::RangeFrom<usize>,
) -> BTreeMap<(String, String, String, String, String), Value> {
    let mut out = BTreeMap::new();
    let all = ds.insight_days();
    for account in ds.accounts() {
        for day in &all[days.clone()] {
            for (breakdown, metrics) in ACCOUNT_BREAKDOWNS {
                for metric in *metrics {
                    let total = account_daily_value(ds, account, metric, *day).unwrap();
                    for (value, part) in total_value_breakdown_results(ds, account, metric, breakdown, total) {
                        let key =
                            (account.ig_user_id.clone(), date(*day), metric.to_string(), breakdown.to_string(), value);
                        out.insert(key, json!(part));
                    }
                }
            }
        }
    }
    out
}

fn breakdown_records(r: &Run) -> BTreeMap<(String, String, String, String, String), Value> {
    let s = |v: &Value| v.as_str().unwrap().to_string();
    r.records("user_insights_breakdowns")
        .into_iter()
        .map(|x| {
            let key = (
                s(&x["business_account_id"]),
                s(&x["date"]),
                s(&x["metric"]),
                s(&x["breakdown"]),
                s(&x["dimension_value"]),
            );
            (key, x["value"].clone())
        })
        .collect()
}

/// `user_insights_breakdowns` holds, for every account and day, each metric by each of its
/// breakdowns with the fake's values (the parts of that day's total); selected alone, its
/// read asks only the daily reach series (to find the days) and the breakdowns, one request
/// per account, day and breakdown.
#[test]
fn account_breakdowns_with_known_answers() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_insights_breakdowns"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "user_insights_breakdowns");
    assert!(complete(&r, "user_insights_breakdowns"));
    let ds = sb.dataset();
    assert_eq!(breakdown_records(&r), expected_breakdowns(ds, 0..));
    assert!(r.records("user_insights").is_empty());
    let calls = sb.calls();
    let insights: Vec<&String> = calls.iter().filter(|c| c.contains("/insights?")).collect();
    assert!(
        insights.iter().all(|c| c.contains("breakdown=") || c.contains("metric=reach&period=day&")),
        "{insights:#?}"
    );
    let broken = insights.iter().filter(|c| c.contains("breakdown=")).count();
    assert_eq!(broken, ds.accounts().len() * ds.insight_days().len() * ACCOUNT_BREAKDOWNS.len());
}

/// Incremental `user_insights_breakdowns` re-reads only its window (the last
/// `insights_lookback_days` before its cursor), whatever `user_insights` reads beside it.
#[test]
fn account_breakdowns_incremental_rereads_only_its_window() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&["user_insights_breakdowns:incremental", "user_insights:incremental"]);
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let ds = sb.dataset();
    let days = ds.insight_days().len();
    assert_eq!(breakdown_records(&first), expected_breakdowns(ds, 0..));
    let state = first.final_state();
    sb.fake.clear_requests();
    let second = sb.read(&cfg, &cat, Some(&state));
    assert_eq!(second.code, 0, "{}", second.stdout);
    // The last 2 days (the default lookback), for both streams.
    assert_eq!(breakdown_records(&second), expected_breakdowns(ds, days - 2..));
    assert_eq!(second.records("user_insights").len(), ds.accounts().len() * 2);
    let broken = sb.calls().iter().filter(|c| c.contains("breakdown=")).count();
    assert_eq!(broken, ds.accounts().len() * 2 * ACCOUNT_BREAKDOWNS.len());
    let cursors = |st: &Value| -> Vec<Value> { st.as_array().unwrap().iter().map(|s| s["stream"].clone()).collect() };
    assert_eq!(cursors(&second.final_state()), cursors(&state), "the cursors stay");
    // `user_insights` read in full beside it: the breakdowns still read only their window.
    let only: Vec<Value> = state
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stream"]["stream_descriptor"]["name"] == "user_insights_breakdowns")
        .cloned()
        .collect();
    let third = sb.read(&cfg, &cat, Some(&Value::Array(only)));
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert_eq!(third.records("user_insights").len(), ds.accounts().len() * days);
    assert_eq!(breakdown_records(&third), expected_breakdowns(ds, days - 2..));
}

/// A breakdown Meta does not serve for one metric (code 1) is asked per metric: that metric
/// is left out of it with one warning, every other metric keeps it; a media metric's
/// breakdown Meta does not serve leaves the metric's total.
#[test]
fn a_breakdown_meta_does_not_serve_is_left_out_alone() {
    let quirks = Quirks {
        unsupported_breakdowns: vec![
            ("reposts".into(), "media_product_type".into()),
            ("profile_activity".into(), "action_type".into()),
        ],
        ..Quirks::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_insights_breakdowns", "media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ds = sb.dataset();
    let want: BTreeMap<_, _> = expected_breakdowns(ds, 0..)
        .into_iter()
        .filter(|((_, _, metric, breakdown, _), _)| !(metric == "reposts" && breakdown == "media_product_type"))
        .collect();
    assert_eq!(breakdown_records(&r), want);
    let posts = by_id(&r, "media_insights");
    for m in ds.all_media().filter(|m| !m.flags.any()) {
        assert_eq!(posts[&m.id].get("profile_activity").cloned(), media_metric_value(ds, m, "profile_activity"));
        assert!(posts[&m.id].get("profile_activity_breakdown").is_none());
    }
    let warns = logs(&r, "WARN");
    assert_eq!(warns.iter().filter(|w| w.contains("`reposts`")).count(), 1, "{warns:#?}");
    assert_eq!(warns.iter().filter(|w| w.contains("`action_type`")).count(), 1, "{warns:#?}");
}

/// Demographics for both timeframes Meta keeps, each record dated with the day it was read
/// (in its primary key with the timeframe), with the fake's values.
#[test]
fn demographics_for_both_timeframes_carry_the_day_read() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_lifetime_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "user_lifetime_insights");
    let ds = sb.dataset();
    let records = r.records("user_lifetime_insights");
    assert_eq!(records.len(), ds.accounts().len() * 5 * 3 * 2);
    for rec in records {
        assert_eq!(rec["date"], "2026-11-01", "{rec}");
        let tf = rec["timeframe"].as_str().unwrap();
        assert!(["this_week", "this_month"].contains(&tf), "{rec}");
        let account = ds.account(rec["business_account_id"].as_str().unwrap()).unwrap();
        let dims: Vec<&str> = rec["breakdown"].as_str().unwrap().split(',').collect();
        let want: serde_json::Map<String, Value> =
            demographic_results(ds, account, rec["metric"].as_str().unwrap(), Some(tf), &dims)
                .into_iter()
                .map(|(d, v)| (d.join(","), json!(v)))
                .collect();
        assert_eq!(rec["value"], Value::Object(want), "{rec}");
    }
}
