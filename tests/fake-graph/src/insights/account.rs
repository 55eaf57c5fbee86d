//! Account insights: the metrics of an IG user, their deterministic daily values
//! ([`account_daily_value`]) and the `/{ig-user}/insights` answers for time series and
//! `total_value` metrics (with their breakdowns); demographics are in [`super::demographics`].

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::demographics::{DEMOGRAPHIC_METRICS, demographics_response};
use super::{metric_texts, requested_metrics, unknown_metric};
use crate::dataset::{Account, Dataset, GRAPH_TIME_FORMAT, day_end_time};
use crate::graph_error::GraphError;
use crate::paging::LinkBuilder;
use crate::quirks::Quirks;
use crate::request::Params;
use crate::stable_hash::{hash_parts, in_range};

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

pub(crate) fn account_hash(ds: &Dataset, account: &Account, parts: &[&str]) -> u64 {
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
                let results: Vec<Value> = total_value_breakdown_results(ds, account, metric, b, sum)
                    .into_iter()
                    .map(|(k, v)| json!({ "dimension_values": [k], "value": v }))
                    .collect();
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

/// A `total_value` of `metric` split over the values of `breakdown` (deterministic weights per
/// account, metric and value; the parts add up to `total`), as `(dimension value, part)` in
/// the breakdown's order; empty for a breakdown the metric does not have.
pub fn total_value_breakdown_results(
    ds: &Dataset,
    account: &Account,
    metric: &str,
    breakdown: &str,
    total: u64,
) -> Vec<(String, u64)> {
    let keys = total_value_breakdown(metric, breakdown).unwrap_or(&[]);
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
            (k.to_string(), part)
        })
        .collect()
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
