//! `tagged_media`: the posts of other accounts that tag each account (`{ig-user-id}/tags`).
//!
//! Owns the declaration and its hooks: one cycle-safe walk per account down the tags edge
//! (newest first, as Meta lists media), one record per post with the tagged account's
//! `business_account_id` and `page_id`. Incremental reads re-read only the window: posts from
//! the account's cursor minus `media_lookback_days` (at least `start_date`); the walk stops at
//! the first page reaching past it, and the cursor (the newest post's `timestamp`) moves once
//! the account's walk is done and was not cut short. It must not read the account's own media.

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, PRIORITY_EDGE, bad_data};
use crate::error::Result;
use crate::graph::{self, ApiError, PAGE_LIMIT};
use crate::state::AccountCursors;
use crate::transform::{self, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

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

/// One account's walk and window.
struct Progress {
    walk: Option<(Walk, String)>,
    cutoff: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
}

/// The family; tags are account indexes.
pub struct Tagged {
    cursors: AccountCursors,
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
        let progress = accounts
            .iter()
            .map(|a| {
                let cutoff = super::post_cutoff(selection, config, name, &cursors, a);
                Progress { walk: None, cutoff, newest: None }
            })
            .collect();
        Ok(Tagged { cursors, progress })
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
            cx.get(a as u64, url, PRIORITY_EDGE);
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
            let cutoff = self.progress[a].cutoff;
            let mut past = false;
            for item in page.data {
                let Value::Object(mut post) = item else {
                    return Err(bad_data(TAGGED_MEDIA.name, "a tagged post that is not an object", &item));
                };
                if !post.contains_key("id") {
                    return Err(bad_data(TAGGED_MEDIA.name, "a tagged post without `id`", &Value::Object(post)));
                }
                let ts = post.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
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
                transform::clean_object(&mut post);
                cx.enrich(&mut post, a);
                cx.record(TAGGED_MEDIA.name, post);
            }
            next = walk.follow(page.next.filter(|_| !past));
        }
        match next {
            Some(url) => {
                cx.get(a as u64, url.clone(), PRIORITY_EDGE);
                self.progress[a].walk = Some((walk, url));
            }
            None => {
                if let (false, Some(t)) = (walk.truncated, self.progress[a].newest) {
                    self.cursors.advance(&cx.accounts[a].ig_id, t);
                }
            }
        }
        cx.checkpoint(TAGGED_MEDIA.name, self.cursors.to_state("timestamp"));
        Ok(())
    }
}
