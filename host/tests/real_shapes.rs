//! Issue 21, section 2, end to end: the shapes real captures show (demographics with the
//! timeframe as a dimension, story navigation actions in upper case), and a first and an
//! incremental read of the bench dataset with the fake answering as Meta does (every default of
//! `fake_graph::quirks` on, Pacific days, the 30-day metrics, tags by tag time).

mod common;

use common::*;
use fake_graph::insights::demographic_results;
use fake_graph::{DatasetSpec, FakeOptions, NavigationCase, Quirks};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn sorted(r: &Run, stream: &str) -> Vec<String> {
    let mut out: Vec<String> = r.records(stream).iter().map(|x| x.to_string()).collect();
    out.sort();
    out
}

/// Demographics with `timeframe` as their first dimension (Meta's reference example, the fake's
/// default) and with only the breakdown's keys (another capture) give the same records: the
/// timeframe in `timeframe`, the breakdown's dimensions in `dimension_keys`, `value`, `results`.
#[test]
fn demographics_with_and_without_the_timeframe_dimension_give_the_same_records() {
    let read = |quirks: Quirks| {
        let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
        let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_lifetime_insights"]), None);
        assert_eq!(r.code, 0, "{}", r.stdout);
        let asked = sb.fake.requests().iter().flat_map(|q| q.batch_relative_urls()).count();
        (sb, r, asked)
    };
    let (sb, with, _) = read(Quirks::default());
    let (_, without, _) = read(Quirks { demographics_timeframe_dimension: false, ..Quirks::default() });
    assert_eq!(sorted(&with, "user_lifetime_insights"), sorted(&without, "user_lifetime_insights"));
    let records = with.records("user_lifetime_insights");
    assert_eq!(records.len(), sb.dataset().accounts().len() * 5 * 3 * 2);
    for rec in &records {
        assert!(rec["timeframe"] == "this_month" || rec["timeframe"] == "this_week", "{rec}");
        assert!(!rec["dimension_keys"].as_array().unwrap().contains(&json!("timeframe")), "{rec}");
    }
    assert_eq!(records.iter().filter(|r| r["timeframe"] == "this_week").count(), records.len() / 2);
    let account = &sb.dataset().accounts()[0];
    let rec = records
        .iter()
        .find(|r| {
            r["business_account_id"] == account.ig_user_id.as_str()
                && r["metric"] == "engaged_audience_demographics"
                && r["breakdown"] == "country"
                && r["timeframe"] == "this_month"
        })
        .unwrap();
    for (dims, v) in
        demographic_results(sb.dataset(), account, "engaged_audience_demographics", Some("this_month"), &["country"])
    {
        assert_eq!(rec["value"][dims.join(",")], json!(v), "{rec}");
    }
}

/// Story navigation actions spelled in upper case (`TAP_FORWARD`, some captures), lower case
/// (the docs) or both (the fake's default: upper for every other account) give the same
/// `story_insights`, in the lower-case spelling.
#[test]
fn story_navigation_in_either_case_gives_the_same_records() {
    let read = |case: NavigationCase| {
        let quirks = Quirks { navigation_case: case, ..Quirks::default() };
        let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
        let r = sb.read(&sb.config(json!({})), &sb.catalog(&["story_insights"]), None);
        assert_eq!(r.code, 0, "{}", r.stdout);
        r
    };
    let lower = read(NavigationCase::Lower);
    let records = lower.records("story_insights");
    assert!(!records.is_empty());
    for rec in &records {
        let keys: BTreeSet<&str> =
            rec["navigation_breakdown"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["tap_forward", "tap_back", "tap_exit", "swipe_forward"]), "{rec}");
    }
    for case in [NavigationCase::Upper, NavigationCase::Mixed] {
        assert_eq!(sorted(&read(case), "story_insights"), sorted(&lower, "story_insights"), "{case:?}");
    }
}

/// The last STREAM_STATUS of each stream.
fn final_statuses(r: &Run) -> std::collections::BTreeMap<String, String> {
    r.of_type("TRACE")
        .into_iter()
        .filter(|t| t["trace"]["type"] == "STREAM_STATUS")
        .map(|t| {
            let s = &t["trace"]["stream_status"];
            (s["stream_descriptor"]["name"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Issue 21's done-when: a first and an incremental read of the bench dataset, with the fake
/// behaving as real captures show (all its defaults on), end rc 0 with every stream COMPLETE,
/// and `user_insights` holds every day of the dataset (`follower_count` on the last 30).
#[test]
fn bench_dataset_first_and_incremental_reads_complete() {
    let sb = Sandbox::start(DatasetSpec::bench());
    let streams: Vec<&str> =
        [INCREMENTAL, &["media_comments:incremental", "tagged_media:incremental"], PUBLIC_STREAMS].concat();
    let cfg = sb.config(public_lists());
    let cat = sb.catalog(&streams);
    let names: BTreeSet<String> = streams.iter().map(|s| s.split(':').next().unwrap().to_string()).collect();
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let statuses = final_statuses(&first);
    assert_eq!(statuses.keys().cloned().collect::<BTreeSet<_>>(), names);
    assert!(statuses.values().all(|s| s == "COMPLETE"), "{statuses:?}");
    let ds = sb.dataset();
    let days = ds.insight_days();
    let ui = first.records("user_insights");
    let dates: BTreeSet<(String, String)> = ui
        .iter()
        .map(|r| (r["business_account_id"].as_str().unwrap().to_string(), r["date"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(ui.len(), dates.len(), "one record per account and day");
    let want: BTreeSet<(String, String)> = ds
        .accounts()
        .iter()
        .flat_map(|a| {
            days.iter().map(|d| {
                (a.ig_user_id.clone(), fake_graph::day_end_time(*d).format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
            })
        })
        .collect();
    assert_eq!(dates, want, "every day of the dataset");
    let with_followers = ui.iter().filter(|r| r.get("follower_count").is_some()).count();
    assert_eq!(with_followers, ds.accounts().len() * 30, "follower_count for the last 30 days");
    for stream in ["media", "media_insights", "stories", "story_insights", "tagged_media", "competitor_media"] {
        assert!(!first.records(stream).is_empty(), "{stream}");
    }

    let second = sb.read(&cfg, &cat, Some(&first.final_state()));
    assert_eq!(second.code, 0, "{}", second.stdout);
    let statuses = final_statuses(&second);
    assert!(statuses.values().all(|s| s == "COMPLETE") && statuses.len() == names.len(), "{statuses:?}");
    let again: Vec<&Value> = second.records("user_insights");
    assert!(!again.is_empty() && again.len() < ui.len(), "the lookback only: {}", again.len());
    assert!(again.iter().all(|r| {
        want.contains(&(
            r["business_account_id"].as_str().unwrap().to_string(),
            r["date"].as_str().unwrap().to_string(),
        ))
    }));
}
