//! Issue 25, the Instagram data of 2026, end to end through the real host and component
//! against the fake: the media and story metrics Meta added (reposts, profile activity by
//! action, crossposted and Facebook views refused for media not shared to Facebook, the
//! ads-inclusive totals and story link clicks of Facebook Login), the new media and user fields
//! (per login; a field Meta stops serving), competitor reel views, `user_insights_breakdowns`
//! (full and incremental), and the history columns (`read_at`, dated demographics for both
//! timeframes). Every value is checked against what the fake says it must be.

mod common;

use common::*;
use fake_graph::insights::{
    PROFILE_ACTIVITY_ACTIONS, account_daily_value, demographic_results, media_metric_value, profile_activity_parts,
    total_value_breakdown_results,
};
use fake_graph::{DatasetSpec, FakeOptions, Login, MediaKind, Quirks, day_end_time};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The dataset's "now", as records carry it.
const NOW: &str = "2026-11-01T12:00:00+00:00";

/// The metrics Meta added to media and story insights in 2025–2026.
const NEW_METRICS: &[&str] = &[
    "reposts",
    "profile_activity",
    "facebook_views",
    "crossposted_views",
    "total_likes",
    "total_comments",
    "total_views",
    "link_clicks",
];

/// The account breakdowns the issue asks for: (breakdown, metrics).
const ACCOUNT_BREAKDOWNS: &[(&str, &[&str])] = &[
    ("follower_type", &["views"]),
    ("media_product_type", &["views", "total_interactions", "likes", "comments", "shares", "saves", "reposts"]),
    ("follow_type", &["follows_and_unfollows"]),
    ("contact_button_type", &["profile_links_taps"]),
];

fn logs(r: &Run, level: &str) -> Vec<String> {
    r.of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == level)
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect()
}

fn by_id<'a>(r: &'a Run, stream: &str) -> BTreeMap<String, &'a Value> {
    r.records(stream).into_iter().map(|x| (x["id"].as_str().unwrap().to_string(), x)).collect()
}

/// Records of `stream` match its schema and have unique primary keys.
fn check_schema_and_keys(r: &Run, stream: &str) {
    let validator = jsonschema::validator_for(&schema(stream)).unwrap();
    let mut keys = BTreeSet::new();
    for rec in r.records(stream) {
        let errors: Vec<String> = validator.iter_errors(rec).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{stream} record {rec} violates its schema: {errors:?}");
        let key: Vec<String> = primary_key(stream).iter().map(|k| rec[*k].to_string()).collect();
        assert!(key.iter().all(|k| k != "null"), "{stream} record without its key: {rec}");
        assert!(keys.insert(key.clone()), "{stream} duplicate primary key {key:?}");
    }
}

fn complete(r: &Run, stream: &str) -> bool {
    r.of_type("TRACE").into_iter().any(|t| {
        t["trace"]["type"] == "STREAM_STATUS"
            && t["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
            && t["trace"]["stream_status"]["status"] == "COMPLETE"
    })
}

fn date(day: chrono::NaiveDate) -> String {
    day_end_time(day).format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Every post and story gets the new metrics its kind has, with the fake's values: reposts,
/// profile activity with its parts by action (lower case whichever case Meta answers, asked
/// alone with its breakdown), the ads-inclusive totals and story link clicks; Facebook and
/// crossposted views for media shared to Facebook, while Meta's refusal for the others
/// leaves both out of those records only, with one INFO line and one extra request each; every
/// record carries when it was read.
#[test]
fn media_and_story_metrics_of_2026_with_known_answers() {
    let spec = DatasetSpec { media_per_account: 40, ..DatasetSpec::small() };
    let quirks = Quirks { unsupported_get: None, ..Quirks::default() };
    let sb = Sandbox::start_with(spec, FakeOptions { quirks, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["stories", "story_insights", "media_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ds = sb.dataset();
    for stream in ["media_insights", "story_insights"] {
        check_schema_and_keys(&r, stream);
        assert!(complete(&r, stream), "{stream}");
    }
    let posts = by_id(&r, "media_insights");
    let stories = by_id(&r, "story_insights");
    let objects: Vec<&fake_graph::Media> = ds.all_media().chain(ds.all_stories()).filter(|m| !m.flags.any()).collect();
    assert_eq!(posts.len() + stories.len(), objects.len());
    let (mut shared, mut unshared) = (BTreeSet::new(), BTreeSet::new());
    for m in &objects {
        let rec = if m.kind() == MediaKind::Story { stories[&m.id] } else { posts[&m.id] };
        for metric in NEW_METRICS.iter().chain(&["reach", "views", "likes"]) {
            assert_eq!(rec.get(*metric).cloned(), media_metric_value(ds, m, metric), "{} {metric}: {rec}", m.id);
        }
        assert_eq!(rec["read_at"], NOW, "{rec}");
        match media_metric_value(ds, m, "profile_activity") {
            Some(total) => {
                let parts: serde_json::Map<String, Value> = PROFILE_ACTIVITY_ACTIONS
                    .iter()
                    .zip(profile_activity_parts(ds, m))
                    .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
                    .collect();
                assert_eq!(rec["profile_activity_breakdown"], Value::Object(parts), "{rec}");
                let sum: u64 = profile_activity_parts(ds, m).iter().sum();
                assert_eq!(total, json!(sum));
            }
            None => assert!(rec.get("profile_activity_breakdown").is_none(), "{rec}"),
        }
        if matches!(m.kind(), MediaKind::Reel | MediaKind::Story) {
            let kind = format!("{:?}", m.kind());
            if m.extras.shared_to_facebook {
                shared.insert(kind)
            } else {
                unshared.insert(kind)
            };
        }
    }
    // Reels and stories both shared to Facebook and not (the refusal costs nothing else).
    assert_eq!(shared.len(), 2, "{shared:?}");
    assert_eq!(unshared.len(), 2, "{unshared:?}");
    let about = |w: &String| w.contains("facebook_views") || w.contains("crossposted_views");
    assert!(logs(&r, "WARN").iter().all(|w| !about(w)), "{:#?}", logs(&r, "WARN"));
    let infos: Vec<String> = logs(&r, "INFO").into_iter().filter(about).collect();
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert!(infos[0].contains("shared to Facebook"), "{infos:?}");
    // A reel not shared to Facebook: its insights asked twice (refused, then without both).
    let calls = sb.calls();
    let reel = objects.iter().find(|m| m.kind() == MediaKind::Reel && !m.extras.shared_to_facebook).unwrap();
    let asked: Vec<&String> = calls.iter().filter(|c| c.contains(&format!("/{}/insights?", reel.id))).collect();
    assert_eq!(asked.len(), 2, "{asked:#?}");
    assert!(!asked[1].contains("facebook_views") && !asked[1].contains("crossposted_views"), "{asked:?}");
    // The breakdowns are asked alone, as Meta requires.
    let broken: Vec<&String> = calls.iter().filter(|c| c.contains("breakdown=action_type")).collect();
    assert!(!broken.is_empty() && broken.iter().all(|c| c.contains("metric=profile_activity&")), "{broken:?}");
}

/// With Instagram Login (the fake answering as graph.instagram.com, which refuses what Meta
/// reserves for Facebook Login) nothing Facebook-Login-only is asked: every stream completes
/// without a warning about them, and the records carry what Instagram Login serves.
#[test]
fn instagram_login_asks_only_what_it_serves() {
    let sb =
        Sandbox::start_with(DatasetSpec::small(), FakeOptions { login: Login::Instagram, ..FakeOptions::default() });
    let streams = ["users", "media", "media_insights", "stories", "story_insights"];
    let r = sb.read(&sb.config(json!({"login": "instagram"})), &sb.catalog(&streams), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let facebook_only = [
        "total_likes",
        "total_comments",
        "total_views",
        "link_clicks",
        "reposts_count",
        "saved_count",
        "shares_count",
        "total_like_count",
        "total_comments_count",
        "total_views_count",
        "media_audio_type",
        "collaborators",
        "has_profile_pic",
        "is_published",
    ];
    for stream in streams {
        assert!(complete(&r, stream), "{stream}");
        for rec in r.records(stream) {
            assert!(facebook_only.iter().all(|f| rec.get(*f).is_none()), "{stream}: {rec}");
        }
    }
    for call in sb.calls() {
        let query = call.split_once('?').map_or("", |(_, q)| q);
        assert!(facebook_only.iter().all(|f| !query.contains(f)), "{call}");
    }
    let warns = logs(&r, "WARN");
    assert!(warns.iter().all(|w| facebook_only.iter().all(|f| !w.contains(f))), "{warns:#?}");
    let account = &sb.dataset().accounts()[0];
    let media = by_id(&r, "media");
    assert_eq!(media.len(), account.media.len());
    for m in &account.media {
        assert_eq!(media[&m.id]["is_ai_generated"], json!(m.extras.is_ai_generated.unwrap()));
    }
    let stories = by_id(&r, "story_insights");
    for s in account.stories.iter().filter(|s| !s.flags.any()) {
        assert_eq!(stories[&s.id].get("reposts").cloned(), media_metric_value(sb.dataset(), s, "reposts"));
    }
}

/// The media fields Meta added (counts equal to the media's insight values, AI label, alt
/// text, audio, reels shared to the feed, collaborators as a list) and the user fields, with
/// Facebook Login.
#[test]
fn media_and_user_fields_with_known_answers() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "media");
    check_schema_and_keys(&r, "users");
    let ds = sb.dataset();
    let media = by_id(&r, "media");
    let mut with_collaborators = 0;
    for m in ds.all_media() {
        let rec = media[&m.id];
        let x = &m.extras;
        assert_eq!(rec.get("alt_text").cloned(), x.alt_text.as_ref().map(|t| json!(t)), "{rec}");
        assert_eq!(rec["is_ai_generated"], json!(x.is_ai_generated.unwrap()));
        assert_eq!(rec.get("media_audio_type").cloned(), x.media_audio_type.map(|t| json!(t)), "{rec}");
        let reel = m.kind() == MediaKind::Reel;
        assert_eq!(rec.get("is_shared_to_feed").cloned(), reel.then_some(json!(true)), "{rec}");
        for (field, metric) in [
            ("saved_count", "saved"),
            ("shares_count", "shares"),
            ("reposts_count", "reposts"),
            ("total_like_count", "total_likes"),
            ("total_comments_count", "total_comments"),
            ("total_views_count", "total_views"),
        ] {
            assert_eq!(rec.get(field).cloned(), media_metric_value(ds, m, metric), "{field}: {rec}");
        }
        let collaborators: Vec<Value> = x
            .collaborators
            .iter()
            .map(|c| json!({"id": c.id, "username": c.username, "invite_status": c.invite_status}))
            .collect();
        with_collaborators += usize::from(!collaborators.is_empty());
        assert_eq!(rec["collaborators"], json!(collaborators), "{rec}");
    }
    assert!(with_collaborators > 0);
    for account in ds.accounts() {
        let user = r.records("users").into_iter().find(|u| u["id"] == account.ig_user_id.as_str()).unwrap();
        assert_eq!(user["has_profile_pic"], json!(account.has_profile_pic()), "{user}");
        assert_eq!(user["is_published"], json!(true), "{user}");
    }
}

/// A field Meta stops serving (on the media edge, on the IG user, through the account list's
/// field expansion too) fails no stream and warns once: every record is there, without it.
#[test]
fn a_field_meta_stops_serving_is_dropped_with_one_warning() {
    let options = FakeOptions {
        retired_fields: vec![
            ("ShadowIGMedia".into(), "media_audio_type".into()),
            ("ShadowIGMedia".into(), "collaborators".into()),
            ("ShadowIGUser".into(), "is_published".into()),
        ],
        page_size_cap: 5,
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.records("media").len(), sb.dataset().all_media().count());
    assert_eq!(r.records("users").len(), sb.dataset().accounts().len());
    let warns = logs(&r, "WARN");
    for field in ["media_audio_type", "collaborators", "is_published"] {
        assert!(r.all_records().iter().all(|m| m["record"]["data"].get(field).is_none()), "{field}");
        assert_eq!(warns.iter().filter(|w| w.contains(&format!("`{field}`"))).count(), 1, "{field}: {warns:#?}");
    }
    assert!(r.records("media").iter().all(|m| m["saved_count"].is_number()), "the other new fields stay");
}

/// Competitor reels carry their views (business discovery `view_count`); other posts none.
#[test]
fn competitor_reels_carry_their_views() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&["competitor_media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    check_schema_and_keys(&r, "competitor_media");
    let got = by_id(&r, "competitor_media");
    let mut reels = 0;
    for c in &sb.dataset().public().competitors {
        for m in c.media.iter().filter(|m| got.contains_key(&m.id)) {
            reels += usize::from(m.view_count.is_some());
            assert_eq!(got[&m.id].get("view_count").cloned(), m.view_count.map(|v| json!(v)), "{}", got[&m.id]);
        }
    }
    assert!(reels > 0);
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
