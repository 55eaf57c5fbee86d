//! Every stream end to end: records validated against their schemas, primary keys unique,
//! counts equal to what the fake dataset says they must be, a golden full read, and
//! incremental reads from each accepted state format.

mod common;

use common::*;
use fake_graph::{DatasetSpec, MediaKind};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Every stream's records match its schema, have unique primary keys, and number exactly
/// what the dataset holds; errors on single objects skip only their insights.
#[test]
fn full_read_of_every_stream() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let data = sb.dataset();
    let accounts = data.accounts();
    let posts: Vec<_> = accounts.iter().flat_map(|a| a.media.iter()).collect();
    let stories: Vec<_> = accounts.iter().flat_map(|a| a.stories.iter()).collect();
    let expected: BTreeMap<&str, usize> = BTreeMap::from([
        ("users", accounts.len()),
        ("media", posts.len()),
        ("media_insights", posts.iter().filter(|m| !m.flags.any()).count()),
        ("stories", stories.len()),
        ("story_insights", stories.iter().filter(|s| !s.flags.any()).count()),
        ("user_insights", accounts.len() * data.insight_days().len()),
        ("user_insights_breakdowns", user_insights_breakdowns(data)),
        ("user_lifetime_insights", accounts.len() * 5 * 3 * 2),
        (
            "media_comments",
            posts.iter().flat_map(|p| fake_graph::comments::comments_of(data, p)).map(|c| 1 + c.replies.len()).sum(),
        ),
        ("tagged_media", accounts.len() * fake_graph::comments::TAGS_PER_ACCOUNT),
    ]);
    for stream in ALL_STREAMS {
        let records = r.records(stream);
        assert_eq!(records.len(), expected[stream], "{stream} record count");
        let schema = schema(stream);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut keys = BTreeSet::new();
        for rec in &records {
            let errors: Vec<String> = validator.iter_errors(rec).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{stream} record {rec} violates its schema: {errors:?}");
            let key: Vec<String> = primary_key(stream).iter().map(|k| rec[*k].to_string()).collect();
            assert!(key.iter().all(|k| k != "null"), "{stream} record without its key: {rec}");
            assert!(keys.insert(key.clone()), "{stream} duplicate primary key {key:?}");
            assert!(rec["business_account_id"].is_string() && rec["page_id"].is_string(), "{stream}: {rec}");
            for ts in ["timestamp", "date", "read_at"] {
                // A snapshot's `date` is the day it was read (`YYYY-MM-DD`).
                if let Some(t) = rec[ts].as_str().filter(|t| t.len() > 10) {
                    assert!(t.ends_with("+00:00"), "{stream}.{ts} is RFC 3339 with +00:00: {t}");
                }
            }
            if let Some(u) = rec["media_url"].as_str() {
                assert!(!u.contains("_nc_rid"), "volatile _nc_rid removed: {u}");
            }
        }
    }
    // Carousels carry their children inline as full objects, and children get no insights.
    for post in posts.iter().filter(|p| p.kind() == MediaKind::Carousel) {
        let rec = r.records("media").into_iter().find(|m| m["id"] == post.id.as_str()).unwrap();
        let children = rec["children"].as_array().unwrap();
        assert_eq!(children.len(), post.children.len());
        assert!(children.iter().all(|c| c["media_type"].is_string() && c["timestamp"].is_string()));
    }
    let insight_ids: BTreeSet<&str> = r.records("media_insights").iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(posts.iter().flat_map(|p| &p.children).all(|c| !insight_ids.contains(c.id.as_str())));
    // Reels get their reel metrics; a skipped object is logged.
    let reel = posts.iter().find(|p| p.kind() == MediaKind::Reel && !p.flags.any()).unwrap();
    let reel_rec = r.records("media_insights").into_iter().find(|m| m["id"] == reel.id.as_str()).unwrap();
    assert!(reel_rec["ig_reels_avg_watch_time"].is_number(), "{reel_rec}");
    let warns: Vec<&Value> = r.of_type("LOG").into_iter().filter(|l| l["log"]["level"] == "WARN").collect();
    for flagged in posts.iter().filter(|p| p.flags.any()) {
        assert!(
            warns.iter().any(|w| w["log"]["message"].as_str().unwrap().contains(&flagged.id)),
            "warning for {}",
            flagged.id
        );
    }
    // age,gender keeps both dimensions, bucket by bucket.
    let ag = r.records("user_lifetime_insights").into_iter().find(|x| x["breakdown"] == "age,gender").unwrap();
    let results = ag["results"].as_array().unwrap();
    assert_eq!(ag["value"].as_object().unwrap().len(), results.len(), "no bucket merged");
    assert!(results.iter().all(|x| x["dimension_values"].as_array().unwrap().len() == 2));
    // Each stream ends COMPLETE and each STATE counts the records before it.
    for stream in ALL_STREAMS {
        let statuses: Vec<&str> = r
            .of_type("TRACE")
            .into_iter()
            .filter(|t| {
                t["trace"]["type"] == "STREAM_STATUS"
                    && t["trace"]["stream_status"]["stream_descriptor"]["name"] == *stream
            })
            .map(|t| t["trace"]["stream_status"]["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, vec!["STARTED", "COMPLETE"], "{stream}");
        let counted: f64 = r
            .of_type("STATE")
            .into_iter()
            .filter(|s| s["state"]["stream"]["stream_descriptor"]["name"] == *stream)
            .map(|s| s["state"]["sourceStats"]["recordCount"].as_f64().unwrap())
            .sum();
        assert_eq!(counted as usize, expected[stream], "{stream} recordCount");
    }
}

/// The records `user_insights_breakdowns` holds for the whole dataset: one per account, day,
/// metric and dimension value of its breakdowns.
fn user_insights_breakdowns(data: &fake_graph::Dataset) -> usize {
    let breakdowns: &[(&str, &[&str])] = &[
        ("follower_type", &["views"]),
        ("media_product_type", &["views", "total_interactions", "likes", "comments", "shares", "saves", "reposts"]),
        ("follow_type", &["follows_and_unfollows"]),
        ("contact_button_type", &["profile_links_taps"]),
    ];
    let mut n = 0;
    for account in data.accounts() {
        for day in data.insight_days() {
            for (breakdown, metrics) in breakdowns {
                for metric in *metrics {
                    let total = fake_graph::insights::account_daily_value(data, account, metric, day).unwrap();
                    n += fake_graph::insights::total_value_breakdown_results(data, account, metric, breakdown, total)
                        .len();
                }
            }
        }
    }
    n
}

/// Parents are fetched once and insights are batched: a full read of the small dataset
/// needs only a handful of round trips, and no request ever returns an empty last page.
#[test]
fn round_trips_are_few() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_eq!(r.code, 0);
    let reqs = sb.fake.requests();
    let accounts = sb.dataset().accounts().len();
    let me_accounts = reqs.iter().filter(|q| q.path.ends_with("/me/accounts")).count();
    assert_eq!(me_accounts, 1, "the account list is fetched once");
    let per_child = reqs.iter().filter(|q| q.path.contains("/1800")).count();
    assert_eq!(per_child, 0, "no request per carousel child");
    // Per account: user node, media edge, stories edge, one batch each for media insights,
    // story insights and demographics, two for ~2 years of 30-day time-series windows (4
    // periods each, 50 operations per batch) and one for the daily totals.
    // A first sync probes every 30-day window of the ~2 years with daily reach, and asks the
    // other periods only where there is data (the small dataset has 10 days).
    let ops: Vec<String> = reqs.iter().flat_map(|q| q.batch_relative_urls()).collect();
    let probes = ops.iter().filter(|u| u.contains("period=day") && !u.contains("metric_type")).count();
    let weekly = ops.iter().filter(|u| u.contains("period=week")).count();
    assert!(probes >= 24 * accounts, "every window is probed ({probes})");
    assert!((1..=2 * accounts).contains(&weekly), "other periods only for windows with data ({weekly})");
    let listing: Vec<String> = reqs.iter().map(|q| format!("{} {} ops={}", q.method, q.path, q.batch_ops)).collect();
    // Plus, per account, one page of tags (the comments come with the media pages).
    assert!(reqs.len() <= 1 + accounts * 11, "{} requests: {listing:#?}", reqs.len());
}

/// A full read of the deterministic small dataset equals the golden file
/// (`UPDATE_GOLDEN=1` rewrites it after a deliberate change).
#[test]
fn golden_full_read() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&[ALL_STREAMS, PUBLIC_STREAMS].concat()), None);
    assert_eq!(r.code, 0);
    let actual: String = r.messages.iter().cloned().map(without_emitted_at).map(|m| m.to_string() + "\n").collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/read_small.jsonl");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).expect("tests/golden/read_small.jsonl exists (UPDATE_GOLDEN=1 creates it)");
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "golden line {}", i + 1);
    }
    assert_eq!(actual.lines().count(), expected.lines().count(), "golden line count");
}

/// A second read from the first read's final state emits only the lookback windows: media
/// within 7 days of each account's newest post, and the last 2 days of account insights.
#[test]
fn incremental_second_read_emits_only_the_lookback() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(INCREMENTAL);
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0);
    let second = sb.read(&cfg, &cat, Some(&first.final_state()));
    assert_eq!(second.code, 0, "{}", second.stdout);
    let data = sb.dataset();
    let mut want_media = BTreeSet::new();
    for a in data.accounts() {
        let newest = a.media.iter().map(|m| m.timestamp).max().unwrap();
        for m in &a.media {
            if m.timestamp >= newest - chrono::Duration::days(7) {
                want_media.insert(m.id.clone());
            }
        }
    }
    let got_media: BTreeSet<String> =
        second.records("media").iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(got_media, want_media);
    assert!(second.records("media_insights").iter().all(|m| want_media.contains(m["id"].as_str().unwrap())));
    let ui = second.records("user_insights");
    assert_eq!(ui.len(), data.accounts().len() * 2, "2 lookback days per account: {ui:?}");
    // Full-refresh streams are read in full again.
    assert_eq!(second.records("users").len(), data.accounts().len());
    // The state does not move backwards.
    let states =
        |r: &Run| -> Vec<Value> { r.final_state().as_array().unwrap().iter().map(|s| s["stream"].clone()).collect() };
    assert_eq!(states(&second), states(&first));
}

/// Airbyte's per-partition state (with its global fields) and the legacy
/// `{"<ig_user_id>": {"date"}}` state both resume user_insights from the cursor.
#[test]
fn incremental_accepts_airbyte_state_formats() {
    let sb = Sandbox::start(DatasetSpec::small());
    let data = sb.dataset();
    let days = data.insight_days();
    let cursor_day = days[days.len() - 4];
    let cursor = fake_graph::day_end_time(cursor_day).format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let ids: Vec<String> = data.accounts().iter().map(|a| a.ig_user_id.clone()).collect();
    // Days after cursor − 2 days: cursor_day − 1 .. last day.
    let expected = ids.len() * 5;

    let per_partition = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "user_insights"}, "stream_state": {
        "use_global_cursor": false,
        "states": ids.iter().map(|id| json!({"partition": {"business_account_id": id}, "cursor": {"date": cursor}})).collect::<Vec<_>>(),
        "state": {"date": cursor}, "lookback_window": 1, "parent_state": {}
    }}}]);
    let mut legacy_inner = serde_json::Map::new();
    for id in &ids {
        legacy_inner.insert(id.clone(), json!({"date": cursor.replace("+00:00", "+0000")}));
    }
    let legacy_dict = json!({"user_insights": Value::Object(legacy_inner.clone())});
    let legacy_message = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "user_insights"}, "stream_state": Value::Object(legacy_inner)}}]);

    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&["user_insights:incremental"]);
    for (name, state) in
        [("per-partition", per_partition), ("legacy dict", legacy_dict), ("legacy in a STREAM message", legacy_message)]
    {
        let r = sb.read(&cfg, &cat, Some(&state));
        assert_eq!(r.code, 0, "{name}: {}", r.stdout);
        let recs = r.records("user_insights");
        assert_eq!(recs.len(), expected, "{name}");
        assert!(
            recs.iter().all(|x| x["date"].as_str().unwrap() >= cursor.as_str() || x["date"].as_str().unwrap() > "0"),
            "{name}"
        );
        // Our own state format comes out.
        let st = &r.final_state()[0]["stream"]["stream_state"];
        assert_eq!(st["states"].as_array().unwrap().len(), ids.len(), "{name}: {st}");
    }
}

/// `start_date` limits user_insights (and media) to what comes after it.
#[test]
fn start_date_limits_history() {
    let sb = Sandbox::start(DatasetSpec::small());
    let days = sb.dataset().insight_days();
    let start = days[days.len() - 3].and_hms_opt(12, 0, 0).unwrap().and_utc();
    let cfg = sb.config(json!({"start_date": start.format("%Y-%m-%dT%H:%M:%SZ").to_string()}));
    let r = sb.read(&cfg, &sb.catalog(&["user_insights", "media"]), None);
    assert_eq!(r.code, 0);
    // Days ending after `start`: the last three days (each ends the next morning).
    assert_eq!(r.records("user_insights").len(), sb.dataset().accounts().len() * 3);
    for m in r.records("media") {
        assert!(m["timestamp"].as_str().unwrap() >= start.format("%Y-%m-%dT%H:%M:%S+00:00").to_string().as_str());
    }
}

/// When Meta retires a metric, it is dropped for each media kind (logged once per kind) and
/// every other metric and record stays.
#[test]
fn retired_metric_is_dropped_not_fatal() {
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        fake_graph::FakeOptions { retired_metrics: vec!["views".into()], ..Default::default() },
    );
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media_insights", "story_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(&["media_insights", "story_insights"]), None);
    for stream in ["media_insights", "story_insights"] {
        assert_eq!(r.records(stream).len(), baseline.records(stream).len(), "{stream}");
        assert!(r.records(stream).iter().all(|x| x.get("views").is_none() && x["reach"].is_number()), "{stream}");
    }
    let warnings: Vec<String> = r
        .of_type("LOG")
        .into_iter()
        .filter_map(|l| l["log"]["message"].as_str())
        .filter(|m| m.contains("`views`"))
        .map(str::to_string)
        .collect();
    assert!(!warnings.is_empty());
    let unique: BTreeSet<&String> = warnings.iter().collect();
    assert_eq!(unique.len(), warnings.len(), "each kind is logged once: {warnings:#?}");
}

/// Instagram Login: the token's own account (`me`), no Facebook Page (`page_id` null), and no
/// batch requests (a graph.facebook.com feature): insights go as concurrent GETs.
#[test]
fn instagram_login_reads_the_tokens_account() {
    let sb = Sandbox::start(DatasetSpec::small());
    let account = sb.dataset().accounts()[0].clone();
    let cfg = sb.config(json!({"login": "instagram"}));
    let streams =
        ["users", "media", "media_insights", "stories", "story_insights", "user_insights", "user_lifetime_insights"];
    let r = sb.read(&cfg, &sb.catalog(&streams), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let users = r.records("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["id"], account.ig_user_id.as_str());
    for stream in streams {
        let records = r.records(stream);
        assert!(!records.is_empty(), "{stream}");
        assert!(
            records.iter().all(|x| x["page_id"].is_null() && x["business_account_id"] == account.ig_user_id.as_str()),
            "{stream}"
        );
        let validator = jsonschema::validator_for(&schema(stream)).unwrap();
        assert!(records.iter().all(|x| validator.is_valid(x)), "{stream} matches its schema");
    }
    assert_eq!(r.records("media").len(), account.media.len());
    assert_eq!(r.records("media_insights").len(), account.media.iter().filter(|m| !m.flags.any()).count());
    let reqs = sb.fake.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"), "no batch requests with Instagram Login");
    assert!(reqs.iter().all(|q| !q.path.contains("/accounts")), "no Facebook Page lookup");
}
