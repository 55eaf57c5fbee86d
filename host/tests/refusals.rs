//! Issue 21, section 2: Meta refuses metrics in more wordings than its docs show, some for a
//! few objects only; "Unsupported get request" (100/33) comes and goes for objects that exist;
//! an unsupported breakdown answers code 1. End to end through the real host and component.

mod common;

use common::*;
use fake_graph::insights::{account_daily_value, media_metric_value};
use fake_graph::{DatasetSpec, FakeOptions, MediaKind, Quirks};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn warnings(r: &Run) -> Vec<String> {
    r.of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == "WARN")
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect()
}

fn by_id<'a>(r: &'a Run, stream: &str) -> BTreeMap<String, &'a Value> {
    r.records(stream).into_iter().map(|x| (x["id"].as_str().unwrap().to_string(), x)).collect()
}

/// Meta refuses `views` for some reels only ("does not support the views metric for this
/// media product type", as it did for some customers in 2025): those reels' records come
/// without `views` and with every other metric, while every other reel, of the same account
/// too, keeps its `views`; one warning says so.
#[test]
fn a_metric_refused_for_some_objects_is_dropped_for_those_only() {
    let spec = DatasetSpec { media_per_account: 40, ..DatasetSpec::small() };
    let probe = fake_graph::Dataset::generate(&spec);
    let reels: Vec<String> = probe.accounts()[0]
        .media
        .iter()
        .filter(|m| m.kind() == MediaKind::Reel && !m.flags.any())
        .map(|m| m.id.clone())
        .collect();
    assert!(reels.len() >= 3, "{reels:?}");
    let refused: Vec<String> = reels.iter().step_by(2).cloned().collect();
    let quirks = Quirks { refused_for: vec![("views".into(), refused.clone())], ..Quirks::default() };
    let sb = Sandbox::start_with(spec, FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let got = by_id(&r, "media_insights");
    assert_eq!(got.len(), probe.all_media().filter(|m| !m.flags.any()).count(), "every record is there");
    for media in sb.dataset().all_media().filter(|m| !m.flags.any()) {
        let rec = got[&media.id];
        let views = media_metric_value(sb.dataset(), media, "views");
        if refused.contains(&media.id) {
            assert!(rec.get("views").is_none(), "{rec}");
            assert_eq!(rec["reach"], media_metric_value(sb.dataset(), media, "reach").unwrap(), "{rec}");
            assert_eq!(rec["reels_skip_rate"], media_metric_value(sb.dataset(), media, "reels_skip_rate").unwrap());
        } else {
            assert_eq!(rec.get("views").cloned(), views, "{} keeps views: {rec}", media.id);
        }
    }
    let warns: Vec<String> = warnings(&r).into_iter().filter(|w| w.contains("`views`")).collect();
    assert_eq!(warns.len(), 1, "{warns:#?}");
    assert!(warns[0].contains("does not support the views metric"), "{warns:?}");
}

/// A metric Meta retired in v22 is refused with its v22 wording ("Starting from version 22 and
/// above, the reposts metric is no longer supported for the queried user"): dropped for the
/// daily totals of every account with one warning, every other metric and day kept.
#[test]
fn a_metric_retired_in_v22_wording_is_dropped_for_its_scope() {
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { retired_metrics: vec!["reposts".into()], ..FakeOptions::default() },
    );
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["user_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ds = sb.dataset();
    let recs = r.records("user_insights");
    assert_eq!(recs.len(), ds.accounts().len() * ds.insight_days().len());
    for rec in &recs {
        assert!(rec.get("reposts").is_none(), "{rec}");
        let account = ds.account(rec["business_account_id"].as_str().unwrap()).unwrap();
        let day = ds.insight_days().into_iter().find(|d| {
            fake_graph::day_end_time(*d).format("%Y-%m-%dT%H:%M:%S+00:00").to_string() == rec["date"].as_str().unwrap()
        });
        assert_eq!(rec["likes"], json!(account_daily_value(ds, account, "likes", day.unwrap()).unwrap()), "{rec}");
    }
    let warns: Vec<String> = warnings(&r).into_iter().filter(|w| w.contains("`reposts`")).collect();
    assert_eq!(warns.len(), 1, "{warns:#?}");
    assert!(warns[0].contains("Starting from version 22 and above"), "{warns:?}");
    // Dropped for the scope: each day's totals asked it once (all together), never again.
    let asked =
        sb.fake.requests().iter().flat_map(|q| q.batch_relative_urls()).filter(|u| u.contains("reposts")).count();
    assert_eq!(asked, ds.accounts().len() * ds.insight_days().len());
}

fn sorted_records(r: &Run) -> Vec<String> {
    let mut out: Vec<String> = r
        .all_records()
        .into_iter()
        .map(|m| json!({"stream": m["record"]["stream"], "data": m["record"]["data"]}).to_string())
        .collect();
    out.sort();
    out
}

/// "Unsupported get request" (100/33, HTTP 400) for objects that exist comes and goes under
/// load: with 30 % of the reads of media, stories and comments answered so once, a full read
/// emits exactly the records of a read without it, asking those objects again.
#[test]
fn unsupported_get_that_comes_and_goes_loses_nothing() {
    let clean = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { quirks: Quirks { unsupported_get: None, ..Quirks::default() }, ..FakeOptions::default() },
    );
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    assert_eq!(baseline.code, 0, "{}", baseline.stdout);
    let quirks =
        Quirks { unsupported_get: Some(fake_graph::FractionFault { fraction: 0.3, seed: 7 }), ..Quirks::default() };
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(sorted_records(&r), sorted_records(&baseline));
    // The dataset's inaccessible posts answer 100/33 in both reads; the others only here.
    let again = |r: &Run| r.logs().into_iter().filter(|l| l.contains("100/33") && l.contains("asking again")).count();
    let (more_logs, more_calls) = (again(&r) - again(&baseline), sb.calls().len() - clean.calls().len());
    assert!(
        more_logs >= 3 && more_calls >= more_logs,
        "{more_logs} more operations asked again, {more_calls} more calls"
    );
    // Comments pages are asked again too (their records are all there, compared above).
    let pages =
        |s: &Sandbox| s.calls().into_iter().filter(|c| c.contains("/comments?") || c.contains("/replies?")).count();
    assert!(pages(&sb) >= pages(&clean));
}

/// An object that keeps answering 100/33 is asked 3 times, then skipped with a warning naming
/// it; its media record stays.
#[test]
fn unsupported_get_that_stays_skips_the_object_after_three_attempts() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media", "media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let gone: Vec<&fake_graph::Media> = sb.dataset().all_media().filter(|m| m.flags.inaccessible).collect();
    assert!(!gone.is_empty());
    let calls = sb.calls();
    let warns = warnings(&r);
    for m in gone {
        // Its insights, and (feed posts) its profile activity by action, 3 times each.
        let asked = |breakdown: bool| {
            calls
                .iter()
                .filter(|c| {
                    c.starts_with(&format!("/v27.0/{}/insights", m.id)) && c.contains("breakdown=") == breakdown
                })
                .count()
        };
        assert_eq!(asked(false), 3, "{}", m.id);
        assert!([0, 3].contains(&asked(true)), "{}", m.id);
        assert!(warns.iter().any(|w| w.contains(&m.id) && w.contains("does not exist")), "{warns:#?}");
        assert!(r.records("media").iter().any(|x| x["id"] == m.id.as_str()));
        assert!(!r.records("media_insights").iter().any(|x| x["id"] == m.id.as_str()));
    }
}

/// An unsupported breakdown answers code 1 "An unknown error has occurred." (HTTP 500), not
/// code 100: the connector falls back instead of failing the stream. Story navigation: the
/// plain metric (the total, without its parts). Demographics: each metric alone, and the one
/// Meta does not serve by that breakdown is left out. One warning each; rc 0.
#[test]
fn an_unsupported_breakdown_falls_back_to_what_meta_serves() {
    let quirks = Quirks {
        unsupported_breakdowns: vec![
            ("navigation".into(), "story_navigation_action_type".into()),
            ("reached_audience_demographics".into(), "age,gender".into()),
        ],
        ..Quirks::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["stories", "story_insights", "user_lifetime_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let stories: Vec<&fake_graph::Media> = sb.dataset().all_stories().filter(|s| !s.flags.any()).collect();
    let got = by_id(&r, "story_insights");
    assert_eq!(got.len(), stories.len());
    for story in stories {
        let rec = got[&story.id];
        assert_eq!(Some(rec["navigation"].clone()), media_metric_value(sb.dataset(), story, "navigation"), "{rec}");
        assert!(rec.get("navigation_breakdown").is_none(), "{rec}");
        assert!(rec["reach"].is_number(), "{rec}");
    }
    let demographics = r.records("user_lifetime_insights");
    assert_eq!(demographics.len(), sb.dataset().accounts().len() * (5 * 3 - 1) * 2);
    assert!(
        !demographics.iter().any(|d| d["metric"] == "reached_audience_demographics" && d["breakdown"] == "age,gender")
    );
    assert!(demographics.iter().any(|d| d["metric"] == "follower_demographics" && d["breakdown"] == "age,gender"));
    let warns = warnings(&r);
    assert_eq!(warns.iter().filter(|w| w.contains("story_navigation_action_type")).count(), 1, "{warns:#?}");
    assert_eq!(warns.iter().filter(|w| w.contains("reached_audience_demographics")).count(), 1, "{warns:#?}");
    assert!(warns.iter().all(|w| !w.contains("follower_demographics")), "{warns:#?}");
}
