//! Comments, replies and tags: the `{ig-media-id}/comments` and `{ig-comment-id}/replies`
//! edges, the `comments{...}` field expansion on media, and `{ig-user-id}/tags`.
//!
//! What Meta documents and this module serves:
//! - a post's comments come newest first (since v3.2), each an IG Comment with `id`, `text`,
//!   `timestamp`, `username`, `like_count`, `hidden`, `from{id,username}`, `media{id}`, and
//!   `replies` (an edge, oldest first); a reply also carries `parent_id`;
//! - a media's `comments_count` counts comments and replies, so the comments served add up to it;
//! - a post with commenting turned off (`is_comment_enabled: false`) serves no comments: the edge
//!   answers `{"data":[]}` and the expansion leaves the field out (fields without a value are
//!   omitted), as it does for a post without comments;
//! - nested edges page like top-level ones: `comments.limit(n){...}` answers the first page with
//!   `paging.next` pointing at `{media-id}/comments` with the same sub-fields;
//! - a comment deleted after it was listed (`FakeOptions::deleted_comments`) still shows in
//!   listings (a stale page) but its `replies` edge answers 100/33 like any missing object;
//! - `{ig-user-id}/tags`: the posts of other accounts that tag the account, in the order the
//!   tags were made, newest first, not by the posts' `timestamp` (a real page lists a
//!   2018-10-08 post before a 2018-10-09 one): every third post is an older post tagged later.
//!   The edge pages by cursor only: `paging.cursors` and never a `next` link (as business
//!   discovery's media do in a real capture), so a client asks `after=` until a page is empty.
//!
//! Ids are derived from the media id (`178…` comments, `177…` replies, `176…` tagged posts), so
//! a comment id alone leads back to its post. Everything is a pure function of the dataset.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::dataset::{Account, Dataset, GRAPH_TIME_FORMAT, Media};
use crate::fields::FieldSelection;
use crate::graph_error::GraphError;
use crate::paging::{LinkBuilder, paged_response};
use crate::request::{GraphCall, GraphPath, Params};
use crate::stable_hash::{hash_parts, in_range};

/// Fields an IG Comment has (the fake's universe for `fields=`).
pub const COMMENT_FIELDS: &[&str] = &[
    "from",
    "hidden",
    "id",
    "legacy_instagram_comment_id",
    "like_count",
    "media",
    "parent_id",
    "replies",
    "text",
    "timestamp",
    "user",
    "username",
];

/// Fields of a tagged post (an IG Media of another account, as `/tags` serves it).
pub const TAGGED_FIELDS: &[&str] =
    &["caption", "comments_count", "id", "like_count", "media_type", "media_url", "permalink", "timestamp", "username"];

/// Tagged posts per account in the presets (`DatasetSpec::tagged_per_account`).
pub const TAGS_PER_ACCOUNT: usize = 6;

/// Hours between two tags of an account.
pub const HOURS_BETWEEN_TAGS: i64 = 20;

const COMMENT_TEXTS: [&str; 8] = [
    "Love this! 😍",
    "Where can I buy it?",
    "So good",
    "🔥🔥🔥",
    "Can't wait to visit again",
    "Is this available in blue?",
    "Great shot",
    "Tagging my friend here",
];

/// One IG Comment (or reply).
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub id: String,
    pub media_id: String,
    pub parent_id: Option<String>,
    pub text: String,
    pub username: String,
    pub from_id: String,
    pub like_count: u64,
    pub timestamp: DateTime<Utc>,
    /// Replies, oldest first (top-level comments only).
    pub replies: Vec<Comment>,
}

/// A post's comments, newest first, with their replies; empty when commenting is off.
/// Comments plus replies add up to `comments_count`.
pub fn comments_of(ds: &Dataset, media: &Media) -> Vec<Comment> {
    if media.is_comment_enabled != Some(true) {
        return Vec::new();
    }
    let total = media.comments_count.unwrap_or(0) as usize;
    let seed = ds.spec().seed.to_string();
    let h = |parts: &[&str]| {
        hash_parts([seed.as_str(), "comment", media.id.as_str()].into_iter().chain(parts.iter().copied()))
    };
    let replies = total / 3;
    let top = total - replies;
    let suffix = &media.id[3..];
    let latest = ds.now() - Duration::minutes(1);
    let mut comments: Vec<Comment> = (0..top)
        .map(|k| {
            let n = k.to_string();
            let who = in_range(h(&[n.as_str(), "who"]), 1, 400);
            Comment {
                id: format!("178{suffix}{k:02}"),
                media_id: media.id.clone(),
                parent_id: None,
                text: COMMENT_TEXTS[(h(&[n.as_str(), "text"]) % COMMENT_TEXTS.len() as u64) as usize].to_string(),
                username: format!("fan_{who}"),
                from_id: (17_841_460_000_000_000u64 + who).to_string(),
                like_count: in_range(h(&[n.as_str(), "likes"]), 0, 40),
                timestamp: (media.timestamp + Duration::minutes(5 + 13 * k as i64)).min(latest),
                replies: Vec::new(),
            }
        })
        .collect();
    for j in 0..replies {
        let jn = j.to_string();
        let k = (h(&[jn.as_str(), "parent"]) % top.max(1) as u64) as usize;
        let parent = &comments[k];
        let r = parent.replies.len();
        let reply = Comment {
            id: format!("177{suffix}{k:02}{r:02}"),
            media_id: media.id.clone(),
            parent_id: Some(parent.id.clone()),
            text: format!("@{} thank you!", parent.username),
            username: media.username.clone(),
            from_id: media.owner_id.clone(),
            like_count: in_range(h(&[jn.as_str(), "reply-likes"]), 0, 5),
            timestamp: (parent.timestamp + Duration::minutes(2 + r as i64)).min(latest),
            replies: Vec::new(),
        };
        comments[k].replies.push(reply);
    }
    comments.reverse();
    comments
}

/// The comment (or reply) with this id, if its post exists.
pub fn find_comment(ds: &Dataset, id: &str) -> Option<Comment> {
    let (media_id, k, r) = match (id.get(..3)?, id.len()) {
        ("178", 19) => (format!("179{}", &id[3..17]), id[17..19].parse::<usize>().ok()?, None),
        ("177", 21) => {
            (format!("179{}", &id[3..17]), id[17..19].parse::<usize>().ok()?, Some(id[19..21].parse().ok()?))
        }
        _ => return None,
    };
    let media = ds.media(&media_id)?;
    let comment = comments_of(ds, media).into_iter().find(|c| c.id[17..19].parse::<usize>().ok() == Some(k))?;
    match r {
        None => Some(comment),
        Some(r) => comment.replies.into_iter().nth(r),
    }
}

/// The posts of other accounts that tag `account`, as the tags edge lists them: the newest
/// tag first. Each carries, besides the fields the edge serves, `tagged_at` (when the tag was
/// made; never served). Tag `k` (0 = the oldest) was made `HOURS_BETWEEN_TAGS × (n − 1 − k)`
/// hours (and a few minutes) before `now − 6 h`; its post is as old as the tag, except every
/// third (`k % 3 == 2`), an older post (3 to 62 days) tagged later. Everything but the times
/// depends on `k` only, so a dataset 20 h later with one more tag holds the same tags.
pub fn tagged_of(ds: &Dataset, account: &Account) -> Vec<Value> {
    let seed = ds.spec().seed.to_string();
    let n = ds.spec().tagged_per_account;
    (0..n)
        .rev()
        .map(|k| {
            let kn = k.to_string();
            let h = |what: &str| hash_parts([seed.as_str(), "tag", account.ig_user_id.as_str(), kn.as_str(), what]);
            let who = in_range(h("who"), 1, 400);
            let tagged_at = ds.now()
                - Duration::hours(6 + HOURS_BETWEEN_TAGS * (n - 1 - k) as i64)
                - Duration::minutes((h("min") % 60) as i64);
            let ts = if k % 3 == 2 { tagged_at - Duration::days(3 + (h("age") % 60) as i64) } else { tagged_at };
            let id = format!("176{:02}{:012}", account.index % 100, k + 1);
            json!({
                "id": id,
                "caption": format!("Thanks @{} for the great day!", account.username),
                "comments_count": in_range(h("comments"), 0, 30),
                "like_count": in_range(h("likes"), 1, 900),
                "media_type": if k % 3 == 1 { "VIDEO" } else { "IMAGE" },
                "media_url": format!("https://scontent.cdninstagram.com/v/t51.29350-15/{id}_n.jpg"),
                "permalink": format!("https://www.instagram.com/p/T{id}/"),
                "timestamp": ts.format(GRAPH_TIME_FORMAT).to_string(),
                "username": format!("fan_{who}"),
                "tagged_at": tagged_at.format(GRAPH_TIME_FORMAT).to_string(),
            })
        })
        .collect()
}

/// `{ig-user-id}/tags`, paged, with `fields=` selection.
pub(crate) fn tags_edge(
    ds: &Dataset,
    account: &Account,
    selection: Option<&[FieldSelection]>,
    links: &LinkBuilder<'_>,
    cap: usize,
) -> Result<Value, GraphError> {
    let defaults: Vec<&str> = vec!["id"];
    let wanted: Vec<&str> = match selection {
        Some(sel) => sel.iter().map(|f| f.name.as_str()).collect(),
        None => defaults,
    };
    if let Some(bad) = wanted.iter().find(|f| !TAGGED_FIELDS.contains(f)) {
        return Err(GraphError::nonexisting_field(bad, "ShadowIGMedia"));
    }
    let items = tagged_of(ds, account)
        .into_iter()
        .map(|post| {
            let mut out = Map::new();
            out.insert("id".into(), post["id"].clone());
            for f in &wanted {
                if let Some(v) = post.get(*f) {
                    out.insert((*f).to_string(), v.clone());
                }
            }
            Value::Object(out)
        })
        .collect();
    // Cursors only: no `next` (nor `previous`) link.
    let mut page = paged_response(items, links, cap, Vec::new())?;
    if let Some(paging) = page.get_mut("paging").and_then(Value::as_object_mut) {
        paging.remove("next");
        paging.remove("previous");
    }
    Ok(page)
}

/// Everything rendering comments needs from the call.
pub(crate) struct CommentCx<'a> {
    pub ds: &'a Dataset,
    pub call: &'a GraphCall,
    pub base_url: &'a str,
    pub cap: usize,
    pub deleted: &'a [String],
}

impl CommentCx<'_> {
    /// `{media-id}/comments` (or, with `parent`, `{comment-id}/replies`) as an edge.
    pub fn edge(&self, items: &[Comment], selection: Option<&[FieldSelection]>) -> Result<Value, GraphError> {
        let rendered = items.iter().map(|c| self.render(c, selection)).collect::<Result<Vec<_>, _>>()?;
        paged_response(rendered, &LinkBuilder { base_url: self.base_url, call: self.call }, self.cap, Vec::new())
    }

    /// `{comment-id}/replies`: 100/33 for a deleted comment.
    pub fn replies_edge(&self, id: &str, selection: Option<&[FieldSelection]>) -> Result<Value, GraphError> {
        let comment = find_comment(self.ds, id)
            .filter(|c| c.parent_id.is_none() && !self.deleted.iter().any(|d| d == id))
            .ok_or_else(|| GraphError::unsupported_request("GET", id))?;
        self.edge(&comment.replies, selection)
    }

    /// The first page of a nested edge (`comments{...}` on a media, `replies{...}` on a
    /// comment); `None` when it has no items (the field is then omitted).
    pub fn nested(
        &self,
        node: &str,
        edge: &str,
        items: &[Comment],
        field: &FieldSelection,
    ) -> Option<Result<Value, GraphError>> {
        if items.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        if let Some(sub) = &field.sub_fields {
            params.push(("fields".to_string(), crate::fields::to_fields_string(sub)));
        }
        params.push(("limit".to_string(), field.limit().unwrap_or(crate::paging::DEFAULT_PAGE_SIZE).to_string()));
        if self.call.token_in_query
            && let Some(t) = self.call.params.get("access_token")
        {
            params.push(("access_token".to_string(), t.to_string()));
        }
        let call = GraphCall {
            method: "GET".into(),
            path: GraphPath {
                version: self.call.path.version.clone(),
                segments: vec![node.to_string(), edge.to_string()],
            },
            params: Params(params),
            body: String::new(),
            token_in_query: self.call.token_in_query,
            serial: self.call.serial,
        };
        let cx = CommentCx { call: &call, ..*self };
        Some(cx.edge(items, field.sub_fields.as_deref()))
    }

    /// One comment with the selected fields (default `id`, `text`, `timestamp`).
    pub fn render(&self, c: &Comment, selection: Option<&[FieldSelection]>) -> Result<Value, GraphError> {
        let default: Vec<FieldSelection> = ["text", "timestamp"].iter().map(|n| FieldSelection::plain(n)).collect();
        let selection = selection.unwrap_or(&default);
        let mut out = Map::new();
        out.insert("id".into(), json!(c.id));
        for f in selection {
            if !COMMENT_FIELDS.contains(&f.name.as_str()) {
                return Err(GraphError::nonexisting_field(&f.name, "IGComment"));
            }
            let v = match f.name.as_str() {
                "text" => json!(c.text),
                "timestamp" => json!(c.timestamp.format(GRAPH_TIME_FORMAT).to_string()),
                "username" => json!(c.username),
                "like_count" => json!(c.like_count),
                "hidden" => json!(false),
                "from" => json!({ "id": c.from_id, "username": c.username }),
                "media" => json!({ "id": c.media_id }),
                "parent_id" => match &c.parent_id {
                    Some(p) => json!(p),
                    None => continue,
                },
                "replies" if c.parent_id.is_none() => match self.nested(&c.id, "replies", &c.replies, f) {
                    Some(r) => r?,
                    None => continue,
                },
                _ => continue,
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }
}
