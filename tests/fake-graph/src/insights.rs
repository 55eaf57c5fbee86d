//! Insights: which metrics exist for which object, their deterministic values,
//! and the `/{media}/insights` and `/{ig-user}/insights` responses and errors.
//!
//! Values are pure functions of (seed, object id, metric[, day]), so tests can
//! compute the expected numbers with the public functions here
//! ([`media_metric_value`], [`account_daily_value`], [`demographic_results`]).
//!
//! Time windows: days are Pacific dates (Meta's); a dataset day `D` is reported with
//! `end_time` = the midnight that ends it in America/Los_Angeles (`D+1 07:00 UTC` in summer,
//! `08:00 UTC` in winter; see [`day_end_time`]) and belongs to a request window when
//! `since < end_time <= until`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use crate::dataset::{Account, Dataset, GRAPH_TIME_FORMAT, Media, MediaKind, day_end_time};
use crate::graph_error::GraphError;
use crate::paging::LinkBuilder;
use crate::quirks::{NavigationCase, Quirks};
use crate::request::Params;
use crate::stable_hash::{hash_parts, in_range};

// ---------------------------------------------------------------------------
// Media insights
// ---------------------------------------------------------------------------

/// Every media metric the current API knows, in the order error messages list them.
pub const MEDIA_METRICS: &[&str] = &[
    "comments",
    "follows",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
    "likes",
    "navigation",
    "profile_activity",
    "profile_visits",
    "reach",
    "reels_skip_rate",
    "replies",
    "saved",
    "shares",
    "total_interactions",
    "views",
];

/// Metrics retired by Meta; requesting them fails like any unknown metric.
pub const RETIRED_MEDIA_METRICS: &[&str] = &[
    "impressions",
    "plays",
    "video_views",
    "clips_replays_count",
    "ig_reels_aggregated_all_plays_count",
    "carousel_album_impressions",
    "carousel_album_reach",
    "carousel_album_engagement",
    "carousel_album_saved",
    "carousel_album_video_views",
    "engagement",
    "exits",
    "taps_forward",
    "taps_back",
];

/// Media metrics deprecated in v22.0 (Meta's changelog): asked, they are refused with Meta's
/// v22 wordings; the other [`RETIRED_MEDIA_METRICS`] are unknown names by now.
pub const RETIRED_IN_V22: &[&str] =
    &["impressions", "plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count"];

/// Metrics supported for each media kind (empty for carousel children).
pub fn supported_media_metrics(kind: MediaKind) -> &'static [&'static str] {
    match kind {
        MediaKind::Image => &[
            "reach",
            "saved",
            "likes",
            "comments",
            "shares",
            "follows",
            "profile_visits",
            "total_interactions",
            "views",
            "profile_activity",
        ],
        MediaKind::Carousel => &[
            "reach",
            "saved",
            "likes",
            "comments",
            "shares",
            "follows",
            "profile_visits",
            "total_interactions",
            "views",
        ],
        MediaKind::FeedVideo => &["reach", "saved", "likes", "comments", "shares", "total_interactions", "views"],
        MediaKind::Reel => &[
            "reach",
            "saved",
            "likes",
            "comments",
            "shares",
            "total_interactions",
            "views",
            "ig_reels_avg_watch_time",
            "ig_reels_video_view_total_time",
            "reels_skip_rate",
        ],
        MediaKind::Story => {
            &["reach", "replies", "follows", "profile_visits", "shares", "total_interactions", "views", "navigation"]
        }
        MediaKind::CarouselChild => &[],
    }
}

const STORY_NAVIGATION_ACTIONS: [&str; 4] = ["tap_forward", "tap_back", "tap_exit", "swipe_forward"];
const PROFILE_ACTIVITY_ACTIONS: [&str; 4] = ["bio_link_clicked", "call", "direction", "email"];

fn media_hash(ds: &Dataset, media: &Media, what: &str) -> u64 {
    hash_parts([ds.spec().seed.to_string().as_str(), "media-insight", &media.id, what])
}

/// The value of `metric` for `media`, or `None` when the metric is not
/// supported for its kind. Integers, except `reels_skip_rate` (a percentage
/// with two decimals).
pub fn media_metric_value(ds: &Dataset, media: &Media, metric: &str) -> Option<Value> {
    let kind = media.kind();
    if !supported_media_metrics(kind).contains(&metric) {
        return None;
    }
    let h = |what: &str| media_hash(ds, media, what);
    let reach = match kind {
        MediaKind::Reel => in_range(h("reach"), 500, 30_000),
        MediaKind::FeedVideo => in_range(h("reach"), 200, 8_000),
        MediaKind::Story => in_range(h("reach"), 20, 1_500),
        _ => in_range(h("reach"), 100, 5_000),
    };
    let saved = in_range(h("saved"), 0, reach / 20 + 1);
    let shares = in_range(h("shares"), 0, reach / 30 + 1);
    let likes = media.like_count.unwrap_or(0);
    let comments = media.comments_count.unwrap_or(0);
    let replies = in_range(h("replies"), 0, 20);
    let views = reach + in_range(h("views"), 0, reach * 2);
    let navigation_parts: Vec<u64> =
        STORY_NAVIGATION_ACTIONS.iter().map(|a| in_range(h(a), 0, reach / 2 + 1)).collect();
    let avg_watch_ms = in_range(h("avg_watch"), 2_000, 25_000);
    let value = match metric {
        "reach" => json!(reach),
        "saved" => json!(saved),
        "shares" => json!(shares),
        "likes" => json!(likes),
        "comments" => json!(comments),
        "replies" => json!(replies),
        "follows" => json!(in_range(h("follows"), 0, 20)),
        "profile_visits" => json!(in_range(h("profile_visits"), 0, 60)),
        "profile_activity" => json!(profile_activity_parts(ds, media).iter().sum::<u64>()),
        "views" => json!(views),
        "total_interactions" => match kind {
            MediaKind::Story => json!(replies + shares),
            _ => json!(likes + comments + saved + shares),
        },
        "navigation" => json!(navigation_parts.iter().sum::<u64>()),
        "ig_reels_avg_watch_time" => json!(avg_watch_ms),
        "ig_reels_video_view_total_time" => json!(avg_watch_ms * views),
        "reels_skip_rate" => json!(in_range(h("skip_rate"), 500, 7_500) as f64 / 100.0),
        _ => return None,
    };
    Some(value)
}

fn profile_activity_parts(ds: &Dataset, media: &Media) -> Vec<u64> {
    PROFILE_ACTIVITY_ACTIONS.iter().map(|a| in_range(media_hash(ds, media, a), 0, 12)).collect()
}

fn story_navigation_parts(ds: &Dataset, media: &Media, reach: u64) -> Vec<u64> {
    STORY_NAVIGATION_ACTIONS.iter().map(|a| in_range(media_hash(ds, media, a), 0, reach / 2 + 1)).collect()
}

/// `GET /{media-id}/insights?metric=...[&breakdown=...]`.
///
/// Refusals, as Meta words them (code 100): a name it does not know, `metric[i] must be one of
/// the following values: …`; a retired metric ([`RETIRED_IN_V22`] and `retired`),
/// `Starting from version v22.0 and above, the impressions metric is no longer supported for
/// the queried media` on images and carousels and `The Media Insights API does not support
/// the impressions metric for this media product type` on videos, reels and stories (a
/// third-party report of live answers); a metric the kind lacks, or one refused for this
/// object ([`Quirks::refused_for`]), the latter.
pub(crate) fn media_insights(
    ds: &Dataset,
    media: &Media,
    params: &Params,
    retired: &[String],
    quirks: &Quirks,
) -> Result<Value, GraphError> {
    let metrics = requested_metrics(params)?;
    let is_retired = |m: &str| RETIRED_IN_V22.contains(&m) || retired.iter().any(|r| r == m);
    for (position, metric) in metrics.iter().enumerate() {
        if !MEDIA_METRICS.contains(&metric.as_str()) && !is_retired(metric) {
            let valid: Vec<&str> = MEDIA_METRICS.iter().copied().filter(|m| !is_retired(m)).collect();
            return Err(unknown_metric(position, &valid));
        }
    }
    let kind = media.kind();
    if kind == MediaKind::CarouselChild {
        return Err(GraphError::invalid_parameter("Insights are not available for carousel album children"));
    }
    let not_for_product_type = |metric: &str| {
        GraphError::invalid_parameter(format!(
            "The Media Insights API does not support the {metric} metric for this media product type"
        ))
    };
    if let Some(metric) = metrics.iter().find(|m| is_retired(m)) {
        return Err(match kind {
            MediaKind::Image | MediaKind::Carousel => GraphError::invalid_parameter(format!(
                "Starting from version v22.0 and above, the {metric} metric is no longer supported for the queried media"
            )),
            _ => not_for_product_type(metric),
        });
    }
    let supported = supported_media_metrics(kind);
    if let Some(metric) =
        metrics.iter().find(|m| !supported.contains(&m.as_str()) || quirks.refuses(m.as_str(), &media.id))
    {
        return Err(not_for_product_type(metric));
    }
    let breakdown = params.get("breakdown").filter(|b| !b.is_empty());
    if let Some(b) = breakdown {
        let ok = match b {
            "story_navigation_action_type" => metrics.iter().all(|m| m == "navigation"),
            "action_type" => metrics.iter().all(|m| m == "profile_activity"),
            _ => false,
        };
        // An unsupported breakdown: code 1, "An unknown error has occurred." (real answers).
        if !ok || metrics.iter().any(|m| quirks.withdrawn(m, b)) {
            return Err(GraphError::unknown_error_has_occurred());
        }
    }
    let flags = media.flags;
    if flags.inaccessible {
        return Err(GraphError::unsupported_request("GET", &media.id));
    }
    if flags.posted_before_business {
        return Err(GraphError::media_posted_before_business_conversion());
    }
    if flags.no_permission {
        return Err(GraphError::no_permission());
    }
    if flags.few_viewers {
        return Err(GraphError::not_enough_viewers());
    }

    let data = metrics
        .iter()
        .map(|metric| {
            let value = media_metric_value(ds, media, metric).expect("checked as supported");
            let mut entry = Map::new();
            entry.insert("name".into(), json!(metric));
            entry.insert("period".into(), json!("lifetime"));
            entry.insert("values".into(), json!([{ "value": value }]));
            if let Some(b) = breakdown {
                let (keys, parts): (&[&str], Vec<u64>) = if b == "action_type" {
                    (&PROFILE_ACTIVITY_ACTIONS, profile_activity_parts(ds, media))
                } else {
                    let reach = media_metric_value(ds, media, "reach").and_then(|v| v.as_u64()).unwrap_or(0);
                    (&STORY_NAVIGATION_ACTIONS, story_navigation_parts(ds, media, reach))
                };
                // Some captures spell the actions in upper case (`TAP_FORWARD`), the docs lower.
                let upper = b == "story_navigation_action_type"
                    && match quirks.navigation_case {
                        NavigationCase::Lower => false,
                        NavigationCase::Upper => true,
                        NavigationCase::Mixed => ds.owner_account(&media.id).is_some_and(|a| a.index % 2 == 1),
                    };
                let results: Vec<Value> = keys
                    .iter()
                    .zip(parts)
                    .map(|(k, v)| {
                        let k = if upper { k.to_ascii_uppercase() } else { k.to_string() };
                        json!({ "dimension_values": [k], "value": v })
                    })
                    .collect();
                entry.insert(
                    "total_value".into(),
                    json!({ "value": value, "breakdowns": [{ "dimension_keys": [b], "results": results }] }),
                );
            }
            let (title, description) = metric_texts(metric);
            entry.insert("title".into(), json!(title));
            entry.insert("description".into(), json!(description));
            entry.insert("id".into(), json!(format!("{}/insights/{metric}/lifetime", media.id)));
            Value::Object(entry)
        })
        .collect::<Vec<_>>();
    Ok(json!({ "data": data }))
}

// ---------------------------------------------------------------------------
// Account insights
// ---------------------------------------------------------------------------

/// Every account metric the current API knows, in the order error messages list them.
pub const ACCOUNT_METRICS: &[&str] = &[
    "reach",
    "follower_count",
    "online_followers",
    "accounts_engaged",
    "total_interactions",
    "likes",
    "comments",
    "shares",
    "saves",
    "replies",
    "engaged_audience_demographics",
    "reached_audience_demographics",
    "follower_demographics",
    "follows_and_unfollows",
    "profile_links_taps",
    "views",
    "reposts",
];

/// Metrics that only exist as `metric_type=total_value` with `period=day`.
pub const TOTAL_VALUE_METRICS: &[&str] = &[
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
];

/// Demographic metrics (`period=lifetime`, `metric_type=total_value`, `breakdown`).
pub const DEMOGRAPHIC_METRICS: &[&str] =
    &["follower_demographics", "engaged_audience_demographics", "reached_audience_demographics"];

pub const AGE_BUCKETS: [&str; 7] = ["13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
pub const GENDERS: [&str; 3] = ["F", "M", "U"];
pub const CITIES: [&str; 8] = [
    "London, England",
    "Paris, Île-de-France",
    "New York, New York",
    "Berlin, Berlin",
    "São Paulo, São Paulo (state)",
    "Tokyo, Tokyo",
    "Manchester, England",
    "Lyon, Auvergne-Rhône-Alpes",
];
pub const COUNTRIES: [&str; 8] = ["GB", "FR", "US", "DE", "BR", "JP", "ES", "IT"];

const PERIODS: &[&str] = &["day", "week", "days_28", "month", "lifetime", "total_over_range"];
const MAX_WINDOW_SECONDS: i64 = 30 * 24 * 3600;
/// How far back `follower_count` and `online_followers` have data: the last 30 Pacific days,
/// the current day excluded.
pub const RECENT_ONLY_DAYS: i64 = 30;
/// The metrics Meta serves only for the last [`RECENT_ONLY_DAYS`].
pub const RECENT_ONLY_METRICS: &[&str] = &["follower_count", "online_followers"];

/// The earliest `since` Meta accepts for [`RECENT_ONLY_METRICS`] at `now`: the start of the
/// Pacific day 30 days before the current one.
pub fn recent_only_since(now: DateTime<Utc>) -> DateTime<Utc> {
    crate::dataset::day_start_time(crate::dataset::pacific_date(now) - Duration::days(RECENT_ONLY_DAYS))
}

/// A time series of a recent-only metric whose `since` reaches further back is refused as a
/// whole (code 100), as Meta does, naming the metric.
fn refuse_old_recent_only(ds: &Dataset, metrics: &[String], window: &Window) -> Result<(), GraphError> {
    match metrics.iter().find(|m| RECENT_ONLY_METRICS.contains(&m.as_str())) {
        Some(m) if window.since < recent_only_since(ds.now()) => Err(GraphError::invalid_parameter(format!(
            "({m}) metric only supports querying data for the last {RECENT_ONLY_DAYS} days excluding the current day"
        ))),
        _ => Ok(()),
    }
}

/// Periods a metric supports as a time series.
fn time_series_periods(metric: &str) -> &'static [&'static str] {
    match metric {
        "reach" => &["day", "week", "days_28"],
        "follower_count" => &["day"],
        "online_followers" => &["lifetime"],
        _ => &[],
    }
}

fn supports_total_value(metric: &str) -> bool {
    metric == "reach" || TOTAL_VALUE_METRICS.contains(&metric)
}

/// Breakdowns accepted for total-value (non-demographic) metrics, with their dimension values.
fn total_value_breakdown(metric: &str, breakdown: &str) -> Option<&'static [&'static str]> {
    match (breakdown, metric) {
        (
            "media_product_type",
            "views" | "reach" | "total_interactions" | "likes" | "comments" | "shares" | "saves" | "replies"
            | "reposts",
        ) => Some(&["AD", "FEED", "REELS", "STORY"]),
        ("follower_type", "views" | "reach" | "accounts_engaged") => Some(&["FOLLOWER", "NON_FOLLOWER"]),
        ("follow_type", "follows_and_unfollows") => Some(&["FOLLOWER", "NON_FOLLOWER", "UNKNOWN"]),
        ("contact_button_type", "profile_links_taps") => {
            Some(&["BOOK_NOW", "CALL", "DIRECTION", "EMAIL", "INSTANT_EXPERIENCE", "TEXT", "UNDEFINED"])
        }
        _ => None,
    }
}

fn account_hash(ds: &Dataset, account: &Account, parts: &[&str]) -> u64 {
    let seed = ds.spec().seed.to_string();
    let mut all = vec![seed.as_str(), "account-insight", account.ig_user_id.as_str()];
    all.extend_from_slice(parts);
    hash_parts(all)
}

/// The value of a daily metric for one account and calendar day. Defined for
/// any day (week/days_28 aggregates look before the dataset's first day), but
/// responses only report dataset days. `None` for metrics without daily values
/// (`online_followers`, demographics, unknown names).
pub fn account_daily_value(ds: &Dataset, account: &Account, metric: &str, day: NaiveDate) -> Option<u64> {
    let day_s = day.to_string();
    let h = |m: &str| account_hash(ds, account, &[m, &day_s]);
    let value = match metric {
        "reach" => in_range(h("reach"), 300, 8_000),
        "views" => in_range(h("views"), 800, 20_000),
        "accounts_engaged" => in_range(h("accounts_engaged"), 20, 600),
        "likes" => in_range(h("likes"), 20, 900),
        "comments" => in_range(h("comments"), 0, 80),
        "shares" => in_range(h("shares"), 0, 60),
        "saves" => in_range(h("saves"), 0, 90),
        "replies" => in_range(h("replies"), 0, 25),
        "reposts" => in_range(h("reposts"), 0, 15),
        "profile_links_taps" => in_range(h("profile_links_taps"), 0, 40),
        "follows_and_unfollows" => in_range(h("follows_and_unfollows"), 0, 30),
        "follower_count" => in_range(h("follower_count"), 0, 40),
        "total_interactions" => ["likes", "comments", "shares", "saves", "replies", "reposts"]
            .iter()
            .map(|m| account_daily_value(ds, account, m, day).unwrap_or(0))
            .sum(),
        _ => return None,
    };
    Some(value)
}

/// `reach` over a rolling week / 28 days ending on `day` (unique accounts, so
/// less than the sum of daily reach).
pub fn account_rolling_reach(ds: &Dataset, account: &Account, day: NaiveDate, days: i64) -> u64 {
    let sum: u64 =
        (0..days).map(|k| account_daily_value(ds, account, "reach", day - Duration::days(k)).unwrap_or(0)).sum();
    sum * if days <= 7 { 8 } else { 6 } / 10
}

/// `online_followers` for one day: hour ("0".."23") → followers online.
pub fn account_online_followers(ds: &Dataset, account: &Account, day: NaiveDate) -> Value {
    let day_s = day.to_string();
    let peak = (account.followers_count / 12).max(10);
    let mut hours = Map::new();
    for hour in 0..24u64 {
        // Diurnal shape: low at night, high in the evening (UTC).
        let shape = [2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 7, 7, 8, 8, 9, 10, 10, 9, 7, 5, 3][hour as usize];
        let jitter = in_range(account_hash(ds, account, &["online", &day_s, &hour.to_string()]), 0, peak / 20 + 1);
        hours.insert(hour.to_string(), json!(peak * shape / 10 + jitter));
    }
    Value::Object(hours)
}

/// Demographic results for one breakdown: (dimension values, value) pairs in
/// a fixed order. `breakdown` is a list like `["age","gender"]`.
pub fn demographic_results(
    ds: &Dataset,
    account: &Account,
    metric: &str,
    timeframe: Option<&str>,
    breakdown: &[&str],
) -> Vec<(Vec<String>, u64)> {
    let tf = timeframe.unwrap_or("lifetime");
    let scale = match metric {
        "follower_demographics" => (account.followers_count / 40).max(5),
        _ if tf == "this_week" => (account.followers_count / 300).max(3),
        _ => (account.followers_count / 100).max(4),
    };
    let age_gender = |age: &str, gender: &str| {
        let weight = match gender {
            "U" => 1,
            _ => 4,
        };
        in_range(account_hash(ds, account, &[metric, tf, "age-gender", age, gender]), 1, scale) * weight / 4 + 1
    };
    let single = |dimension: &str, value: &str| {
        in_range(account_hash(ds, account, &[metric, tf, dimension, value]), 1, scale * 3)
    };
    match breakdown {
        ["age"] => {
            AGE_BUCKETS.iter().map(|a| (vec![a.to_string()], GENDERS.iter().map(|g| age_gender(a, g)).sum())).collect()
        }
        ["gender"] => {
            GENDERS.iter().map(|g| (vec![g.to_string()], AGE_BUCKETS.iter().map(|a| age_gender(a, g)).sum())).collect()
        }
        ["age", "gender"] => AGE_BUCKETS
            .iter()
            .flat_map(|a| GENDERS.iter().map(move |g| (a, g)))
            .map(|(a, g)| (vec![a.to_string(), g.to_string()], age_gender(a, g)))
            .collect(),
        ["gender", "age"] => GENDERS
            .iter()
            .flat_map(|g| AGE_BUCKETS.iter().map(move |a| (a, g)))
            .map(|(a, g)| (vec![g.to_string(), a.to_string()], age_gender(a, g)))
            .collect(),
        ["city"] => CITIES.iter().map(|c| (vec![c.to_string()], single("city", c))).collect(),
        ["country"] => COUNTRIES.iter().map(|c| (vec![c.to_string()], single("country", c))).collect(),
        _ => Vec::new(),
    }
}

/// Parsed `since`/`until` window (exclusive start, inclusive end).
struct Window {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Account metrics Meta retired in v22 (asked, they are refused with its v22 wording).
pub const RETIRED_ACCOUNT_METRICS: &[&str] = &["impressions"];

/// `GET /{ig-user-id}/insights?...`.
///
/// A retired metric ([`RETIRED_ACCOUNT_METRICS`] and `retired`) is refused with Meta's v22
/// wording, `Starting from version 22 and above, the impressions metric is no longer supported
/// for the queried user. …`; an unknown name with `metric[i] must be one of …`.
pub(crate) fn account_insights(
    ds: &Dataset,
    account: &Account,
    params: &Params,
    links: &LinkBuilder<'_>,
    retired: &[String],
    quirks: &Quirks,
) -> Result<Value, GraphError> {
    let metrics = requested_metrics(params)?;
    let is_retired = |m: &str| RETIRED_ACCOUNT_METRICS.contains(&m) || retired.iter().any(|r| r == m);
    if let Some(metric) = metrics.iter().find(|m| is_retired(m)) {
        return Err(GraphError::invalid_parameter(format!(
            "Starting from version 22 and above, the {metric} metric is no longer supported for the queried user. Please refer to the documentation at https://developers.facebook.com/docs/instagram-api/reference/ig-user/insights for a list of supported metrics."
        )));
    }
    for (position, metric) in metrics.iter().enumerate() {
        if !ACCOUNT_METRICS.contains(&metric.as_str()) {
            return Err(unknown_metric(position, ACCOUNT_METRICS));
        }
    }
    let period = params.get("period").unwrap_or("");
    if !PERIODS.contains(&period) {
        return Err(GraphError::invalid_parameter(format!(
            "period must be one of the following values: {}",
            PERIODS.join(", ")
        )));
    }
    let metric_type = params.get("metric_type").unwrap_or("time_series");
    if !matches!(metric_type, "time_series" | "total_value") {
        return Err(GraphError::invalid_parameter(
            "metric_type must be one of the following values: time_series, total_value",
        ));
    }
    let total_value = metric_type == "total_value";

    let needs_total_value: Vec<&str> = metrics
        .iter()
        .map(String::as_str)
        .filter(|m| TOTAL_VALUE_METRICS.contains(m) || DEMOGRAPHIC_METRICS.contains(m))
        .collect();
    if !total_value && !needs_total_value.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "The following metrics ({}) should be specified with parameter metric_type=total_value",
            needs_total_value.join(", ")
        )));
    }
    if total_value {
        let not_total: Vec<&str> = metrics
            .iter()
            .map(String::as_str)
            .filter(|m| !supports_total_value(m) && !DEMOGRAPHIC_METRICS.contains(m))
            .collect();
        if !not_total.is_empty() {
            return Err(GraphError::invalid_parameter(format!(
                "The following metrics ({}) do not support metric_type=total_value",
                not_total.join(", ")
            )));
        }
    }
    let incompatible: Vec<&str> = metrics
        .iter()
        .map(String::as_str)
        .filter(|m| {
            let allowed: &[&str] = if DEMOGRAPHIC_METRICS.contains(m) {
                &["lifetime"]
            } else if total_value {
                &["day"]
            } else {
                time_series_periods(m)
            };
            !allowed.contains(&period)
        })
        .collect();
    if !incompatible.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "Incompatible period ({period}) for the following metrics ({})",
            incompatible.join(", ")
        )));
    }

    let demographic = metrics.iter().any(|m| DEMOGRAPHIC_METRICS.contains(&m.as_str()));
    if demographic {
        return demographics_response(ds, account, &metrics, params, quirks);
    }

    let window = parse_window(ds, params)?;
    if !total_value {
        refuse_old_recent_only(ds, &metrics, &window)?;
    }
    let breakdown = params.get("breakdown").filter(|b| !b.is_empty());
    if let Some(b) = breakdown {
        if !total_value {
            return Err(GraphError::invalid_parameter("Breakdowns are only supported with metric_type=total_value"));
        }
        if metrics.iter().any(|m| total_value_breakdown(m, b).is_none() || quirks.withdrawn(m, b)) {
            return Err(GraphError::unknown_error_has_occurred());
        }
    }

    let days: Vec<NaiveDate> = ds
        .insight_days()
        .into_iter()
        .filter(|d| {
            let end = day_end_time(*d);
            window.since < end && end <= window.until
        })
        .collect();

    let mut data = Vec::new();
    for metric in &metrics {
        let (title, description) = metric_texts(metric);
        let mut entry = Map::new();
        entry.insert("name".into(), json!(metric));
        entry.insert("period".into(), json!(period));
        if total_value {
            let sum: u64 = days.iter().map(|d| account_daily_value(ds, account, metric, *d).unwrap_or(0)).sum();
            let mut total = Map::new();
            total.insert("value".into(), json!(sum));
            if let Some(b) = breakdown {
                let keys = total_value_breakdown(metric, b).unwrap_or(&[]);
                let results = split_total(ds, account, metric, b, keys, sum);
                total.insert("breakdowns".into(), json!([{ "dimension_keys": [b], "results": results }]));
            }
            entry.insert("title".into(), json!(title));
            entry.insert("description".into(), json!(description));
            entry.insert("total_value".into(), Value::Object(total));
        } else {
            let values: Vec<Value> = days
                .iter()
                .map(|d| {
                    let value = match (metric.as_str(), period) {
                        ("online_followers", _) => account_online_followers(ds, account, *d),
                        ("reach", "week") => json!(account_rolling_reach(ds, account, *d, 7)),
                        ("reach", "days_28") => json!(account_rolling_reach(ds, account, *d, 28)),
                        _ => json!(account_daily_value(ds, account, metric, *d).unwrap_or(0)),
                    };
                    json!({ "value": value, "end_time": day_end_time(*d).format(GRAPH_TIME_FORMAT).to_string() })
                })
                .collect();
            if values.is_empty() {
                // Meta answers an empty data set rather than zeros.
                continue;
            }
            entry.insert("values".into(), Value::Array(values));
            entry.insert("title".into(), json!(title));
            entry.insert("description".into(), json!(description));
        }
        entry.insert("id".into(), json!(format!("{}/insights/{metric}/{period}", account.ig_user_id)));
        data.push(Value::Object(entry));
    }

    let mut body = Map::new();
    body.insert("data".into(), Value::Array(data));
    if !total_value {
        // Time series carry time-based paging links shifting the window.
        let span = window.until - window.since;
        let link = |since: DateTime<Utc>, until: DateTime<Utc>| {
            links.url_with(&[("since", since.timestamp().to_string()), ("until", until.timestamp().to_string())], &[])
        };
        body.insert(
            "paging".into(),
            json!({
                "previous": link(window.since - span, window.since),
                "next": link(window.until, window.until + span),
            }),
        );
    }
    Ok(Value::Object(body))
}

fn split_total(
    ds: &Dataset,
    account: &Account,
    metric: &str,
    breakdown: &str,
    keys: &[&str],
    total: u64,
) -> Vec<Value> {
    let weights: Vec<u64> =
        keys.iter().map(|k| in_range(account_hash(ds, account, &[metric, breakdown, k]), 1, 10)).collect();
    let weight_sum: u64 = weights.iter().sum();
    let mut remaining = total;
    keys.iter()
        .zip(&weights)
        .enumerate()
        .map(|(i, (k, w))| {
            let part = if i + 1 == keys.len() { remaining } else { (total * w / weight_sum).min(remaining) };
            remaining -= part;
            json!({ "dimension_values": [k], "value": part })
        })
        .collect()
}

fn demographics_response(
    ds: &Dataset,
    account: &Account,
    metrics: &[String],
    params: &Params,
    quirks: &Quirks,
) -> Result<Value, GraphError> {
    let breakdown_raw = params.get("breakdown").unwrap_or("");
    if breakdown_raw.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "The following metrics ({}) require the breakdown parameter. Supported breakdowns: age, city, country, gender",
            metrics.join(", ")
        )));
    }
    let breakdown: Vec<&str> = breakdown_raw.split(',').map(str::trim).collect();
    let valid = matches!(
        breakdown.as_slice(),
        ["age"] | ["gender"] | ["city"] | ["country"] | ["age", "gender"] | ["gender", "age"]
    );
    // A breakdown a metric does not have: code 1, as Meta answers it.
    if !valid || metrics.iter().any(|m| quirks.withdrawn(m, breakdown_raw)) {
        return Err(GraphError::unknown_error_has_occurred());
    }
    let timeframe = params.get("timeframe").filter(|t| !t.is_empty());
    if let Some(tf) = timeframe {
        if !matches!(tf, "this_week" | "this_month") {
            return Err(GraphError::invalid_parameter(format!(
                "timeframe must be one of the following values: this_week, this_month (got {tf})"
            )));
        }
    } else if let Some(m) = metrics.iter().find(|m| m.as_str() != "follower_demographics") {
        return Err(GraphError::invalid_parameter(format!(
            "The timeframe parameter is required for {m}. Supported values: this_week, this_month"
        )));
    }

    // Meta's reference example puts the timeframe first: `dimension_keys: ["timeframe",
    // "country"]`, values `["LAST_90_DAYS", "AR"]`; another capture has only the breakdown.
    let timeframe_first = timeframe.filter(|_| quirks.demographics_timeframe_dimension).map(str::to_ascii_uppercase);
    let mut keys: Vec<&str> = breakdown.clone();
    if timeframe_first.is_some() {
        keys.insert(0, "timeframe");
    }
    let data: Vec<Value> = metrics
        .iter()
        .map(|metric| {
            let results: Vec<Value> = demographic_results(ds, account, metric, timeframe, &breakdown)
                .into_iter()
                .map(|(mut dims, value)| {
                    if let Some(tf) = &timeframe_first {
                        dims.insert(0, tf.clone());
                    }
                    json!({ "dimension_values": dims, "value": value })
                })
                .collect();
            let (title, description) = metric_texts(metric);
            json!({
                "name": metric,
                "period": "lifetime",
                "title": title,
                "description": description,
                "total_value": { "breakdowns": [{ "dimension_keys": keys, "results": results }] },
                "id": format!("{}/insights/{metric}/lifetime", account.ig_user_id),
            })
        })
        .collect();
    Ok(json!({ "data": data }))
}

fn parse_window(ds: &Dataset, params: &Params) -> Result<Window, GraphError> {
    let since = params.get("since").filter(|s| !s.is_empty()).map(|s| parse_time("since", s)).transpose()?;
    let until = params.get("until").filter(|s| !s.is_empty()).map(|s| parse_time("until", s)).transpose()?;
    let now = ds.now();
    let window = match (since, until) {
        (None, None) => {
            // The last two dataset days: end_times of yesterday and the day before.
            let yesterday = crate::dataset::pacific_date(now) - Duration::days(1);
            Window { since: day_end_time(yesterday - Duration::days(2)), until: day_end_time(yesterday) }
        }
        (Some(since), None) => Window { since, until: now },
        (None, Some(until)) => Window { since: until - Duration::days(2), until },
        (Some(since), Some(until)) => Window { since, until },
    };
    if (window.until - window.since).num_seconds() > MAX_WINDOW_SECONDS {
        return Err(GraphError::invalid_parameter(
            "There cannot be more than 30 days (2592000 s) between since and until",
        ));
    }
    if window.since < now - Duration::days(730) {
        return Err(GraphError::invalid_parameter(
            "The since parameter must be within the last 2 years (730 days) of the current time",
        ));
    }
    Ok(window)
}

/// Accepts unix seconds, RFC 3339 (`Z`, `+00:00` or Meta's `+0000`), or `YYYY-MM-DD` (UTC midnight).
pub(crate) fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, GraphError> {
    let raw = raw.trim();
    let parsed = if let Ok(secs) = raw.parse::<i64>() {
        Utc.timestamp_opt(secs, 0).single()
    } else if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        Some(t.with_timezone(&Utc))
    } else if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z") {
        Some(t.with_timezone(&Utc))
    } else if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S") {
        Some(Utc.from_utc_datetime(&t))
    } else if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap()))
    } else {
        None
    };
    parsed.ok_or_else(|| {
        GraphError::invalid_parameter(format!("The {name} parameter must be a unix timestamp or a date (got {raw})"))
    })
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

fn requested_metrics(params: &Params) -> Result<Vec<String>, GraphError> {
    let metrics: Vec<String> =
        params.get("metric").unwrap_or("").split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
    if metrics.is_empty() {
        return Err(GraphError::invalid_parameter("The value must be a valid insights metric"));
    }
    Ok(metrics)
}

fn unknown_metric(position: usize, valid: &[&str]) -> GraphError {
    GraphError::invalid_parameter(format!(
        "metric[{position}] must be one of the following values: {}",
        valid.join(", ")
    ))
}

/// `title` and `description` for a metric.
pub fn metric_texts(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "reach" => (
            "Accounts reached",
            "The number of unique accounts that have seen your content, at least once, including in ads.",
        ),
        "saved" => ("Saved", "The number of saves of your post."),
        "saves" => ("Saves", "The number of saves of your posts, reels and videos."),
        "likes" => ("Likes", "The number of likes on your content."),
        "comments" => ("Comments", "The number of comments on your content."),
        "shares" => ("Shares", "The number of shares of your content."),
        "follows" => ("Follows", "The number of accounts that started following you."),
        "profile_visits" => ("Profile visits", "The number of times your profile was visited."),
        "profile_activity" => (
            "Profile activity",
            "The number of actions people take when they visit your profile after engaging with your post.",
        ),
        "total_interactions" => (
            "Content interactions",
            "The total number of post interactions, story interactions, reels interactions, video interactions and live video interactions, including any interactions on boosted content.",
        ),
        "views" => ("Views", "The number of times your content was played or displayed."),
        "ig_reels_avg_watch_time" => {
            ("Average watch time", "The average amount of time spent playing your reel, in milliseconds.")
        }
        "ig_reels_video_view_total_time" => {
            ("Watch time", "The total amount of time your reel was played, including replays, in milliseconds.")
        }
        "reels_skip_rate" => {
            ("Skip rate", "The percentage of views in which your reel was skipped within the first 3 seconds.")
        }
        "replies" => ("Replies", "The number of replies to your story."),
        "navigation" => ("Navigation", "The total number of actions taken from your story."),
        "follower_count" => ("Follower count", "The number of new followers per day."),
        "online_followers" => {
            ("Online followers", "The number of your followers who were online during each hour of the day.")
        }
        "accounts_engaged" => ("Accounts engaged", "The number of accounts that have interacted with your content."),
        "profile_links_taps" => (
            "Profile links taps",
            "The number of taps on your business address, call button, email button and text button.",
        ),
        "follows_and_unfollows" => (
            "Follows and unfollows",
            "The number of accounts that followed you and the number that unfollowed you or left Instagram.",
        ),
        "reposts" => ("Reposts", "The number of times your content was reposted."),
        "follower_demographics" => (
            "Follower demographics",
            "The demographic characteristics of followers, including countries, cities and gender distribution.",
        ),
        "engaged_audience_demographics" => (
            "Engaged audience demographics",
            "The demographic characteristics of the engaged audience, including countries, cities and gender distribution.",
        ),
        "reached_audience_demographics" => (
            "Reached audience demographics",
            "The demographic characteristics of the reached audience, including countries, cities and gender distribution.",
        ),
        _ => ("", ""),
    }
}
