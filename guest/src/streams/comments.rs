//! `media_comments`: the comments on every account's posts and the replies to them.
//!
//! Owns the declaration and its hooks: one walk per account down the media edge asking only
//! `id,timestamp,comments_count,is_comment_enabled` and the comments through field expansion
//! (`comments.limit(n){…,replies.limit(n){…}}`), so a post's first page of comments and of each
//! comment's replies come with the media page at no extra call; only where an expansion says
//! there are more (`paging.next`) is that edge paged further. Comments carry `media_id`, replies
//! `parent_id` and `media_id`. Incremental reads follow `media`: only posts in the media window
//! (cursor minus `media_lookback_days`, at least `start_date`) are read, and the per-account
//! cursor is the newest post's `timestamp`, moved once every walk of the account is done.
//! Comments disabled, posts without comments and a reply thread whose comment is gone are
//! skipped with a warning naming them (a page Meta answers "Unsupported get request" is asked
//! again a few times first: Meta says so of objects that exist when it is under load). This family walks the media edge on its own (it does
//! not share `media`'s pages); it must not ask insights.

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::emit;
use crate::engine::ops;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, PRIORITY_EDGE, bad_data};
use crate::error::Result;
use crate::graph::{self, ApiError, Page};
use crate::state::AccountCursors;
use crate::transform::{self, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::Value;
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
/// Posts per media page (each carries its comments, so pages stay smaller than `media`'s).
pub const POSTS_LIMIT: &str = "25";

fn media_fields() -> String {
    format!(
        "id,timestamp,comments_count,is_comment_enabled,comments.limit({COMMENTS_LIMIT}){{{COMMENT_FIELDS},replies.limit({COMMENTS_LIMIT}){{{COMMENT_FIELDS},parent_id}}}}"
    )
}

/// What one walk reads.
enum Edge {
    Media,
    Comments { media: String },
    Replies { media: String, comment: String },
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
    open: usize,
    truncated: bool,
    done: bool,
    no_comments: Vec<String>,
}

/// The family.
pub struct Comments {
    cursors: AccountCursors,
    progress: Vec<Progress>,
    walks: BTreeMap<u64, EdgeWalk>,
    next_tag: u64,
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
        Ok(Comments { cursors, progress, walks: BTreeMap::new(), next_tag: 0 })
    }

    fn open(&mut self, cx: &mut Cx<'_>, account: usize, edge: Edge, url: String) {
        let what = match &edge {
            Edge::Media => format!("the media edge (for comments) of account {}", cx.accounts[account].ig_id),
            Edge::Comments { media } => format!("the comments of media {media}"),
            Edge::Replies { comment, .. } => format!("the replies to comment {comment}"),
        };
        let walk = Walk::new(what, &url);
        self.progress[account].open += 1;
        self.ask(cx, EdgeWalk { account, edge, walk, url, attempts: 0 });
    }

    fn ask(&mut self, cx: &mut Cx<'_>, w: EdgeWalk) {
        let tag = self.next_tag;
        self.next_tag += 1;
        cx.get(tag, w.url.clone(), PRIORITY_EDGE);
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

    fn on_media_page(&mut self, cx: &mut Cx<'_>, w: EdgeWalk, page: Page) -> Result<()> {
        let a = w.account;
        let cutoff = self.progress[a].cutoff;
        let mut past = false;
        for item in page.data {
            let Value::Object(mut media) = item else {
                return Err(bad_data(MEDIA_COMMENTS.name, "a media item that is not an object", &item));
            };
            let Some(id) = media.get("id").and_then(Value::as_str).map(str::to_string) else {
                return Err(bad_data(MEDIA_COMMENTS.name, "a media item without `id`", &Value::Object(media)));
            };
            let ts = media.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
            if let (Some(c), Some(t)) = (cutoff, ts)
                && t < c
            {
                past = true;
                continue;
            }
            if let Some(t) = ts {
                let p = &mut self.progress[a];
                p.newest = Some(p.newest.map_or(t, |n| n.max(t)));
            }
            let counted = media.get("comments_count").and_then(Value::as_u64).unwrap_or(0);
            match media.remove("comments") {
                _ if media.get("is_comment_enabled") == Some(&Value::Bool(false)) => emit::warn(&format!(
                    "Comments are disabled on media {id} (account {}); its comments are skipped",
                    cx.accounts[a].ig_id
                )),
                None => self.progress[a].no_comments.push(id),
                Some(comments) => {
                    let (data, next) = expansion(comments);
                    if data.is_empty() && counted == 0 {
                        self.progress[a].no_comments.push(id.clone());
                    }
                    for c in data {
                        self.on_comment(cx, a, &id, c)?;
                    }
                    if let Some(next) = next {
                        self.open(cx, a, Edge::Comments { media: id }, next);
                    }
                }
            }
        }
        let next = page.next.filter(|_| !past);
        self.go_on(cx, w, next);
        Ok(())
    }

    /// Accounts whose walks are all done: report posts without comments, move the cursor.
    fn settle(&mut self, cx: &mut Cx<'_>) {
        for (a, p) in self.progress.iter_mut().enumerate() {
            if p.done || p.open > 0 {
                continue;
            }
            p.done = true;
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

impl Family for Comments {
    fn streams(&self) -> &'static [&'static str] {
        &[MEDIA_COMMENTS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let fields = media_fields();
        for (a, account) in cx.accounts.iter().enumerate() {
            let url = cx
                .client
                .url(&format!("{}/media", account.ig_id), &[("fields", fields.as_str()), ("limit", POSTS_LIMIT)]);
            self.open(cx, a, Edge::Media, url);
        }
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let mut w = self.walks.remove(&tag).expect("a walk per asked page");
        let a = w.account;
        let media = match &w.edge {
            Edge::Media => None,
            Edge::Comments { media } | Edge::Replies { media, .. } => Some(media.clone()),
        };
        let page = match answer.and_then(|v| graph::parse_page(v, &w.url)) {
            Ok(page) => Some(page),
            // Meta answers 100/33 for objects that exist when it is under load: ask again.
            Err(e)
                if media.is_some() && ops::is_unsupported_get(&e) && w.attempts + 1 < ops::UNSUPPORTED_GET_ATTEMPTS =>
            {
                w.attempts += 1;
                self.ask(cx, w);
                return Ok(());
            }
            // The post or comment went away between two pages (deleted): skip what is left.
            Err(ApiError::Graph { error, .. })
                if media.is_some() && error.code == 100 && error.error_subcode == Some(33) =>
            {
                let what = match &w.edge {
                    Edge::Replies { comment, media } => format!("replies to comment {comment} (media {media})"),
                    _ => format!("further comments of media {}", media.as_deref().unwrap_or("")),
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
        match (page, media) {
            (None, _) => self.go_on(cx, w, None),
            (Some(page), _) if !w.walk.accept(&page) => self.go_on(cx, w, None),
            (Some(page), None) => self.on_media_page(cx, w, page)?,
            (Some(page), Some(media)) => {
                for item in page.data {
                    self.on_comment(cx, a, &media, item)?;
                }
                self.go_on(cx, w, page.next);
            }
        }
        self.settle(cx);
        cx.checkpoint(MEDIA_COMMENTS.name, self.cursors.to_state("timestamp"));
        Ok(())
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
        assert!(media_fields().contains("comments.limit(50){id,text"));
        assert!(media_fields().ends_with("parent_id}}"));
    }
}
