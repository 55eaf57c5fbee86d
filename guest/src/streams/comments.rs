//! `media_comments`: the comments on every account's posts and the replies to them.
//!
//! Owns the declaration and what the stream reads of each post: it rides on the media walk
//! (`parts::media_riders`), which asks `comments_count,is_comment_enabled` and the comments
//! through field expansion (`comments.limit(n){…,replies.limit(n){…}}`) on every media page,
//! so a post's first page of comments and of each comment's replies come with the media page
//! (and with the first page the account list brings) at no call of their own, in the walk's
//! parallel time slices. Only where an expansion says there are more (`paging.next`) is that
//! edge paged further, as batch operations (many walks' pages to a batch, with the account's
//! insights). Comments carry `media_id`, replies `parent_id` and `media_id`.
//!
//! Incremental reads follow `media`: only posts in the media window (cursor minus
//! `media_lookback_days`, at least `start_date`) are read (the walk stops there), and the
//! per-account cursor is the newest post's `timestamp`, moved once the account's media walk
//! and every comment walk of it are done. Comments disabled, posts without comments and a
//! reply thread whose comment is gone are skipped with a warning naming them (a page Meta
//! answers "Unsupported get request" is asked again a few times first: Meta says so of objects
//! that exist when it is under load). It must not walk the media edge (the media family does)
//! nor ask insights.

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::emit;
use crate::engine::walk::Walk;
use crate::engine::{Cx, bad_data, ops};
use crate::error::Result;
use crate::graph::{self, ApiError};
use crate::parts::media_riders::{self, MediaRider};
use crate::state::AccountCursors;
use crate::transform::{self, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const MEDIA_COMMENTS: StreamDef = StreamDef {
    name: "media_comments",
    primary_key: &["id"],
    cursor_field: Some("timestamp"),
    schema: include_str!("../../../schemas/media_comments.json"),
    parent: Some("media"),
    fields: Some(COMMENT_FIELDS),
};

/// Fields of a comment (and of a reply, which adds `parent_id`).
pub const COMMENT_FIELDS: &str = "id,text,timestamp,username,like_count,hidden,from{id,username}";
/// Comments or replies per page, in the expansion and on the edges.
pub const COMMENTS_LIMIT: &str = "50";

/// What this stream asks of each post on the media edge.
pub fn post_fields() -> Vec<String> {
    vec![
        "timestamp".into(),
        "comments_count".into(),
        "is_comment_enabled".into(),
        format!("comments.limit({COMMENTS_LIMIT}){{{}}}", edge_fields()),
    ]
}

/// Fields of a comment on the comments edge, with its first replies.
fn edge_fields() -> String {
    format!("{COMMENT_FIELDS},replies.limit({COMMENTS_LIMIT}){{{COMMENT_FIELDS},parent_id}}")
}

/// What one walk reads: the comments of a post past its expansion, or the replies to one.
enum Edge {
    Comments { media: String },
    Replies { media: String, comment: String },
}

impl Edge {
    fn media(&self) -> &str {
        match self {
            Edge::Comments { media } | Edge::Replies { media, .. } => media,
        }
    }
}

struct EdgeWalk {
    account: usize,
    edge: Edge,
    walk: Walk,
    url: String,
    /// Times this page was asked (Meta's "Unsupported get request" comes and goes).
    attempts: u32,
}

#[derive(Default)]
struct Progress {
    cutoff: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    /// Comment and reply walks not yet done.
    open: usize,
    truncated: bool,
    /// The media walk of the account is done.
    edge_done: bool,
    done: bool,
    no_comments: Vec<String>,
}

/// The rider.
pub struct Comments {
    cursors: AccountCursors,
    progress: Vec<Progress>,
    walks: BTreeMap<u64, EdgeWalk>,
    next_tag: u64,
    fields: Vec<String>,
    /// An account settled since the last checkpoint.
    moved: bool,
}

impl Comments {
    pub fn new(
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let name = MEDIA_COMMENTS.name;
        let mut cursors = AccountCursors::parse(name, "timestamp", state.get(name))?;
        cursors.drop_future(name, now);
        let progress = accounts
            .iter()
            .map(|a| {
                let cutoff = super::post_cutoff(selection, config, name, &cursors, a);
                Progress { cutoff, ..Progress::default() }
            })
            .collect();
        Ok(Comments {
            cursors,
            progress,
            walks: BTreeMap::new(),
            next_tag: media_riders::TAG_BASE,
            fields: post_fields(),
            moved: false,
        })
    }

    fn open(&mut self, cx: &mut Cx<'_>, account: usize, edge: Edge, url: String) {
        let what = match &edge {
            Edge::Comments { media } => format!("the comments of media {media}"),
            Edge::Replies { comment, .. } => format!("the replies to comment {comment}"),
        };
        let walk = Walk::new(what, &url);
        self.progress[account].open += 1;
        self.ask(cx, EdgeWalk { account, edge, walk, url, attempts: 0 });
    }

    /// A page of a comment walk: one batch operation, with the other walks' pages and the
    /// account's insights.
    fn ask(&mut self, cx: &mut Cx<'_>, w: EdgeWalk) {
        let tag = self.next_tag;
        self.next_tag += 1;
        cx.small_page_of(w.account, tag, w.url.clone());
        self.walks.insert(tag, w);
    }

    fn go_on(&mut self, cx: &mut Cx<'_>, mut w: EdgeWalk, next: Option<String>) {
        match w.walk.follow(next) {
            Some(url) => {
                w.url = url;
                w.attempts = 0;
                self.ask(cx, w);
            }
            None => {
                let p = &mut self.progress[w.account];
                p.truncated |= w.walk.truncated;
                p.open -= 1;
            }
        }
    }

    /// One comment (with its expanded replies) or one reply: records, and walks for more.
    fn on_comment(&mut self, cx: &mut Cx<'_>, a: usize, media: &str, item: Value) -> Result<()> {
        let Value::Object(mut c) = item else {
            return Err(bad_data(MEDIA_COMMENTS.name, "a comment that is not an object", &item));
        };
        let Some(id) = c.get("id").and_then(Value::as_str).map(str::to_string) else {
            return Err(bad_data(MEDIA_COMMENTS.name, "a comment without `id`", &Value::Object(c)));
        };
        let replies = c.remove("replies");
        transform::clean_object(&mut c);
        c.insert("media_id".into(), Value::String(media.to_string()));
        if !c.contains_key("parent_id") {
            c.insert("parent_id".into(), Value::Null);
        }
        cx.enrich(&mut c, a);
        cx.record(MEDIA_COMMENTS.name, c);
        if let Some(replies) = replies {
            let (data, next) = expansion(replies);
            for reply in data {
                self.on_comment(cx, a, media, reply)?;
            }
            if let Some(next) = next {
                self.open(cx, a, Edge::Replies { media: media.to_string(), comment: id }, next);
            }
        }
        Ok(())
    }

    /// Accounts whose walks are all done: report posts without comments, move the cursor.
    fn settle(&mut self, cx: &mut Cx<'_>) {
        for (a, p) in self.progress.iter_mut().enumerate() {
            if p.done || !p.edge_done || p.open > 0 {
                continue;
            }
            p.done = true;
            self.moved = true;
            if !p.no_comments.is_empty() {
                emit::warn(&format!(
                    "No comments on {} post(s) of account {}, skipped: {}",
                    p.no_comments.len(),
                    cx.accounts[a].ig_id,
                    p.no_comments.join(", ")
                ));
            }
            if let (false, Some(t)) = (p.truncated, p.newest) {
                self.cursors.advance(&cx.accounts[a].ig_id, t);
            }
        }
    }
}

/// `{data:[…], paging:{next}}` of a field expansion → its items and `next`.
fn expansion(v: Value) -> (Vec<Value>, Option<String>) {
    let next = v.pointer("/paging/next").and_then(Value::as_str).map(str::to_string);
    let data = match v {
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(d)) => d,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    (data, next)
}

impl MediaRider for Comments {
    fn stream(&self) -> &'static str {
        MEDIA_COMMENTS.name
    }

    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn cutoff(&self, a: usize) -> Option<DateTime<Utc>> {
        self.progress[a].cutoff
    }

    fn on_post(&mut self, cx: &mut Cx<'_>, a: usize, post: &mut Map<String, Value>, expanded: bool) -> Result<()> {
        // Taken out whatever happens next: the `media` record never carries it.
        let comments = post.remove("comments");
        if !cx.wants(MEDIA_COMMENTS.name) {
            return Ok(());
        }
        let Some(id) = post.get("id").and_then(Value::as_str).map(str::to_string) else {
            return Err(bad_data(MEDIA_COMMENTS.name, "a media item without `id`", &Value::Object(post.clone())));
        };
        let ts = post.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
        let p = &mut self.progress[a];
        if let (Some(c), Some(t)) = (p.cutoff, ts)
            && t < c
        {
            return Ok(());
        }
        if let Some(t) = ts {
            p.newest = Some(p.newest.map_or(t, |n| n.max(t)));
        }
        let counted = post.get("comments_count").and_then(Value::as_u64).unwrap_or(0);
        match comments {
            _ if post.get("is_comment_enabled") == Some(&Value::Bool(false)) => emit::warn(&format!(
                "Comments are disabled on media {id} (account {}); its comments are skipped",
                cx.accounts[a].ig_id
            )),
            None if expanded || counted == 0 => p.no_comments.push(id),
            // The page came without the expansion (too much data with it): walk the edge.
            None => {
                let fields = edge_fields();
                let url = cx.client.url(&format!("{id}/comments"), &[("fields", &fields), ("limit", COMMENTS_LIMIT)]);
                self.open(cx, a, Edge::Comments { media: id }, url);
            }
            Some(comments) => {
                let (data, next) = expansion(comments);
                if data.is_empty() && counted == 0 {
                    p.no_comments.push(id.clone());
                }
                for c in data {
                    self.on_comment(cx, a, &id, c)?;
                }
                if let Some(next) = next {
                    self.open(cx, a, Edge::Comments { media: id }, next);
                }
            }
        }
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let mut w = self.walks.remove(&tag).expect("a walk per asked page");
        let a = w.account;
        let media = w.edge.media().to_string();
        let page = match answer.and_then(|v| graph::parse_page(v, &w.url)) {
            Ok(page) => Some(page),
            // Meta answers 100/33 for objects that exist when it is under load: ask again.
            Err(e) if ops::is_unsupported_get(&e) && w.attempts + 1 < ops::UNSUPPORTED_GET_ATTEMPTS => {
                w.attempts += 1;
                self.ask(cx, w);
                return Ok(());
            }
            // The post or comment went away between two pages (deleted): skip what is left.
            Err(ApiError::Graph { error, .. }) if error.code == 100 && error.error_subcode == Some(33) => {
                let what = match &w.edge {
                    Edge::Replies { comment, media } => format!("replies to comment {comment} (media {media})"),
                    Edge::Comments { media } => format!("further comments of media {media}"),
                };
                emit::warn(&format!("Skipped the {what}: Meta no longer serves it ({})", error.message));
                None
            }
            Err(e) => {
                return Err(e
                    .into_connector("reading the comments of the Instagram media")
                    .in_stream(MEDIA_COMMENTS.name));
            }
        };
        match page {
            None => self.go_on(cx, w, None),
            Some(page) if !w.walk.accept(&page) => self.go_on(cx, w, None),
            Some(page) => {
                for item in page.data {
                    self.on_comment(cx, a, &media, item)?;
                }
                self.go_on(cx, w, page.next);
            }
        }
        Ok(())
    }

    fn edge_done(&mut self, a: usize, truncated: bool) {
        let p = &mut self.progress[a];
        p.edge_done = true;
        p.truncated |= truncated;
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) {
        self.settle(cx);
        if cx.wants(MEDIA_COMMENTS.name) && (self.moved || cx.uncheckpointed(MEDIA_COMMENTS.name) > 0) {
            self.moved = false;
            cx.checkpoint(MEDIA_COMMENTS.name, self.cursors.to_state("timestamp"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An expansion yields its items and its `next`; a missing `data` yields nothing.
    #[test]
    fn expansions_split() {
        let (d, n) = expansion(json!({"data": [{"id": "1"}], "paging": {"next": "u"}}));
        assert_eq!(d.len(), 1);
        assert_eq!(n.as_deref(), Some("u"));
        assert_eq!(expansion(json!({})).0.len(), 0);
        let comments = post_fields().pop().unwrap();
        assert!(comments.starts_with("comments.limit(50){id,text"));
        assert!(comments.ends_with("parent_id}}"));
    }
}
