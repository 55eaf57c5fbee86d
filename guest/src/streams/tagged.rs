//! `tagged_media`: the posts of other accounts that tag each account (`{ig-user-id}/tags`).
//!
//! Owns the declaration and its hooks: one cycle-safe walk per account down the tags edge, one
//! record per post with the tagged account's `business_account_id` and `page_id`. It must not
//! read the account's own media.
//!
//! **Order and paging.** Meta lists tags by when the tag was made, newest first, not by the
//! post's `timestamp` (a real page lists a 2018-10-08 post before a 2018-10-09 one): an old post
//! tagged today comes first. The edge pages by cursor only (`paging.cursors.after`, no `next`
//! past the first page), so the walk asks `after=` until a page comes back empty.
//!
//! **Incremental.** A timestamp cursor cannot tell which posts were tagged since the last sync,
//! so the state keeps, beside the cursor (the newest `timestamp` seen, Airbyte's cursor field),
//! the ids of the first [`MARKS`] posts of the edge at the last complete walk (`recent_ids`; a
//! few hundred bytes per account). An incremental read walks from the top and emits every post
//! until it meets one of those ids: those were tagged since the last sync, whatever their
//! `timestamp`. Past that point posts are emitted again only when their `timestamp` is inside
//! the lookback window (cursor minus `media_lookback_days`), to refresh their counts; the walk
//! stops at the end of the first page, from the one where it met a known id on, that holds no
//! post of the lookback window (posts of the window were tagged no earlier than they were
//! posted, so they sit near the top). Without `recent_ids` (a first sync, or a state from
//! before them) every post is emitted. The cursor and `recent_ids` move once the account's walk
//! is done and was not cut short by a paging cycle. `start_date` drops posts older than it.

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::engine::walk::{self, Walk};
use crate::engine::{Cx, Family, bad_data};
use crate::error::Result;
use crate::graph::{self, ApiError, PAGE_LIMIT};
use crate::state::{self, AccountCursors};
use crate::transform::{self, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const TAGGED_MEDIA: StreamDef = StreamDef {
    name: "tagged_media",
    primary_key: &["id"],
    cursor_field: Some("timestamp"),
    schema: include_str!("../../../schemas/tagged_media.json"),
    parent: None,
    fields: Some(TAGGED_FIELDS),
};

/// Fields of the tags edge.
pub const TAGGED_FIELDS: &str =
    "id,caption,comments_count,like_count,media_type,media_url,permalink,timestamp,username";

/// Ids of the top of the edge kept in the state per account (a few may be untagged or deleted
/// by the next sync; one that is still there is enough).
pub const MARKS: usize = 10;
/// The state key of those ids, beside the cursor.
const MARKS_KEY: &str = "recent_ids";

/// One account's walk and what it knows.
struct Progress {
    walk: Option<(Walk, String)>,
    /// Posts older than this are not emitted (`start_date`).
    start_date: Option<DateTime<Utc>>,
    /// Incremental with known marks: past them, posts older than this are not emitted again.
    lookback: Option<DateTime<Utc>>,
    /// The ids the last sync saw first (empty: emit everything).
    marks: BTreeSet<String>,
    /// A known id was met: what follows was read before.
    met: bool,
    /// This walk's first ids (the next `recent_ids`).
    top: Vec<String>,
    newest: Option<DateTime<Utc>>,
}

/// The family; tags are account indexes.
pub struct Tagged {
    cursors: AccountCursors,
    marks: BTreeMap<String, Vec<String>>,
    progress: Vec<Progress>,
}

impl Tagged {
    pub fn new(
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let name = TAGGED_MEDIA.name;
        let mut cursors = AccountCursors::parse(name, "timestamp", state.get(name))?;
        cursors.drop_future(name, now);
        let marks = state::parse_lists(name, MARKS_KEY, state.get(name))?;
        let incremental = selection.is_incremental(name);
        let progress = accounts
            .iter()
            .map(|a| {
                let known: BTreeSet<String> = match (incremental, cursors.get(&a.ig_id)) {
                    (true, Some(_)) => marks.get(&a.ig_id).into_iter().flatten().cloned().collect(),
                    _ => BTreeSet::new(),
                };
                let lookback = cursors.get(&a.ig_id).map(|c| c - Duration::days(config.media_lookback_days));
                Progress {
                    walk: None,
                    start_date: config.start_date,
                    lookback: lookback.filter(|_| !known.is_empty()),
                    marks: known,
                    met: false,
                    top: Vec::new(),
                    newest: None,
                }
            })
            .collect();
        Ok(Tagged { cursors, marks, progress })
    }
}

impl Family for Tagged {
    fn streams(&self) -> &'static [&'static str] {
        &[TAGGED_MEDIA.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        for (a, account) in cx.accounts.iter().enumerate() {
            let url =
                cx.client.url(&format!("{}/tags", account.ig_id), &[("fields", TAGGED_FIELDS), ("limit", PAGE_LIMIT)]);
            let walk = Walk::new(format!("the tags edge of account {}", account.ig_id), &url);
            self.progress[a].walk = Some((walk, url.clone()));
            cx.side(a as u64, url);
        }
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let a = tag as usize;
        let (mut walk, url) = self.progress[a].walk.take().expect("a walk per asked page");
        let page = answer.and_then(|v| graph::parse_page(v, &url)).map_err(|e| {
            e.into_connector("reading the tagged media of the Instagram accounts").in_stream(TAGGED_MEDIA.name)
        })?;
        let mut next = None;
        if walk.accept(&page) {
            let p = &mut self.progress[a];
            // Whether this page held posts of the lookback window.
            let mut window_on_page = false;
            let mut posts = Vec::new();
            for item in &page.data {
                let Value::Object(post) = item else {
                    return Err(bad_data(TAGGED_MEDIA.name, "a tagged post that is not an object", item));
                };
                let Some(id) = post.get("id").and_then(Value::as_str) else {
                    return Err(bad_data(TAGGED_MEDIA.name, "a tagged post without `id`", item));
                };
                let ts = post.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
                if p.top.len() < MARKS {
                    p.top.push(id.to_string());
                }
                p.met |= p.marks.contains(id);
                if let Some(t) = ts {
                    p.newest = Some(p.newest.map_or(t, |n| n.max(t)));
                }
                let recent = match (p.lookback, ts) {
                    (Some(l), Some(t)) => t >= l,
                    _ => true,
                };
                window_on_page |= recent;
                let wanted = (!p.met || recent) && !matches!((p.start_date, ts), (Some(s), Some(t)) if t < s);
                if wanted {
                    posts.push(post.clone());
                }
            }
            for mut post in posts {
                transform::clean_object(&mut post);
                cx.enrich(&mut post, a);
                cx.record(TAGGED_MEDIA.name, post);
            }
            let p = &self.progress[a];
            if !p.met || window_on_page {
                next = walk.follow(walk::next_by_cursor(&page, &url));
            }
        }
        match next {
            Some(url) => {
                cx.side(a as u64, url.clone());
                self.progress[a].walk = Some((walk, url));
            }
            None if !walk.truncated => {
                let p = &mut self.progress[a];
                let id = &cx.accounts[a].ig_id;
                if let Some(t) = p.newest {
                    self.cursors.advance(id, t);
                }
                if !p.top.is_empty() {
                    self.marks.insert(id.clone(), std::mem::take(&mut p.top));
                }
            }
            None => {}
        }
        cx.checkpoint(TAGGED_MEDIA.name, self.cursors.to_state_with("timestamp", MARKS_KEY, &self.marks));
        Ok(())
    }
}
