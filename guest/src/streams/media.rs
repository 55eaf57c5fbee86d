//! `media` and `media_insights`: every account's posts (newest first) and their metrics.
//!
//! Owns both declarations and the media-edge hooks: the first page of each account by cursor;
//! for large accounts the older posts in parallel time slices (`media_slices`), falling back to
//! cursor paging for a slice Meta refuses; the media record (children and collaborators
//! inlined); each page's posts handed to `media_insights` as one group of operations (with the
//! breakdown operations of `object_breakdowns`, merged into the same record), and to the stream riding on
//! the walk (`media_riders`, e.g. `media_comments`), whose fields every page asks too; and the
//! per-account cursors, which move only once every walk of the account (and, for
//! `media_insights`, every operation) is done and no walk was cut short by a paging cycle. The
//! walk runs when any of these streams is selected, asking only the fields they need (the walks
//! themselves and what a page yields are in `media/edge.rs`). It must not ask account insights
//! nor know what a rider reads.

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::emit;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, PRIORITY_EDGE, bad_data};
use crate::error::Result;
use crate::graph::{self, ApiError, PAGE_LIMIT};
use crate::metrics::MediaKind;
use crate::parts::media_riders::{self, MediaRider};
use crate::parts::media_slices::{self, Slice};
use crate::parts::object_breakdowns::ObjectBreakdowns;
use crate::parts::object_insights::{ObjectInsights, Target};
use crate::state::AccountCursors;
use crate::transform::{self, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

mod edge;

pub const MEDIA: StreamDef = StreamDef {
    name: "media",
    primary_key: &["id"],
    cursor_field: Some("timestamp"),
    schema: include_str!("../../../schemas/media.json"),
    parent: None,
    fields: Some(MEDIA_FIELDS),
};

pub const MEDIA_INSIGHTS: StreamDef = StreamDef {
    name: "media_insights",
    primary_key: &["id"],
    cursor_field: Some("timestamp"),
    schema: include_str!("../../../schemas/media_insights.json"),
    parent: Some("media"),
    fields: None,
};

/// Fields of the media edge (Facebook Login; `graph_fields` holds them per login).
pub use crate::graph_fields::MEDIA_FIELDS;

/// One account's progress.
struct Progress {
    media_cutoff: Option<DateTime<Utc>>,
    insights_cutoff: Option<DateTime<Utc>>,
    /// Items older than this are not wanted by any consumer.
    stop_before: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    open_walks: usize,
    truncated: bool,
    /// Ids of the first page (slices skip them) and its `next` (the fallback for slices).
    first_ids: BTreeSet<String>,
    first_next: Option<String>,
    media_done: bool,
    insights_done: bool,
    /// The rider was told that every walk of the account is done.
    rider_told: bool,
}

/// One walk down the edge: the first page's cursor walk, a slice, or a slice's fallback.
struct EdgeWalk {
    account: usize,
    walk: Walk,
    url: String,
    slice: Option<Slice>,
    first: bool,
    fallback: bool,
    /// Asked without the rider's expansions (Meta refused them even at one post a page).
    bare: bool,
}

/// The family; walk tags are below `object_insights::TAG_BASE`.
pub struct Media {
    media_cursors: AccountCursors,
    insights_cursors: AccountCursors,
    progress: Vec<Progress>,
    walks: BTreeMap<u64, EdgeWalk>,
    next_walk: u64,
    insights: ObjectInsights,
    breakdowns: ObjectBreakdowns,
    /// An account's `media_insights` partition completed since the last checkpoint.
    insights_moved: bool,
    /// The stream riding on the walk, if selected; its tags are its own.
    rider: Option<Box<dyn MediaRider>>,
    /// `media`, `media_insights`, then the rider's stream.
    streams: Vec<&'static str>,
    /// `fields=` of every page of the walk.
    fields: String,
}

/// `fields=` of the media edge: what `media` and `media_insights` need (when `own`), plus
/// `extra` (a rider's fields).
pub fn edge_fields(login: crate::config::Login, own: bool, extra: &[String]) -> String {
    media_riders::merge_fields(if own { crate::graph_fields::media_fields(login) } else { "id,timestamp" }, extra)
}

impl Media {
    pub fn new(
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
        rider: Option<Box<dyn MediaRider>>,
    ) -> Result<Self> {
        let mut media_cursors = AccountCursors::parse(MEDIA.name, "timestamp", state.get(MEDIA.name))?;
        let mut insights_cursors =
            AccountCursors::parse(MEDIA_INSIGHTS.name, "timestamp", state.get(MEDIA_INSIGHTS.name))?;
        if selection.is_selected(MEDIA.name) {
            media_cursors.drop_future(MEDIA.name, now);
        }
        if selection.is_selected(MEDIA_INSIGHTS.name) {
            insights_cursors.drop_future(MEDIA_INSIGHTS.name, now);
        }
        let wants = |s: &str| selection.is_selected(s);
        let rider = rider.filter(|r| wants(r.stream()));
        let progress = accounts
            .iter()
            .enumerate()
            .map(|(n, a)| {
                let m = wants(MEDIA.name)
                    .then(|| super::post_cutoff(selection, config, MEDIA.name, &media_cursors, a))
                    .flatten();
                let i = wants(MEDIA_INSIGHTS.name)
                    .then(|| super::post_cutoff(selection, config, MEDIA_INSIGHTS.name, &insights_cursors, a))
                    .flatten();
                let r = rider.as_ref().map(|r| r.cutoff(n));
                let needs_all = (wants(MEDIA.name) && m.is_none())
                    || (wants(MEDIA_INSIGHTS.name) && i.is_none())
                    || r.is_some_and(|r| r.is_none());
                Progress {
                    media_cutoff: m,
                    insights_cutoff: i,
                    stop_before: if needs_all { None } else { [m, i, r.flatten()].into_iter().flatten().min() },
                    newest: None,
                    open_walks: 0,
                    truncated: false,
                    first_ids: BTreeSet::new(),
                    first_next: None,
                    media_done: !wants(MEDIA.name),
                    insights_done: !wants(MEDIA_INSIGHTS.name),
                    rider_told: false,
                }
            })
            .collect();
        let own = wants(MEDIA.name) || wants(MEDIA_INSIGHTS.name);
        let fields = edge_fields(config.login, own, rider.as_ref().map_or(&[][..], |r| r.fields()));
        let mut streams = vec![MEDIA.name, MEDIA_INSIGHTS.name];
        streams.extend(rider.as_ref().map(|r| r.stream()));
        Ok(Media {
            media_cursors,
            insights_cursors,
            progress,
            walks: BTreeMap::new(),
            next_walk: 0,
            insights: ObjectInsights::new(MEDIA_INSIGHTS.name, false),
            breakdowns: ObjectBreakdowns::new(MEDIA_INSIGHTS.name, false),
            insights_moved: false,
            rider,
            streams,
            fields,
        })
    }

    /// Mark accounts whose partition is complete (every walk, and for `media_insights` every
    /// operation, done).
    fn settle(&mut self) {
        for (a, p) in self.progress.iter_mut().enumerate() {
            if p.open_walks > 0 {
                continue;
            }
            p.media_done = true;
            if !p.insights_done && self.insights.pending(a) == 0 && self.breakdowns.pending(a) == 0 {
                p.insights_done = true;
                self.insights_moved = true;
            }
        }
    }
}

impl Family for Media {
    fn streams(&self) -> &[&'static str] {
        &self.streams
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        self.insights.hold = !cx.table.object_breakdowns.is_empty();
        // A full read of the media edge yields `media_count` posts per account.
        let counts: Option<u64> = cx.accounts.iter().map(|a| a.media_count).sum();
        for stream in [MEDIA.name, MEDIA_INSIGHTS.name] {
            if let (true, Some(n)) =
                (cx.wants(stream) && !cx.selection.is_incremental(stream) && cx.config.start_date.is_none(), counts)
            {
                emit::estimate(stream, n);
            }
        }
        // Every account's walk is open before any page is handled, so no account looks done
        // (and moves its cursors) before its first page.
        let mut prefetched = Vec::new();
        for (a, account) in cx.accounts.iter().enumerate() {
            let url = cx
                .client
                .url(&format!("{}/media", account.ig_id), &[("fields", self.fields.as_str()), ("limit", PAGE_LIMIT)]);
            match account.prefetched.take_media() {
                // The account list brought the first page (`media.limit(…){MEDIA_FIELDS}`).
                Some(page) => {
                    let walk = Walk::new(format!("the media edge of account {}", account.ig_id), &url);
                    self.progress[a].open_walks += 1;
                    prefetched.push((
                        EdgeWalk { account: a, walk, url, slice: None, first: true, fallback: false, bare: false },
                        page,
                    ));
                }
                None => self.open(cx, a, url, None, true, false),
            }
        }
        let any = !prefetched.is_empty();
        for (w, page) in prefetched {
            self.on_page(cx, w, Ok(page))?;
        }
        if any && cx.wants(MEDIA.name) {
            self.checkpoint(cx, MEDIA.name, true);
        }
        self.after_rider(cx);
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        if let Some(rider) = self.rider.as_mut().filter(|r| r.owns(tag)) {
            return rider.on_answer(cx, tag, answer);
        }
        if ObjectBreakdowns::owns(tag) {
            return self.breakdowns.on_answer(cx, tag, answer);
        }
        if ObjectInsights::owns(tag) {
            self.insights.on_answer(cx, tag, answer)?;
            return Ok(());
        }
        let w = self.walks.remove(&tag).expect("a walk per asked page");
        self.on_page(cx, w, answer)?;
        if cx.wants(MEDIA.name) {
            self.checkpoint(cx, MEDIA.name, true);
        }
        Ok(())
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        self.insights.flush_retries(cx);
        for (id, record) in std::mem::take(&mut self.insights.settled) {
            self.breakdowns.main_settled(id, record);
        }
        self.breakdowns.flush(cx);
        self.settle();
        if cx.wants(MEDIA_INSIGHTS.name) && (self.insights_moved || cx.uncheckpointed(MEDIA_INSIGHTS.name) > 0) {
            self.insights_moved = false;
            self.checkpoint(cx, MEDIA_INSIGHTS.name, false);
        }
        self.after_rider(cx);
        Ok(())
    }
}

impl Media {
    /// Tell the rider which accounts' walks are done, and let it settle and checkpoint.
    fn after_rider(&mut self, cx: &mut Cx<'_>) {
        let Some(rider) = self.rider.as_mut() else { return };
        for (a, p) in self.progress.iter_mut().enumerate() {
            if p.open_walks == 0 && !p.rider_told {
                p.rider_told = true;
                rider.edge_done(a, p.truncated);
            }
        }
        rider.after_answers(cx);
    }

    /// Advance the cursors of done accounts (not of truncated ones) and emit the state.
    fn checkpoint(&mut self, cx: &mut Cx<'_>, stream: &'static str, media: bool) {
        self.settle();
        for (a, p) in self.progress.iter().enumerate() {
            let done = if media { p.media_done } else { p.insights_done };
            if let (true, false, Some(t)) = (done, p.truncated, p.newest) {
                let cursors = if media { &mut self.media_cursors } else { &mut self.insights_cursors };
                cursors.advance(&cx.accounts[a].ig_id, t);
            }
        }
        let state = if media { &self.media_cursors } else { &self.insights_cursors }.to_state("timestamp");
        cx.checkpoint(stream, state);
    }
}
