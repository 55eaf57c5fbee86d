//! `stories` and `story_insights`: the live stories of every account and their metrics.
//!
//! Owns both declarations and the stories-edge hooks: one walk per account (cycle-safe, see
//! `engine::walk`), a record per story, and the page's stories handed to `story_insights` as
//! one group of operations, plus the breakdown operations of `object_breakdowns` (merged into
//! the same record) where the metric table has any. Both streams are full refresh (Meta lists a
//! story for 24 h). It must not ask media or account insights.

use super::StreamDef;
use crate::accounts::Account;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, PRIORITY_EDGE, bad_data};
use crate::error::Result;
use crate::graph::{self, ApiError, PAGE_LIMIT};
use crate::metrics::MediaKind;
use crate::parts::object_breakdowns::ObjectBreakdowns;
use crate::parts::object_insights::{ObjectInsights, Target};
use crate::state;
use crate::transform;
use serde_json::{Map, Value};

pub const STORIES: StreamDef = StreamDef {
    name: "stories",
    primary_key: &["id"],
    cursor_field: None,
    schema: include_str!("../../../schemas/stories.json"),
    parent: None,
    fields: Some(STORY_FIELDS),
};

pub const STORY_INSIGHTS: StreamDef = StreamDef {
    name: "story_insights",
    primary_key: &["id"],
    cursor_field: None,
    schema: include_str!("../../../schemas/story_insights.json"),
    parent: Some("stories"),
    fields: None,
};

pub use crate::graph_fields::STORY_FIELDS;

/// The family; walk tags are account indexes.
pub struct Stories {
    walks: Vec<Option<(Walk, String)>>,
    insights: ObjectInsights,
    breakdowns: ObjectBreakdowns,
}

impl Stories {
    pub fn new(accounts: &[Account]) -> Self {
        Stories {
            walks: accounts.iter().map(|_| None).collect(),
            insights: ObjectInsights::new(STORY_INSIGHTS.name, true),
            breakdowns: ObjectBreakdowns::new(STORY_INSIGHTS.name, true),
        }
    }
}

impl Family for Stories {
    fn streams(&self) -> &'static [&'static str] {
        &[STORIES.name, STORY_INSIGHTS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        self.insights.hold = !cx.table.object_breakdowns.is_empty();
        // The first pages are batch operations (asked together with the start's other
        // operations); later pages are GETs of Meta's `next` links.
        let mut ops = Vec::new();
        for (a, account) in cx.accounts.iter().enumerate() {
            let relative = cx.client.relative_url(
                &format!("{}/stories", account.ig_id),
                &[("fields", STORY_FIELDS), ("limit", PAGE_LIMIT)],
            );
            let url = cx.client.absolute(&relative);
            let walk = Walk::new(format!("the stories edge of account {}", account.ig_id), &url);
            self.walks[a] = Some((walk, url));
            ops.push((a as u64, relative));
        }
        cx.edge_ops(ops);
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        if ObjectBreakdowns::owns(tag) {
            return self.breakdowns.on_answer(cx, tag, answer);
        }
        if ObjectInsights::owns(tag) {
            self.insights.on_answer(cx, tag, answer)?;
            return Ok(());
        }
        let a = tag as usize;
        let (mut walk, url) = self.walks[a].take().expect("a walk per asked page");
        let doing = "reading the stories of the Instagram accounts";
        let page = answer
            .and_then(|v| graph::parse_page(v, &url))
            .map_err(|e| e.into_connector(doing).in_stream(STORIES.name))?;
        if !walk.accept(&page) {
            return Ok(());
        }
        let mut targets = Vec::new();
        for item in page.data {
            let Value::Object(mut story) = item else {
                return Err(bad_data(STORIES.name, "a story that is not an object", &item));
            };
            let Some(id) = story.get("id").and_then(Value::as_str).map(str::to_string) else {
                return Err(bad_data(STORIES.name, "a story without `id`", &Value::Object(story)));
            };
            transform::clean_object(&mut story);
            cx.enrich(&mut story, a);
            targets.push(Target { id, kind: MediaKind::Story, account: a, extra: Map::new() });
            if cx.wants(STORIES.name) {
                cx.record(STORIES.name, story);
            }
        }
        if let Some(next) = walk.follow(page.next) {
            cx.get(a as u64, next.clone(), PRIORITY_EDGE);
            self.walks[a] = Some((walk, next));
        }
        if cx.wants(STORIES.name) {
            cx.checkpoint(STORIES.name, state::no_cursor_state());
        }
        if cx.wants(STORY_INSIGHTS.name) {
            if self.insights.hold {
                self.breakdowns.ask(cx, targets.iter().map(|t| (t.id.clone(), t.account, t.kind)).collect());
            }
            self.insights.ask(cx, targets);
        }
        Ok(())
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        self.insights.flush_retries(cx);
        for (id, record) in std::mem::take(&mut self.insights.settled) {
            self.breakdowns.main_settled(id, record);
        }
        self.breakdowns.flush(cx);
        if cx.uncheckpointed(STORY_INSIGHTS.name) > 0 {
            cx.checkpoint(STORY_INSIGHTS.name, state::no_cursor_state());
        }
        Ok(())
    }
}
