//! The public side of Instagram an account may look at, as Meta serves it with Facebook Login:
//! other professional accounts through `business_discovery.username(…){…}` on the account's
//! IG user node (media paged with `media.after(cursor).limit(n)` inside the field), and
//! hashtags through `ig_hashtag_search?user_id=…&q=…`, `{hashtag-id}`, `{hashtag-id}/top_media`
//! and `{hashtag-id}/recent_media` (`user_id` required; recent media covers the last 24 hours).
//!
//! Owns the generated competitors and hashtags (a pure function of the dataset spec, so tests
//! know the right answer), their rendering, and the two limits Meta puts on these calls: an
//! account may search at most [`HASHTAG_BUDGET`] unique hashtags in 7 days (error 24/2207034),
//! and the calls count against the platform rate limit (`X-App-Usage`, error 17 past
//! `FakeOptions::platform_calls_per_hour`), not the business use-case limit. It must not serve
//! the account's own nodes and edges (`api` does).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::dataset::{DatasetSpec, GRAPH_TIME_FORMAT, MediaProductType, MediaType};
use crate::faults::UsageNumbers;
use crate::fields::FieldSelection;
use crate::graph_error::GraphError;
use crate::paging::{LinkBuilder, decode_cursor, encode_cursor, paged_response};
use crate::request::GraphCall;
use crate::stable_hash::{hash_parts, in_range};

/// Unique hashtags an account may search in [`HASHTAG_WINDOW_DAYS`] days.
pub const HASHTAG_BUDGET: usize = 30;
pub const HASHTAG_WINDOW_DAYS: i64 = 7;
/// `recent_media` lists media of the last 24 hours.
pub const RECENT_MEDIA_HOURS: i64 = 24;
/// Largest `limit` of the hashtag edges (Meta: 50).
pub const HASHTAG_PAGE_CAP: usize = 50;
/// Meta's platform rate limit per user and hour.
pub const DEFAULT_PLATFORM_CALLS_PER_HOUR: u32 = 200;

/// A public post of a competitor or under a hashtag.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicMedia {
    pub id: String,
    pub caption: String,
    pub comments_count: u64,
    /// `None` when the owner hides like counts (Meta omits the field).
    pub like_count: Option<u64>,
    pub media_type: MediaType,
    pub product_type: MediaProductType,
    pub permalink: String,
    pub media_url: String,
    pub timestamp: DateTime<Utc>,
    /// Reels only (`view_count` through business discovery, Jun 2025; Instagram and
    /// Facebook views of a crossposted reel since Apr 2026); Meta omits it for other media.
    pub view_count: Option<u64>,
}

/// A professional account other than the token's, seen through business discovery.
#[derive(Clone, Debug, PartialEq)]
pub struct Competitor {
    pub id: String,
    pub ig_id: u64,
    pub username: String,
    pub name: String,
    pub biography: String,
    pub website: String,
    pub followers_count: u64,
    pub follows_count: u64,
    pub profile_picture_url: String,
    /// Newest first.
    pub media: Vec<PublicMedia>,
}

/// A hashtag and every public post under it (newest first); `top_media` is a fixed selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Hashtag {
    pub id: String,
    pub name: String,
    pub media: Vec<PublicMedia>,
    /// Indexes into `media` of the top posts, in Meta's order.
    pub top: Vec<usize>,
}

impl Hashtag {
    pub fn top_media(&self) -> Vec<&PublicMedia> {
        self.top.iter().map(|i| &self.media[*i]).collect()
    }

    /// The posts `recent_media` serves at `now`: those of the last 24 hours.
    pub fn recent_media(&self, now: DateTime<Utc>) -> Vec<&PublicMedia> {
        self.media.iter().filter(|m| m.timestamp > now - Duration::hours(RECENT_MEDIA_HOURS)).collect()
    }
}

/// The competitors and hashtags of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicWorld {
    pub competitors: Vec<Competitor>,
    pub hashtags: Vec<Hashtag>,
}

/// (username, posts): a small account, one with more posts than one discovery page, none.
const COMPETITORS: [(&str, &str, usize); 3] = [
    ("rival_roasters", "Rival Roasters", 7),
    ("summit_gear", "Summit Gear Co", 130),
    ("quiet_studio", "Quiet Studio", 0),
];
/// (name, posts over the last 72 h, top posts).
const HASHTAGS: [(&str, usize, usize); 3] = [("sunset", 30, 9), ("coffee", 6, 4), ("handmade", 60, 12)];
/// Extra hashtags `tag01` … `tag40` (2 posts each) for budget tests.
const NUMBERED_HASHTAGS: usize = 40;

impl PublicWorld {
    pub fn generate(spec: &DatasetSpec) -> PublicWorld {
        let seed = spec.seed.to_string();
        let h = |parts: &[&str]| hash_parts(std::iter::once(seed.as_str()).chain(parts.iter().copied()));
        let media = |owner: &str, n: usize, span_hours: i64, id_prefix: u64, k: usize| {
            let hash = h(&[owner, "media", &k.to_string()]);
            let step = span_hours * 3600 / (n.max(1) as i64);
            let timestamp = spec.now - Duration::seconds(step * k as i64 + 60 + (hash % 50) as i64);
            let (media_type, product_type) = match k % 5 {
                1 => (MediaType::CarouselAlbum, MediaProductType::Feed),
                3 => (MediaType::Video, MediaProductType::Reels),
                _ => (MediaType::Image, MediaProductType::Feed),
            };
            let id = format!("{}{:014}", id_prefix, in_range(hash, 1, 99_999_999_999_999));
            PublicMedia {
                permalink: format!("https://www.instagram.com/p/{}/", &id[id.len() - 11..]),
                media_url: format!("https://scontent.cdninstagram.com/v/t51/{id}.jpg"),
                caption: format!("#{owner} post {} of {n}", k + 1),
                comments_count: in_range(hash >> 8, 0, 400),
                like_count: (k % 6 != 4).then(|| in_range(hash >> 20, 3, 90_000)),
                view_count: (product_type == MediaProductType::Reels).then(|| in_range(hash >> 32, 100, 2_000_000)),
                media_type,
                product_type,
                timestamp,
                id,
            }
        };
        let competitors = COMPETITORS
            .iter()
            .enumerate()
            .map(|(i, (username, name, posts))| Competitor {
                id: format!("178414{:011}", 90_000 + i),
                ig_id: 7_000_000_000 + i as u64,
                username: username.to_string(),
                name: name.to_string(),
                biography: format!("{name}: the competition"),
                website: format!("https://{username}.example"),
                followers_count: in_range(h(&[username, "followers"]), 1_000, 900_000),
                follows_count: in_range(h(&[username, "follows"]), 10, 2_000),
                profile_picture_url: format!("https://scontent.cdninstagram.com/v/t51/{username}.jpg"),
                media: (0..*posts).map(|k| media(username, *posts, 24 * 400, 182, k)).collect(),
            })
            .collect();
        let numbered: Vec<(String, usize, usize)> =
            (1..=NUMBERED_HASHTAGS).map(|i| (format!("tag{i:02}"), 2, 1)).collect();
        let hashtags = HASHTAGS
            .iter()
            .map(|(n, p, t)| (n.to_string(), *p, *t))
            .chain(numbered)
            .map(|(name, posts, top)| {
                let all: Vec<PublicMedia> = (0..posts).map(|k| media(&name, posts, 72, 183, k)).collect();
                let mut order: Vec<usize> = (0..posts).collect();
                order.sort_by_key(|i| std::cmp::Reverse(all[*i].like_count.unwrap_or(0) + all[*i].comments_count));
                order.truncate(top);
                Hashtag {
                    id: format!("178438{:011}", in_range(h(&[&name, "hashtag-id"]), 1, 99_999_999_999)),
                    name,
                    media: all,
                    top: order,
                }
            })
            .collect();
        PublicWorld { competitors, hashtags }
    }

    pub fn competitor(&self, username: &str) -> Option<&Competitor> {
        self.competitors.iter().find(|c| c.username.eq_ignore_ascii_case(username))
    }

    pub fn hashtag_named(&self, name: &str) -> Option<&Hashtag> {
        let name = name.trim_start_matches('#');
        self.hashtags.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub fn hashtag(&self, id: &str) -> Option<&Hashtag> {
        self.hashtags.iter().find(|t| t.id == id)
    }
}

/// What the server remembers about these calls: hashtag searches per account and the
/// platform calls of the last hour.
pub(crate) struct PublicState {
    searches: Mutex<HashMap<String, Vec<(String, Instant)>>>,
    platform_calls: Mutex<Vec<Instant>>,
    calls_per_hour: u32,
    window: StdDuration,
}

impl PublicState {
    pub fn new(calls_per_hour: u32, window: StdDuration) -> Self {
        PublicState {
            searches: Mutex::default(),
            platform_calls: Mutex::default(),
            calls_per_hour: calls_per_hour.max(1),
            window,
        }
    }

    /// One platform-counted call: the `X-App-Usage` numbers after it, or the throttle.
    pub fn count_platform_call(&self) -> Result<UsageNumbers, (GraphError, UsageNumbers)> {
        let now = Instant::now();
        let mut calls = self.platform_calls.lock().unwrap();
        calls.retain(|t| now.duration_since(*t) < self.window);
        if calls.len() as u32 >= self.calls_per_hour {
            return Err((GraphError::throttled(17), UsageNumbers::exhausted(60)));
        }
        calls.push(now);
        Ok(UsageNumbers::from_percent(calls.len() as f64 * 100.0 / self.calls_per_hour as f64))
    }

    /// Count a search of `name` by `user`: a new unique hashtag past the budget is refused.
    fn search(&self, user: &str, name: &str) -> Result<(), GraphError> {
        let now = Instant::now();
        let window = StdDuration::from_secs(HASHTAG_WINDOW_DAYS as u64 * 86_400);
        let mut searches = self.searches.lock().unwrap();
        let list = searches.entry(user.to_string()).or_default();
        list.retain(|(_, t)| now.duration_since(*t) < window);
        if list.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        if list.len() >= HASHTAG_BUDGET {
            return Err(GraphError::hashtag_search_limit());
        }
        list.push((name.to_string(), now));
        Ok(())
    }

    /// The unique hashtags `user` searched in the last 7 days (what
    /// `recently_searched_hashtags` would list).
    pub fn searched(&self, user: &str) -> Vec<String> {
        self.searches.lock().unwrap().get(user).map(|l| l.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default()
    }
}

/// Whether a call counts against the platform rate limit: hashtag search, hashtag nodes and
/// edges, and business discovery.
pub(crate) fn is_platform_call(world: &PublicWorld, call: &GraphCall) -> bool {
    let first = call.path.segments.first().map(String::as_str).unwrap_or("");
    first == "ig_hashtag_search"
        || world.hashtag(first).is_some()
        || call.params.get("fields").is_some_and(|f| f.contains("business_discovery"))
}

fn required_user_id(call: &GraphCall) -> Result<&str, GraphError> {
    call.params
        .get("user_id")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("The parameter user_id is required"))
}

/// Answers hashtag calls; `None` when the call is not about hashtags.
pub(crate) fn answer_hashtags(
    world: &PublicWorld,
    state: &PublicState,
    now: DateTime<Utc>,
    links: &LinkBuilder<'_>,
    is_account: impl Fn(&str) -> bool,
) -> Option<Result<Value, GraphError>> {
    let call = links.call;
    let segments = &call.path.segments;
    let first = segments.first()?.as_str();
    if first == "ig_hashtag_search" {
        return Some((|| -> Result<Value, GraphError> {
            let user = required_user_id(call)?;
            if !is_account(user) {
                return Err(GraphError::invalid_parameter("Param user_id must be an IG user id of this token"));
            }
            let q = call.params.get("q").map(|q| q.trim().trim_start_matches('#').to_lowercase()).unwrap_or_default();
            if q.is_empty() {
                return Err(GraphError::invalid_parameter("The parameter q is required"));
            }
            state.search(user, &q)?;
            Ok(match world.hashtag_named(&q) {
                Some(tag) => json!({"data": [{"id": tag.id}]}),
                None => json!({"data": []}),
            })
        })());
    }
    let tag = world.hashtag(first)?;
    Some((|| -> Result<Value, GraphError> {
        let selection = match call.params.get("fields").filter(|f| !f.trim().is_empty()) {
            Some(raw) => Some(crate::fields::parse_fields(raw)?),
            None => None,
        };
        let items = match segments.get(1).map(String::as_str) {
            None => return Ok(json!({"id": tag.id, "name": tag.name})),
            Some("top_media") => tag.top_media(),
            Some("recent_media") => tag.recent_media(now),
            Some(_) => return Err(GraphError::unsupported_request(&call.method, first)),
        };
        required_user_id(call)?;
        let defaults = [FieldSelection::plain("id")];
        let fields = selection.as_deref().unwrap_or(&defaults);
        let items = items.into_iter().map(|m| render_media(m, fields, None)).collect::<Result<Vec<_>, _>>()?;
        paged_response(items, links, HASHTAG_PAGE_CAP, Vec::new())
    })())
}

/// The fields Meta's reference lists as returnable on `top_media` and `recent_media`: no
/// `username` ("You cannot request the username field on returned media objects") and no
/// `media_product_type`; asking for another is refused like any field the node lacks.
const HASHTAG_MEDIA_FIELDS: &[&str] =
    &["caption", "children", "comments_count", "id", "like_count", "media_type", "media_url", "permalink", "timestamp"];

/// Business discovery media carry the owner's username.
const PUBLIC_MEDIA_FIELDS: &[&str] = &[
    "caption",
    "comments_count",
    "id",
    "like_count",
    "media_product_type",
    "media_type",
    "media_url",
    "permalink",
    "timestamp",
    "username",
    "view_count",
];

fn render_media(m: &PublicMedia, fields: &[FieldSelection], owner: Option<&str>) -> Result<Value, GraphError> {
    let mut out = Map::new();
    out.insert("id".into(), json!(m.id));
    for f in fields {
        if owner.is_none() && !HASHTAG_MEDIA_FIELDS.contains(&f.name.as_str()) {
            return Err(GraphError::nonexisting_field(&f.name, "IGMedia"));
        }
        let value = match f.name.as_str() {
            "id" => continue,
            "caption" => json!(m.caption),
            "comments_count" => json!(m.comments_count),
            "like_count" => match m.like_count {
                Some(n) => json!(n),
                None => continue,
            },
            "media_type" => json!(m.media_type.as_str()),
            "media_product_type" => json!(m.product_type.as_str()),
            "media_url" => json!(m.media_url),
            "permalink" => json!(m.permalink),
            "timestamp" => json!(m.timestamp.format(GRAPH_TIME_FORMAT).to_string()),
            "username" if owner.is_some() => json!(owner),
            "view_count" if owner.is_some() => match m.view_count {
                Some(n) => json!(n),
                None => continue,
            },
            other if PUBLIC_MEDIA_FIELDS.contains(&other) => continue,
            other => return Err(GraphError::nonexisting_field(other, "IGMedia")),
        };
        out.insert(f.name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// The value of a `business_discovery.username(…){…}` field.
pub(crate) fn business_discovery(world: &PublicWorld, field: &FieldSelection) -> Result<Value, GraphError> {
    let username = field
        .modifier("username")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("business_discovery requires .username(…)"))?;
    let c = world.competitor(username).ok_or_else(|| GraphError::discovery_user_not_found(username))?;
    let defaults = [FieldSelection::plain("id")];
    let fields = field.sub_fields.as_deref().unwrap_or(&defaults);
    let mut out = Map::new();
    out.insert("id".into(), json!(c.id));
    for f in fields {
        let value = match f.name.as_str() {
            "id" => continue,
            "ig_id" => json!(c.ig_id),
            "username" => json!(c.username),
            "name" => json!(c.name),
            "biography" => json!(c.biography),
            "website" => json!(c.website),
            "followers_count" => json!(c.followers_count),
            "follows_count" => json!(c.follows_count),
            "media_count" => json!(c.media.len()),
            "profile_picture_url" => json!(c.profile_picture_url),
            "media" => discovery_media(c, f)?,
            other => return Err(GraphError::nonexisting_field(other, "IGUser")),
        };
        out.insert(f.name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// `media.after(cursor).limit(n){…}` inside business discovery: cursors only (no `next` URL,
/// the caller pages by asking again with `.after(…)`).
fn discovery_media(c: &Competitor, f: &FieldSelection) -> Result<Value, GraphError> {
    let limit = match f.modifier("limit") {
        None => 25,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map_err(|_| GraphError::invalid_parameter("limit must be a non-negative integer"))?
            .clamp(1, 100),
    };
    let start = match f.modifier("after").filter(|a| !a.is_empty()) {
        Some(a) => decode_cursor(a).ok_or_else(|| GraphError::invalid_parameter("The cursor is invalid"))? + 1,
        None => 0,
    };
    let defaults = [FieldSelection::plain("id")];
    let fields = f.sub_fields.as_deref().unwrap_or(&defaults);
    let end = (start + limit).min(c.media.len());
    let start = start.min(end);
    let data = c.media[start..end]
        .iter()
        .map(|m| render_media(m, fields, Some(&c.username)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = json!({ "data": data });
    if end > start {
        out["paging"] = json!({"cursors": {"before": encode_cursor(start), "after": encode_cursor(end - 1)}});
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The world is a pure function of the spec; recent media only covers 24 h.
    #[test]
    fn world_shape() {
        let spec = DatasetSpec::small();
        let w = PublicWorld::generate(&spec);
        assert_eq!(w, PublicWorld::generate(&spec));
        assert_eq!(w.competitor("summit_gear").unwrap().media.len(), 130);
        let sunset = w.hashtag_named("#Sunset").unwrap();
        let recent = sunset.recent_media(spec.now);
        assert!(!recent.is_empty() && recent.len() < sunset.media.len());
        assert!(recent.iter().all(|m| m.timestamp > spec.now - Duration::hours(24)));
        assert_eq!(sunset.top_media().len(), 9);
        assert_eq!(w.hashtags.len(), 43);
    }

    /// A 31st unique hashtag within 7 days is refused; searching a known one again is free.
    #[test]
    fn hashtag_budget() {
        let s = PublicState::new(200, StdDuration::from_secs(3600));
        for i in 0..30 {
            s.search("1", &format!("t{i}")).unwrap();
        }
        s.search("1", "t3").unwrap();
        let e = s.search("1", "t30").unwrap_err();
        assert_eq!((e.code, e.error_subcode), (24, Some(2207034)));
        s.search("2", "t30").unwrap();
    }
}
