//! Issue 21, section 2: Meta's days end at midnight in Pacific time (07:00 UTC in summer,
//! 08:00 UTC in winter), so `user_insights` across a DST change (a 23- and a 25-hour day) must
//! still give one record per account and day, each with that day's own numbers.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::*;
use fake_graph::insights::account_daily_value;
use fake_graph::{Dataset, DatasetSpec, FakeOptions, day_end_time};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn spec(now: DateTime<Utc>, days: u32) -> DatasetSpec {
    DatasetSpec { now, insight_days: days, media_per_account: 3, stories_per_account: 1, ..DatasetSpec::small() }
}

fn date_of(day: NaiveDate) -> String {
    day_end_time(day).format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// `user_insights` records by (account, date); panics on a duplicate.
fn by_day(r: &Run) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for rec in r.records("user_insights") {
        let key = (rec["business_account_id"].as_str().unwrap().to_string(), rec["date"].as_str().unwrap().to_string());
        assert!(out.insert(key.clone(), rec.clone()).is_none(), "two records for {key:?}");
    }
    out
}

/// Every record carries its own day's numbers: daily reach and the `total_value` metrics of
/// that day alone (a window reaching into the day before would add two days).
fn check_values(ds: &Dataset, records: &BTreeMap<(String, String), Value>) {
    let days: BTreeMap<String, NaiveDate> =
        (0..800).map(|k| ds.now().date_naive() - chrono::Duration::days(k)).map(|d| (date_of(d), d)).collect();
    for ((account, date), rec) in records {
        let day = days[date];
        let acc = ds.account(account).unwrap();
        for metric in ["reach", "views", "likes", "accounts_engaged"] {
            let want = account_daily_value(ds, acc, metric, day).unwrap();
            assert_eq!(rec[metric], json!(want), "{metric} of {account} on {day} ({date}): {rec}");
        }
    }
}

/// A full read across each DST change, then an incremental read after it from the state of a
/// read before it: one record per account and Pacific day, dated by Meta's `end_time` (08:00
/// UTC in winter, 07:00 UTC in summer), no day missing between the two reads, none twice in
/// one read, and every value that day's own.
#[test]
fn days_across_dst_changes_are_each_read_once() {
    // Spring forward on 2026-03-08 (a 23-hour day), fall back on 2026-11-01 (25 hours).
    for (before, after, change) in [
        (at(2026, 3, 5), at(2026, 3, 12), NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()),
        (at(2026, 10, 29), at(2026, 11, 5), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
    ] {
        let first = Sandbox::start_with(spec(before, 12), FakeOptions::default());
        let cat = first.catalog(&["user_insights:incremental"]);
        let r1 = first.read(&first.config(json!({})), &cat, None);
        assert_eq!(r1.code, 0, "{}", r1.stdout);
        let got1 = by_day(&r1);
        let want1: BTreeSet<(String, String)> = first
            .dataset()
            .accounts()
            .iter()
            .flat_map(|a| first.dataset().insight_days().into_iter().map(|d| (a.ig_user_id.clone(), date_of(d))))
            .collect();
        assert_eq!(got1.keys().cloned().collect::<BTreeSet<_>>(), want1, "first read before {change}");
        check_values(first.dataset(), &got1);

        // Later: the same accounts, a week on, across the change.
        let second = Sandbox::start_with(spec(after, 12), FakeOptions::default());
        let full = second.read(&second.config(json!({})), &second.catalog(&["user_insights"]), None);
        assert_eq!(full.code, 0, "{}", full.stdout);
        let got_full = by_day(&full);
        let days = second.dataset().insight_days();
        assert!(days.contains(&change) && days.contains(&(change - chrono::Duration::days(1))));
        assert_eq!(got_full.len(), second.dataset().accounts().len() * days.len(), "full read across {change}");
        check_values(second.dataset(), &got_full);
        let hours: BTreeSet<&str> = got_full.keys().map(|(_, d)| &d[11..13]).collect();
        assert_eq!(hours, BTreeSet::from(["07", "08"]), "both offsets appear across {change}");

        let r2 = second.read(&second.config(json!({})), &cat, Some(&r1.final_state()));
        assert_eq!(r2.code, 0, "{}", r2.stdout);
        let got2 = by_day(&r2);
        check_values(second.dataset(), &got2);
        // No gap: every day from the first read's first to the second's last is read.
        let union: BTreeSet<&String> = got1.keys().chain(got2.keys()).map(|(_, d)| d).collect();
        let first_day = first.dataset().insight_days()[0];
        let last_day = *days.last().unwrap();
        let all: BTreeSet<String> = first_day.iter_days().take_while(|d| *d <= last_day).map(date_of).collect();
        assert_eq!(union.into_iter().cloned().collect::<BTreeSet<_>>(), all, "across {change}");
        // The incremental read starts at the lookback (2 days before the cursor), not earlier.
        let cursor = r1.final_state()[0]["stream"]["stream_state"]["states"][0]["cursor"]["date"].clone();
        let lookback = (DateTime::parse_from_rfc3339(cursor.as_str().unwrap()).unwrap() - chrono::Duration::days(3))
            .to_utc()
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string();
        assert!(got2.keys().all(|(_, d)| *d > lookback), "from {cursor}: {:?}", got2.keys());
        assert!(got2.len() < got_full.len(), "the second read is incremental");
    }
}

/// A first sync of 60 days: Meta refuses `follower_count` and `online_followers` for a window
/// that starts more than 30 Pacific days back, so the connector asks them only over the last
/// 30 days (their own window), while `reach` keeps its windows: every day has a record, the
/// last 30 carry `follower_count` and `online_followers`, and Meta refused nothing. At 00:30
/// in summer (07:30 UTC) the connector's estimate of the range is a day early: Meta's refusal
/// moves it one day on, and the same 30 days come.
#[test]
fn first_sync_gets_the_last_30_days_of_follower_count() {
    for now in [at(2026, 11, 1), Utc.with_ymd_and_hms(2026, 7, 21, 7, 30, 0).unwrap()] {
        let sb = Sandbox::start_with(spec(now, 60), FakeOptions::default());
        let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_insights"]), None);
        assert_eq!(r.code, 0, "{now}: {}", r.stdout);
        let got = by_day(&r);
        let ds = sb.dataset();
        let days = ds.insight_days();
        assert_eq!(got.len(), ds.accounts().len() * days.len(), "{now}: every day");
        check_values(ds, &got);
        let recent: BTreeSet<String> = days[days.len() - 30..].iter().map(|d| date_of(*d)).collect();
        for ((account, date), rec) in &got {
            let day = days.iter().find(|d| date_of(**d) == *date).unwrap();
            let acc = ds.account(account).unwrap();
            if recent.contains(date) {
                assert_eq!(rec["follower_count"], json!(account_daily_value(ds, acc, "follower_count", *day).unwrap()));
                assert!(rec["online_followers"].is_object(), "{now} {date}: {rec}");
            } else {
                assert!(rec.get("follower_count").is_none() && rec.get("online_followers").is_none(), "{rec}");
                assert!(rec["reach"].is_number(), "{rec}");
            }
        }
        let refused: Vec<String> = sb
            .fake
            .requests()
            .iter()
            .flat_map(|q| q.batch_relative_urls())
            .filter(|u| u.contains("follower_count") || u.contains("online_followers"))
            .filter(|u| {
                let since: i64 = u.split("since=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
                since < fake_graph::insights::recent_only_since(now).timestamp()
            })
            .collect();
        let summer_midnight = now.format("%H:%M").to_string() == "07:30";
        // Once per account and recent-only request (`follower_count` by day, `online_followers`).
        assert_eq!(refused.len(), if summer_midnight { ds.accounts().len() * 2 } else { 0 }, "{now}: {refused:#?}");
        if summer_midnight {
            assert!(r.logs().iter().any(|l| l.contains("asking again from a day later")), "{:?}", r.logs());
        }
    }
}
