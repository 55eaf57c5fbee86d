//! Media and story insights: which metrics each media kind has, their deterministic values
//! ([`media_metric_value`]) and the `/{media}/insights` answers and refusals.

use serde_json::{Map, Value, json};

use super::{metric_texts, requested_metrics, unknown_metric};
use crate::dataset::{Dataset, Media, MediaKind};
use crate::graph_error::GraphError;
use crate::oauth::Login;
use crate::quirks::{NavigationCase, Quirks};
use crate::request::Params;
use crate::stable_hash::{hash_parts, in_range};

/// Every media metric the current API knows, in the order error messages list them.
pub const MEDIA_METRICS: &[&str] = &[
    "comments",
    "crossposted_views",
    "facebook_views",
    "follows",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
    "likes",
    "link_clicks",
    "navigation",
    "profile_activity",
    "profile_visits",
    "reach",
    "reels_skip_rate",
    "replies",
    "reposts",
    "saved",
    "shares",
    "total_comments",
    "total_interactions",
    "total_likes",
    "total_views",
    "views",
];

/// Media metrics Meta serves with Facebook Login only: the ads-inclusive `total_*` family
/// (22 Apr 2026) and story `link_clicks` (22 Jun 2026). graph.instagram.com answers them as
/// names it does not know (`metric[i] must be one of …`).
pub const FACEBOOK_LOGIN_MEDIA_METRICS: &[&str] = &["total_likes", "total_comments", "total_views", "link_clicks"];

/// Metrics of crossposted media: Meta serves them only for media shared to Facebook and
/// refuses them for any other (its docs: they throw an error; a third-party client saw the
/// whole request refused). The wording here names the metric, as Meta's refusals do; no
/// capture of the exact text is known.
pub const CROSSPOST_METRICS: &[&str] = &["facebook_views", "crossposted_views"];

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

/// Metrics supported for each media kind (empty for carousel children), as Meta's media
/// insights reference (18 Jun 2026) lists them per media product type: FEED (images,
/// carousels, feed videos), REELS and STORY.
pub fn supported_media_metrics(kind: MediaKind) -> &'static [&'static str] {
    match kind {
        MediaKind::Image | MediaKind::Carousel => &[
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
            "reposts",
            "facebook_views",
            "total_likes",
            "total_comments",
            "total_views",
        ],
        MediaKind::FeedVideo => &[
            "reach",
            "saved",
            "likes",
            "comments",
            "shares",
            "total_interactions",
            "views",
            "profile_activity",
            "reposts",
            "facebook_views",
            "total_likes",
            "total_comments",
            "total_views",
        ],
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
            "reposts",
            "facebook_views",
            "crossposted_views",
            "total_likes",
            "total_comments",
            "total_views",
        ],
        MediaKind::Story => &[
            "reach",
            "replies",
            "follows",
            "profile_visits",
            "shares",
            "total_interactions",
            "views",
            "navigation",
            "profile_activity",
            "reposts",
            "facebook_views",
            "total_views",
            "link_clicks",
        ],
        MediaKind::CarouselChild => &[],
    }
}

const STORY_NAVIGATION_ACTIONS: [&str; 4] = ["tap_forward", "tap_back", "tap_exit", "swipe_forward"];
/// `profile_activity` by `action_type`, as Meta's reference spells them.
pub const PROFILE_ACTIVITY_ACTIONS: [&str; 6] = ["BIO_LINK_CLICKED", "CALL", "DIRECTION", "EMAIL", "OTHER", "TEXT"];

fn media_hash(ds: &Dataset, media: &Media, what: &str) -> u64 {
    hash_parts([ds.spec().seed.to_string().as_str(), "media-insight", &media.id, what])
}

/// The value of `metric` for `media`, or `None` when the metric is not supported for its
/// kind (or, for [`CROSSPOST_METRICS`], when the media was not shared to Facebook). Integers,
/// except `reels_skip_rate` (a percentage with two decimals).
pub fn media_metric_value(ds: &Dataset, media: &Media, metric: &str) -> Option<Value> {
    let kind = media.kind();
    if !supported_media_metrics(kind).contains(&metric)
        || (CROSSPOST_METRICS.contains(&metric) && !media.extras.shared_to_facebook)
    {
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
    // Plays on Facebook of a crossposted media; the `total_*` metrics add what ads and boosts
    // of the media brought (and, for views, the Facebook crosspost's).
    let facebook_views =
        if media.extras.shared_to_facebook { in_range(h("facebook_views"), 10, views / 2 + 11) } else { 0 };
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
        "reposts" => json!(in_range(h("reposts"), 0, reach / 100 + 2)),
        "facebook_views" => json!(facebook_views),
        "crossposted_views" => json!(views + facebook_views),
        "total_likes" => json!(likes + in_range(h("ad_likes"), 0, likes / 4 + 2)),
        "total_comments" => json!(comments + in_range(h("ad_comments"), 0, 4)),
        "total_views" => json!(views + facebook_views + in_range(h("ad_views"), 0, views / 3 + 1)),
        "link_clicks" => json!(in_range(h("link_clicks"), 0, reach / 20 + 1)),
        _ => return None,
    };
    Some(value)
}

/// `profile_activity` of `media` by action, in [`PROFILE_ACTIVITY_ACTIONS`] order.
pub fn profile_activity_parts(ds: &Dataset, media: &Media) -> Vec<u64> {
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
/// object ([`Quirks::refused_for`]), the latter. A [`CROSSPOST_METRICS`] metric of media not
/// shared to Facebook is refused naming it (or, with [`Quirks::crossposted_refusal_unnamed`],
/// with a bare "(#100) Invalid parameter"). As graph.instagram.com, the
/// [`FACEBOOK_LOGIN_MEDIA_METRICS`] are names it does not know.
pub(crate) fn media_insights(
    ds: &Dataset,
    media: &Media,
    params: &Params,
    retired: &[String],
    quirks: &Quirks,
    login: Login,
) -> Result<Value, GraphError> {
    let metrics = requested_metrics(params)?;
    let is_retired = |m: &str| RETIRED_IN_V22.contains(&m) || retired.iter().any(|r| r == m);
    let known = |m: &str| {
        MEDIA_METRICS.contains(&m) && (login == Login::Facebook || !FACEBOOK_LOGIN_MEDIA_METRICS.contains(&m))
    };
    for (position, metric) in metrics.iter().enumerate() {
        if !known(metric) && !is_retired(metric) {
            let valid: Vec<&str> = MEDIA_METRICS.iter().copied().filter(|m| known(m) && !is_retired(m)).collect();
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
    if let Some(metric) =
        metrics.iter().find(|m| CROSSPOST_METRICS.contains(&m.as_str()) && !media.extras.shared_to_facebook)
    {
        if quirks.crossposted_refusal_unnamed {
            return Err(GraphError::invalid_parameter("Invalid parameter"));
        }
        return Err(GraphError::invalid_parameter(format!(
            "The {metric} metric is only available for media shared to Facebook"
        )));
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
                let (keys, parts, case): (&[&str], Vec<u64>, NavigationCase) = if b == "action_type" {
                    (&PROFILE_ACTIVITY_ACTIONS, profile_activity_parts(ds, media), quirks.profile_activity_case)
                } else {
                    let reach = media_metric_value(ds, media, "reach").and_then(|v| v.as_u64()).unwrap_or(0);
                    (&STORY_NAVIGATION_ACTIONS, story_navigation_parts(ds, media, reach), quirks.navigation_case)
                };
                // Captures and the docs disagree on the case of the actions: navigation is
                // `tap_forward` in the docs and `TAP_FORWARD` in some captures, profile
                // activity `BIO_LINK_CLICKED` in the docs and `bio_link_clicked` in others.
                let upper = match case {
                    NavigationCase::Lower => false,
                    NavigationCase::Upper => true,
                    NavigationCase::Mixed => ds.owner_account(&media.id).is_some_and(|a| a.index % 2 == 1),
                };
                let results: Vec<Value> = keys
                    .iter()
                    .zip(parts)
                    .map(|(k, v)| {
                        let k = if upper { k.to_ascii_uppercase() } else { k.to_ascii_lowercase() };
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
