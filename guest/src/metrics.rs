//! Which metrics the connector asks Meta for, as data, per Graph API version.
//!
//! This module is the one place to edit when Meta retires or adds a metric: the API version
//! default, the metric sets per media kind (and what only Facebook Login gets), the metrics
//! asked with a breakdown of their own, the account insight requests and breakdowns, and the
//! demographic breakdowns and timeframes (Meta's refusal wordings are the sibling table in
//! `refusals`; the Graph fields asked of each node, `graph_fields`). It also
//! owns (in `policy`) the run-time policy that drops a metric the API refuses for one media kind (or, for a
//! refusal of one object, says so once), so a retired metric never fails a stream.

mod policy;
pub use policy::MetricPolicy;

/// The Graph API version used when the config names none (v27.0, released 2026-11-04).
///
/// Meta's changelogs for v26.0 (2026-07-29) and v27.0 retire no Instagram media or account
/// metric: v26 carries out v25's Facebook *Page* insights removals (no Instagram metric), and
/// v27 stops new apps from using multi-ID requests, field aliases and asynchronous batch
/// requests (this connector uses none of them; synchronous batch requests stay) and retires the
/// Page video metric `total_video_consumption_rate`. So the v22 table below still applies to
/// v26 and v27; older versions stay selectable through `api_version`.
pub const DEFAULT_API_VERSION: &str = "v27.0";

/// Media kinds with distinct insight metric sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    /// `media_product_type == REELS`.
    Reel,
    /// `VIDEO` in the feed.
    FeedVideo,
    /// Any other `VIDEO` (e.g. an old IGTV video).
    Video,
    /// `CAROUSEL_ALBUM` (its children have no insights).
    Carousel,
    /// `IMAGE` and anything not listed above.
    Image,
    /// A story (from the `stories` edge).
    Story,
}

impl MediaKind {
    /// Classify a media object by `media_type` and `media_product_type`, first rule wins.
    pub fn of(media_type: &str, product_type: &str) -> MediaKind {
        match (media_type, product_type) {
            (_, "STORY") => MediaKind::Story,
            (_, "REELS") => MediaKind::Reel,
            ("VIDEO", "FEED") => MediaKind::FeedVideo,
            ("VIDEO", _) => MediaKind::Video,
            ("CAROUSEL_ALBUM", _) => MediaKind::Carousel,
            _ => MediaKind::Image,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Reel => "REELS",
            MediaKind::FeedVideo => "VIDEO/FEED",
            MediaKind::Video => "VIDEO",
            MediaKind::Carousel => "CAROUSEL_ALBUM",
            MediaKind::Image => "IMAGE",
            MediaKind::Story => "STORY",
        }
    }
}

/// One time-series request of account insights: `metric=…&period=…&since&until`.
#[derive(Debug)]
pub struct SeriesRequest {
    pub period: &'static str,
    pub metrics: &'static [&'static str],
    /// Appended to each metric name to form the record column (`reach` + `_week`).
    pub column_suffix: &'static str,
}

/// A metric of single objects Meta serves with a breakdown only when the request names that
/// one metric: it is asked on its own, and the record carries the total under the metric's
/// name and the parts under `{metric}_breakdown` (see `parts::object_breakdowns`).
#[derive(Debug)]
pub struct ObjectBreakdown {
    pub metric: &'static str,
    pub breakdown: &'static str,
    /// The media kinds it is asked for.
    pub kinds: &'static [MediaKind],
}

/// Everything that depends on the Graph API version.
#[derive(Debug)]
pub struct MetricTable {
    /// The first major version this table applies to.
    pub since_major: u32,
    pub media: &'static [(MediaKind, &'static [&'static str])],
    /// Media metrics Meta serves with Facebook Login only: not asked with Instagram Login.
    pub facebook_login_only: &'static [&'static str],
    /// Metrics Meta serves only for media shared to Facebook and refuses for any other: Meta's
    /// refusal of one of them for an object leaves them all out of that object's record (one
    /// INFO line per read says so; every other object keeps them).
    pub crossposted: &'static [&'static str],
    /// Media metrics asked on their own with a breakdown.
    pub object_breakdowns: &'static [ObjectBreakdown],
    /// Account time series, requested in windows of `SERIES_WINDOW_DAYS`.
    pub user_series: &'static [SeriesRequest],
    /// Metrics Meta only serves for the last 30 days.
    pub recent_only: &'static [&'static str],
    /// Account metrics served only as `metric_type=total_value`; asked per day.
    pub user_totals: &'static [&'static str],
    /// Account metrics by breakdown (`user_insights_breakdowns`), as (breakdown, metrics):
    /// asked per day with `metric_type=total_value`, one request per breakdown.
    pub user_breakdowns: &'static [(&'static str, &'static [&'static str])],
    /// Audience demographics (`period=lifetime&metric_type=total_value`).
    pub demographics: &'static [&'static str],
    pub breakdowns: &'static [&'static str],
    /// The timeframes Meta keeps demographics for; each is asked (one record per timeframe).
    pub demographics_timeframes: &'static [&'static str],
}

/// Widest `since`..`until` span Meta accepts for account time series.
pub const SERIES_WINDOW_DAYS: i64 = 30;
/// Days Meta keeps `recent_only` metrics.
pub const RECENT_ONLY_DAYS: i64 = 30;

const USER_SERIES: &[SeriesRequest] = &[
    SeriesRequest { period: "day", metrics: &["reach", "follower_count"], column_suffix: "" },
    SeriesRequest { period: "week", metrics: &["reach"], column_suffix: "_week" },
    SeriesRequest { period: "days_28", metrics: &["reach"], column_suffix: "_days_28" },
    SeriesRequest { period: "lifetime", metrics: &["online_followers"], column_suffix: "" },
];

const DEMOGRAPHICS: &[&str] =
    &["follower_demographics", "engaged_audience_demographics", "reached_audience_demographics"];
const BREAKDOWNS: &[&str] = &["age", "gender", "city", "country", "age,gender"];
/// `last_14_days`, `last_30_days`, `last_90_days` and `prev_month` went on 19 Aug 2024.
const TIMEFRAMES: &[&str] = &["this_week", "this_month"];

/// v22 and later: `views` replaces `impressions`/`plays`; Meta's additions of Dec 2025 –
/// Jun 2026 (applying to every version): `reposts`, `profile_activity` by `action_type`,
/// `facebook_views` and `crossposted_views` of crossposted media, the ads-inclusive
/// `total_likes`/`total_comments`/`total_views` and story `link_clicks` (Facebook Login only).
const V22: MetricTable = MetricTable {
    since_major: 22,
    media: &[
        (
            MediaKind::Reel,
            &[
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
        ),
        (
            MediaKind::FeedVideo,
            &[
                "reach",
                "saved",
                "likes",
                "comments",
                "shares",
                "total_interactions",
                "views",
                "reposts",
                "profile_activity",
                "facebook_views",
                "total_likes",
                "total_comments",
                "total_views",
            ],
        ),
        (MediaKind::Video, &["reach", "saved", "likes", "comments", "shares", "follows", "profile_visits", "views"]),
        (MediaKind::Carousel, FEED_POST_METRICS),
        (MediaKind::Image, FEED_POST_METRICS),
        (
            MediaKind::Story,
            &[
                "reach",
                "replies",
                "follows",
                "profile_visits",
                "shares",
                "total_interactions",
                "views",
                "navigation",
                "reposts",
                "profile_activity",
                "facebook_views",
                "total_views",
                "link_clicks",
            ],
        ),
    ],
    facebook_login_only: &["total_likes", "total_comments", "total_views", "link_clicks"],
    crossposted: &["facebook_views", "crossposted_views"],
    object_breakdowns: &[
        ObjectBreakdown { metric: "navigation", breakdown: "story_navigation_action_type", kinds: &[MediaKind::Story] },
        ObjectBreakdown {
            metric: "profile_activity",
            breakdown: "action_type",
            kinds: &[MediaKind::Image, MediaKind::Carousel, MediaKind::FeedVideo, MediaKind::Story],
        },
    ],
    user_series: USER_SERIES,
    recent_only: &["follower_count", "online_followers"],
    user_totals: &[
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
    ],
    user_breakdowns: &[
        ("follower_type", &["views"]),
        ("media_product_type", &["views", "total_interactions", "likes", "comments", "shares", "saves", "reposts"]),
        ("follow_type", &["follows_and_unfollows"]),
        ("contact_button_type", &["profile_links_taps"]),
    ],
    demographics: DEMOGRAPHICS,
    breakdowns: BREAKDOWNS,
    demographics_timeframes: TIMEFRAMES,
};

/// Images and carousels (FEED).
const FEED_POST_METRICS: &[&str] = &[
    "reach",
    "saved",
    "likes",
    "comments",
    "shares",
    "follows",
    "profile_visits",
    "total_interactions",
    "views",
    "reposts",
    "profile_activity",
    "facebook_views",
    "total_likes",
    "total_comments",
    "total_views",
];

/// v21: before `views`; the sets Airbyte's connector used.
const V21: MetricTable = MetricTable {
    since_major: 21,
    media: &[
        (
            MediaKind::Reel,
            &[
                "comments",
                "ig_reels_avg_watch_time",
                "ig_reels_video_view_total_time",
                "likes",
                "reach",
                "saved",
                "shares",
            ],
        ),
        (MediaKind::FeedVideo, &["reach", "saved"]),
        (MediaKind::Video, &["reach", "saved", "likes", "comments", "shares", "follows", "profile_visits"]),
        (MediaKind::Carousel, &["reach", "saved", "shares", "follows", "profile_visits"]),
        (MediaKind::Image, &["reach", "saved", "likes", "comments", "shares", "follows", "profile_visits"]),
        (MediaKind::Story, &["reach", "replies", "follows", "profile_visits", "shares", "total_interactions"]),
    ],
    facebook_login_only: &[],
    crossposted: &[],
    object_breakdowns: &[],
    user_series: USER_SERIES,
    recent_only: &["follower_count", "online_followers"],
    user_totals: &[
        "accounts_engaged",
        "total_interactions",
        "likes",
        "comments",
        "shares",
        "saves",
        "replies",
        "profile_links_taps",
        "follows_and_unfollows",
    ],
    user_breakdowns: &[
        ("media_product_type", &["total_interactions", "likes", "comments", "shares", "saves"]),
        ("follow_type", &["follows_and_unfollows"]),
        ("contact_button_type", &["profile_links_taps"]),
    ],
    demographics: DEMOGRAPHICS,
    breakdowns: BREAKDOWNS,
    demographics_timeframes: TIMEFRAMES,
};

/// Newest first.
const TABLES: &[&MetricTable] = &[&V22, &V21];

/// The table for a Graph API major version (the oldest table for anything older).
pub fn table_for(major: u32) -> &'static MetricTable {
    TABLES.iter().find(|t| major >= t.since_major).copied().unwrap_or(TABLES[TABLES.len() - 1])
}

impl MetricTable {
    /// The metrics of `kind` (all of them with Facebook Login; with Instagram Login, those
    /// Meta serves there).
    pub fn media_metrics(&self, kind: MediaKind, facebook_login: bool) -> Vec<&'static str> {
        let all = self.media.iter().find(|(k, _)| *k == kind).map(|(_, m)| *m).unwrap_or(&[]);
        all.iter().copied().filter(|m| facebook_login || !self.facebook_login_only.contains(m)).collect()
    }

    /// The object breakdowns asked for `kind`.
    pub fn object_breakdowns_of(&self, kind: MediaKind) -> impl Iterator<Item = &'static ObjectBreakdown> + use<> {
        let all: &'static [ObjectBreakdown] = self.object_breakdowns;
        all.iter().filter(move |b| b.kinds.contains(&kind))
    }

    /// Whether `metric` of `kind` is asked on its own with a breakdown.
    pub fn breaks_down(&self, kind: MediaKind, metric: &str) -> bool {
        self.object_breakdowns_of(kind).any(|b| b.metric == metric)
    }

    /// The metrics Meta's refusal of `metric` for one object leaves out of that object's
    /// record: the whole crossposted group for one of them, else the metric alone.
    pub fn refused_with(&self, metric: &'static str) -> Vec<&'static str> {
        if self.crossposted.contains(&metric) { self.crossposted.to_vec() } else { vec![metric] }
    }
}

#[cfg(test)]
mod tests;
