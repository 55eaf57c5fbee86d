//! Media and account insights over HTTP.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use fake_graph::insights::{
    AGE_BUCKETS, CROSSPOST_METRICS, GENDERS, account_daily_value, demographic_results, media_metric_value,
    supported_media_metrics,
};
use fake_graph::{DatasetSpec, FakeOptions, MediaKind, day_end_time};
use serde_json::Value;

#[test]
fn media_insights_per_kind() {
    let graph = start_small();
    let ds = graph.dataset();
    let account = &ds.accounts()[0];
    let mut kinds_seen = Vec::new();
    for media in account.media.iter().chain(&account.stories).filter(|m| !m.flags.any()) {
        // The crossposted metrics only for media shared to Facebook (see `additions_2026`).
        let metrics: Vec<&str> = supported_media_metrics(media.kind())
            .iter()
            .copied()
            .filter(|m| media.extras.shared_to_facebook || !CROSSPOST_METRICS.contains(m))
            .collect();
        let body = get(&graph.url(&format!("/v24.0/{}/insights?metric={}", media.id, metrics.join(",")))).ok();
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), metrics.len());
        for (entry, metric) in data.iter().zip(&metrics) {
            assert_eq!(entry["name"], *metric);
            assert_eq!(entry["period"], "lifetime");
            assert_eq!(entry["id"], format!("{}/insights/{metric}/lifetime", media.id));
            assert!(entry["title"].is_string() && entry["description"].is_string());
            assert_eq!(entry["values"][0]["value"], media_metric_value(ds, media, metric).unwrap());
        }
        kinds_seen.push(media.kind());
    }
    for kind in [MediaKind::Image, MediaKind::Carousel, MediaKind::Reel, MediaKind::FeedVideo, MediaKind::Story] {
        assert!(kinds_seen.contains(&kind), "{kind:?} not covered");
    }
    // Reels numbers: watch times are numbers.
    let reel = account.media.iter().find(|m| m.kind() == MediaKind::Reel && !m.flags.any()).unwrap();
    let body =
        get(&graph.url(&format!("/v24.0/{}/insights?metric=ig_reels_avg_watch_time,reels_skip_rate", reel.id))).ok();
    assert!(body["data"][0]["values"][0]["value"].is_number());
    assert!(body["data"][1]["values"][0]["value"].is_f64());
}

#[test]
fn reference_connector_metric_lists_are_accepted() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[0];
    let lists = [
        (MediaKind::Reel, "comments,ig_reels_avg_watch_time,ig_reels_video_view_total_time,likes,reach,saved,shares"),
        (MediaKind::FeedVideo, "reach,saved"),
        (MediaKind::Carousel, "reach,saved,shares,follows,profile_visits"),
        (MediaKind::Image, "reach,saved,likes,comments,shares,follows,profile_visits"),
        (MediaKind::Story, "reach,replies,follows,profile_visits,shares,total_interactions"),
    ];
    for (kind, metrics) in lists {
        let media = account.media.iter().chain(&account.stories).find(|m| m.kind() == kind && !m.flags.any()).unwrap();
        assert_eq!(get(&graph.url(&format!("/v24.0/{}/insights?metric={metrics}", media.id))).status, 200, "{kind:?}");
    }
}

#[test]
fn media_insights_errors() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[0];
    let image = account.media.iter().find(|m| m.kind() == MediaKind::Image && !m.flags.any()).unwrap();
    let video = account.media.iter().find(|m| m.kind() == MediaKind::FeedVideo && !m.flags.any()).unwrap();

    // Metrics retired in v22: Meta's two wordings, by media kind (a third-party report of live
    // answers); older or unknown names: "must be one of".
    let retired = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach,impressions", image.id))).error(400);
    assert_eq!(retired["code"], 100);
    assert!(retired.get("error_subcode").is_none());
    assert_eq!(
        retired["message"],
        "(#100) Starting from version v22.0 and above, the impressions metric is no longer supported for the queried media"
    );
    for old in ["plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count"] {
        let e = get(&graph.url(&format!("/v24.0/{}/insights?metric={old}", video.id))).error(400);
        let want =
            format!("(#100) The Media Insights API does not support the {old} metric for this media product type");
        assert_eq!(e["message"], want.as_str(), "{old}");
    }
    for old in ["video_views", "carousel_album_reach", "engagement"] {
        let e = get(&graph.url(&format!("/v24.0/{}/insights?metric={old}", video.id))).error(400);
        assert!(e["message"].as_str().unwrap().contains("metric[0] must be one of"), "{old}");
    }
    let user =
        get(&graph.url(&format!("/v24.0/{}/insights?metric=impressions&period=day", account.ig_user_id))).error(400);
    assert!(
        user["message"].as_str().unwrap().starts_with(
            "(#100) Starting from version 22 and above, the impressions metric is no longer supported for the queried user."
        ),
        "{user}"
    );

    let wrong_kind = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach,profile_visits", video.id))).error(400);
    assert_eq!(wrong_kind["code"], 100);
    assert!(wrong_kind.get("error_subcode").is_none());
    assert_eq!(
        wrong_kind["message"],
        "(#100) The Media Insights API does not support the profile_visits metric for this media product type"
    );

    let carousel = account.media.iter().find(|m| m.is_carousel()).unwrap();
    let child = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach", carousel.children[0].id))).error(400);
    assert_eq!(child["code"], 100);
    assert!(child["message"].as_str().unwrap().contains("carousel album children"));

    let flagged =
        |pick: fn(&fake_graph::Media) -> bool| account.media.iter().chain(&account.stories).find(|m| pick(m)).unwrap();
    let before = flagged(|m| m.flags.posted_before_business);
    let e = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach,saved", before.id))).error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(100), Some(2108006)));
    assert_eq!(e["type"], "OAuthException");
    assert_eq!(e["is_transient"], false);

    let inaccessible = flagged(|m| m.flags.inaccessible);
    let metrics = supported_media_metrics(inaccessible.kind()).join(",");
    let e = get(&graph.url(&format!("/v24.0/{}/insights?metric={metrics}", inaccessible.id))).error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(100), Some(33)));

    let no_permission = flagged(|m| m.flags.no_permission);
    let e = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach", no_permission.id))).error(400);
    assert_eq!(e["code"], 10);
    assert_eq!(e["message"], "(#10) Application does not have permission for this action");

    let story = flagged(|m| m.flags.few_viewers);
    let e = get(&graph.url(&format!("/v24.0/{}/insights?metric=reach,replies", story.id))).error(400);
    assert_eq!(e["code"], 10);
    assert_eq!(e["message"], "(#10) Not enough viewers for the media to show insights");

    let none = get(&graph.url(&format!("/v24.0/{}/insights", image.id))).error(400);
    assert_eq!(none["code"], 100);
}

fn ts(day: &str) -> i64 {
    Utc.from_utc_datetime(&chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap())
        .timestamp()
}

#[test]
fn time_series_windows() {
    let graph = start_small();
    let ds = graph.dataset();
    let account = &ds.accounts()[0];
    let ig = &account.ig_user_id;

    // A one-day window [Oct 28 00:00, Oct 29 00:00] holds the value ending Oct 28 07:00 (day Oct 27).
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=follower_count,reach&period=day&since=2026-10-28T00:00:00%2B00:00&until=2026-10-29T00:00:00%2B00:00"
    )))
    .ok();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 27).unwrap();
    for (entry, metric) in data.iter().zip(["follower_count", "reach"]) {
        assert_eq!(entry["name"], metric);
        assert_eq!(entry["id"], format!("{ig}/insights/{metric}/day"));
        let values = entry["values"].as_array().unwrap();
        assert_eq!(values.len(), 1);
        assert_eq!(values[0]["end_time"], "2026-10-28T07:00:00+0000");
        assert_eq!(values[0]["value"], account_daily_value(ds, account, metric, day).unwrap());
    }
    assert!(body["paging"]["next"].is_string() && body["paging"]["previous"].is_string());

    // Unix seconds, a 10-day window: every dataset day whose end_time is inside.
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reach&period=day&since={}&until={}",
        ts("2026-10-20"),
        ds.now().timestamp()
    )))
    .ok();
    let end_times: Vec<&str> =
        body["data"][0]["values"].as_array().unwrap().iter().map(|v| v["end_time"].as_str().unwrap()).collect();
    assert_eq!(end_times.len(), 10, "all 10 dataset days (Oct 22..31)");
    assert_eq!(end_times[0], "2026-10-23T07:00:00+0000");
    assert_eq!(end_times[9], "2026-11-01T07:00:00+0000");

    // Week / days_28 and online_followers.
    for period in ["week", "days_28"] {
        let body = get(&graph.url(&format!("/v24.0/{ig}/insights?metric=reach&period={period}"))).ok();
        assert_eq!(body["data"][0]["period"], period);
        assert_eq!(body["data"][0]["values"].as_array().unwrap().len(), 2, "default window: last 2 days");
    }
    let body = get(&graph.url(&format!("/v24.0/{ig}/insights?metric=online_followers&period=lifetime"))).ok();
    let hours = body["data"][0]["values"][0]["value"].as_object().unwrap();
    assert_eq!(hours.len(), 24);
    assert!(hours.contains_key("0") && hours.contains_key("23"));

    // Wrong period for a metric.
    let e = get(&graph.url(&format!("/v24.0/{ig}/insights?metric=follower_count&period=week"))).error(400);
    assert_eq!(e["code"], 100);
    // Unknown / retired account metrics.
    for old in ["profile_views", "website_clicks", "audience_city"] {
        let e = get(&graph.url(&format!("/v24.0/{ig}/insights?metric={old}&period=day"))).error(400);
        assert!(e["message"].as_str().unwrap().starts_with("(#100) metric[0] must be one of the following values"));
    }
}

#[test]
fn thirty_day_rule_and_recent_only_metrics() {
    let graph = start(DatasetSpec::bench(), FakeOptions::default());
    let ds = graph.dataset();
    let ig = &ds.accounts()[0].ig_user_id;
    let now = ds.now();
    let e = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reach&period=day&since={}&until={}",
        (now - Duration::days(31)).timestamp(),
        now.timestamp()
    )))
    .error(400);
    assert_eq!(e["code"], 100);
    assert_eq!(e["message"], "(#100) There cannot be more than 30 days (2592000 s) between since and until");
    // Exactly 30 days is allowed.
    let ok = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reach&period=day&since={}&until={}",
        (now - Duration::days(30)).timestamp(),
        now.timestamp()
    )));
    assert_eq!(ok.status, 200);
    // More than 2 years back.
    let e = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reach&period=day&since={}&until={}",
        (now - Duration::days(800)).timestamp(),
        (now - Duration::days(799)).timestamp()
    )))
    .error(400);
    assert!(e["message"].as_str().unwrap().contains("2 years"));

    // 45..40 days ago: reach has values; a request of follower_count or online_followers
    // reaching past the last 30 Pacific days is refused as a whole, naming the metric.
    let window =
        format!("since={}&until={}", (now - Duration::days(45)).timestamp(), (now - Duration::days(40)).timestamp());
    let body = get(&graph.url(&format!("/v24.0/{ig}/insights?metric=reach&period=day&{window}"))).ok();
    assert_eq!(body["data"][0]["values"].as_array().unwrap().len(), 5);
    for (metrics, period) in [("reach,follower_count", "day"), ("online_followers", "lifetime")] {
        let metric = metrics.trim_start_matches("reach,");
        let e = get(&graph.url(&format!("/v24.0/{ig}/insights?metric={metrics}&period={period}&{window}"))).error(400);
        assert_eq!(
            e["message"],
            format!(
                "(#100) ({metric}) metric only supports querying data for the last 30 days excluding the current day"
            )
        );
    }
    // The range starts at the Pacific midnight 30 days before today (2026-10-02 07:00 UTC,
    // PDT): from there the 30 days come, one second earlier is refused.
    let start = fake_graph::insights::recent_only_since(now);
    assert_eq!(start.to_rfc3339(), "2026-10-02T07:00:00+00:00");
    let ask = |since: i64| {
        get(&graph.url(&format!(
            "/v24.0/{ig}/insights?metric=follower_count&period=day&since={since}&until={}",
            start.timestamp() + 30 * 86_400
        )))
    };
    assert_eq!(ask(start.timestamp()).ok()["data"][0]["values"].as_array().unwrap().len(), 30);
    assert_eq!(ask(start.timestamp() - 1).status, 400);
    // Before the dataset's first day: empty.
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reach&period=day&since={}&until={}",
        (now - Duration::days(90)).timestamp(),
        (now - Duration::days(70)).timestamp()
    )))
    .ok();
    assert_eq!(body["data"], serde_json::json!([]));
}

#[test]
fn total_value_sums_the_window() {
    let graph = start_small();
    let ds = graph.dataset();
    let account = &ds.accounts()[1];
    let ig = &account.ig_user_id;
    let metrics = [
        "views",
        "accounts_engaged",
        "total_interactions",
        "likes",
        "comments",
        "shares",
        "saves",
        "replies",
        "profile_links_taps",
        "follows_and_unfollows",
        "reposts",
        "reach",
    ];
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric={}&period=day&metric_type=total_value&since=2026-10-25&until=2026-10-31",
        metrics.join(",")
    )))
    .ok();
    let since = Utc.with_ymd_and_hms(2026, 10, 25, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap();
    let days: Vec<_> =
        ds.insight_days().into_iter().filter(|d| day_end_time(*d) > since && day_end_time(*d) <= until).collect();
    assert_eq!(days.len(), 6);
    for (entry, metric) in body["data"].as_array().unwrap().iter().zip(metrics) {
        assert_eq!(entry["name"], metric);
        assert!(entry.get("values").is_none());
        let expected: u64 = days.iter().map(|d| account_daily_value(ds, account, metric, *d).unwrap()).sum();
        assert_eq!(entry["total_value"]["value"], expected, "{metric}");
    }
    let e = get(&graph.url(&format!("/v24.0/{ig}/insights?metric=views,likes&period=day"))).error(400);
    assert_eq!(
        e["message"],
        "(#100) The following metrics (views, likes) should be specified with parameter metric_type=total_value"
    );
    // Breakdown on a total-value metric: parts add up.
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=views&period=day&metric_type=total_value&breakdown=media_product_type"
    )))
    .ok();
    let total = &body["data"][0]["total_value"];
    let parts: u64 =
        total["breakdowns"][0]["results"].as_array().unwrap().iter().map(|r| r["value"].as_u64().unwrap()).sum();
    assert_eq!(parts, total["value"].as_u64().unwrap());
}

#[test]
fn demographics_age_gender() {
    let graph = start_small();
    let ds = graph.dataset();
    let account = &ds.accounts()[0];
    let ig = &account.ig_user_id;
    let body = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?limit=100&metric=follower_demographics&period=lifetime&breakdown=age,gender&metric_type=total_value"
    )))
    .ok();
    let entry = &body["data"][0];
    assert_eq!(entry["name"], "follower_demographics");
    assert_eq!(entry["period"], "lifetime");
    let breakdown = &entry["total_value"]["breakdowns"][0];
    assert_eq!(breakdown["dimension_keys"], serde_json::json!(["age", "gender"]));
    let results = breakdown["results"].as_array().unwrap();
    assert_eq!(results.len(), AGE_BUCKETS.len() * GENDERS.len());
    let mut pairs: Vec<(String, String)> = results
        .iter()
        .map(|r| (r["dimension_values"][0].as_str().unwrap().into(), r["dimension_values"][1].as_str().unwrap().into()))
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 21, "every (age, gender) pair once");
    // Same ages carry several genders with their own values: a first-dimension key would collide.
    let first_age: Vec<u64> =
        results.iter().filter(|r| r["dimension_values"][0] == "18-24").map(|r| r["value"].as_u64().unwrap()).collect();
    assert_eq!(first_age.len(), 3);
    let expected = demographic_results(ds, account, "follower_demographics", None, &["age", "gender"]);
    assert_eq!(results[0]["value"], expected[0].1);

    // Single breakdowns: age sums over genders; city names contain commas.
    let age = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=follower_demographics&period=lifetime&breakdown=age&metric_type=total_value"
    )))
    .ok();
    let age_total: u64 = age["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_u64().unwrap())
        .sum();
    let pair_total: u64 = results.iter().map(|r| r["value"].as_u64().unwrap()).sum();
    assert_eq!(age_total, pair_total);
    let city = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=reached_audience_demographics&period=lifetime&breakdown=city&metric_type=total_value&timeframe=this_week"
    )))
    .ok();
    // With a timeframe, Meta's reference example puts it first among the dimensions.
    let breakdown = &city["data"][0]["total_value"]["breakdowns"][0];
    assert_eq!(breakdown["dimension_keys"], serde_json::json!(["timeframe", "city"]));
    let first_city = &breakdown["results"][0]["dimension_values"];
    assert_eq!(first_city[0], "THIS_WEEK");
    assert!(first_city[1].as_str().unwrap().contains(", "));
    // As another capture shows it: the breakdown's keys only.
    let plain = start(
        DatasetSpec::small(),
        FakeOptions {
            quirks: fake_graph::Quirks { demographics_timeframe_dimension: false, ..fake_graph::Quirks::default() },
            ..FakeOptions::default()
        },
    );
    let city = get(&plain.url(&format!(
        "/v24.0/{ig}/insights?metric=reached_audience_demographics&period=lifetime&breakdown=city&metric_type=total_value&timeframe=this_week"
    )))
    .ok();
    assert_eq!(city["data"][0]["total_value"]["breakdowns"][0]["dimension_keys"], serde_json::json!(["city"]));

    // timeframe is required for engaged/reached audiences; period must be lifetime.
    let e = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=engaged_audience_demographics&period=lifetime&breakdown=country&metric_type=total_value"
    )))
    .error(400);
    assert_eq!(e["code"], 100);
    let e = get(&graph.url(&format!(
        "/v24.0/{ig}/insights?metric=follower_demographics&period=day&breakdown=country&metric_type=total_value"
    )))
    .error(400);
    assert_eq!(e["code"], 100);
    let e =
        get(&graph.url(&format!("/v24.0/{ig}/insights?metric=follower_demographics&period=lifetime&breakdown=age")))
            .error(400);
    assert!(e["message"].as_str().unwrap().contains("metric_type=total_value"));
}

/// A breakdown a metric does not have answers HTTP 500, code 1 "An unknown error has
/// occurred." (not code 100), as Meta does; so does one the fake was told to withdraw.
#[test]
fn unsupported_breakdowns_answer_code_1() {
    let quirks = fake_graph::Quirks {
        unsupported_breakdowns: vec![("navigation".into(), "story_navigation_action_type".into())],
        ..fake_graph::Quirks::default()
    };
    let graph = start_small();
    let withdrawn = start(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
    let account = &graph.dataset().accounts()[0];
    let ig = &account.ig_user_id;
    let story = account.stories.iter().find(|s| !s.flags.any()).unwrap();
    let image = account.media.iter().find(|m| m.kind() == MediaKind::Image && !m.flags.any()).unwrap();
    let nav = format!("/v24.0/{}/insights?metric=navigation&breakdown=story_navigation_action_type", story.id);
    assert_eq!(get(&graph.url(&nav)).status, 200);
    for (g, path) in [
        (&withdrawn, nav.clone()),
        (&graph, format!("/v24.0/{}/insights?metric=reach&breakdown=story_navigation_action_type", image.id)),
        (&graph, format!("/v24.0/{ig}/insights?metric=likes&period=day&metric_type=total_value&breakdown=follow_type")),
        (
            &graph,
            format!(
                "/v24.0/{ig}/insights?metric=follower_demographics&period=lifetime&metric_type=total_value&breakdown=city,country"
            ),
        ),
    ] {
        let e = get(&g.url(&path)).error(500);
        assert_eq!(
            (e["code"].as_i64(), e["message"].as_str()),
            (Some(1), Some("An unknown error has occurred.")),
            "{path}"
        );
        assert!(e.get("is_transient").is_none(), "{e}");
    }
}

#[test]
fn insight_values_are_stable_across_servers() {
    let a = start_small();
    let b = start_small();
    let path =
        "/v24.0/17841400000000002/insights?metric=reach,follower_count&period=day&since=2026-10-22&until=2026-10-31";
    let left: Value = get(&a.url(path)).ok()["data"].clone();
    let right: Value = get(&b.url(path)).ok()["data"].clone();
    assert_eq!(left, right);
}
