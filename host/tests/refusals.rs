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
