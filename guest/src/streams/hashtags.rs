//! `hashtag_media`: the top and recent public posts of each hashtag in the config's `hashtags`.
//!
//! Owns the declaration and the hooks: a hashtag's id comes from the state (see
//! `hashtag_budget`) or one `ig_hashtag_search?user_id=…&q=…` through the first account; then
//! `{hashtag-id}/top_media` and `{hashtag-id}/recent_media` (with `user_id`; Meta lists only
//! the last 24 h there) are walked page by page. A hashtag Meta does not find (or refuses to
//! search) is skipped with a warning; Meta's budget error is a `config_error` naming it. The
//! state (the ids) is checkpointed after every search. Full refresh. It must not read the
//! account's own media.

use super::StreamDef;
use crate::accounts::Account;
use crate::config::Config;
use crate::emit;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, bad_data};
use crate::error::{ConnectorError, Result};
use crate::graph::{self, ApiError};
use crate::parts::hashtag_budget::HashtagIds;
use crate::transform;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const HASHTAG_MEDIA: StreamDef = StreamDef {
    name: "hashtag_media",
    primary_key: &["hashtag_id", "edge", "id"],
    cursor_field: None,
    schema: include_str!("../../../schemas/hashtag_media.json"),
    parent: None,
    fields: Some(HASHTAG_MEDIA_FIELDS),
};

/// The fields Meta lists as returnable on hashtag media (no owner: Meta strips it; no
/// `media_product_type`: asking it is refused, and a refused field costs a call every sync).
pub const HASHTAG_MEDIA_FIELDS: &str = "id,caption,comments_count,like_count,media_type,media_url,permalink,timestamp";
/// The two edges of a hashtag.
pub const EDGES: [&str; 2] = ["top_media", "recent_media"];
/// Largest page of the hashtag edges.
const HASHTAG_PAGE_LIMIT: &str = "50";

enum Job {
    Search { name: String },
    Edge { name: String, hashtag_id: String, edge: &'static str, walk: Walk, url: String },
    Done,
}

/// The family; tags index `jobs`.
pub struct Hashtags {
    /// The account whose budget searches use and whose id goes in `user_id`.
    account: usize,
    wanted: Vec<String>,
    ids: HashtagIds,
    to_search: Vec<String>,
    jobs: Vec<Job>,
    changed: bool,
}

impl Hashtags {
    /// Plans the read (searches go through the first account); a config past Meta's budget
    /// fails here, before any request.
    pub fn new(
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Hashtags> {
        let ids = HashtagIds::parse(HASHTAG_MEDIA.name, state.get(HASHTAG_MEDIA.name))?;
        let wanted = config.watch.hashtags.clone();
        let to_search = match accounts.first() {
            Some(a) => ids.plan(&wanted, &a.ig_id, now).map_err(|e| e.in_stream(HASHTAG_MEDIA.name))?,
            None => Vec::new(),
        };
        Ok(Hashtags { account: 0, wanted, ids, to_search, jobs: Vec::new(), changed: false })
    }

    fn ask_edges(&mut self, cx: &mut Cx<'_>, name: &str, hashtag_id: &str) {
        let user = cx.accounts[self.account].ig_id.clone();
        for edge in EDGES {
            let url = cx.client.url(
                &format!("{hashtag_id}/{edge}"),
                &[("user_id", user.as_str()), ("fields", HASHTAG_MEDIA_FIELDS), ("limit", HASHTAG_PAGE_LIMIT)],
            );
            let walk = Walk::new(format!("the {edge} of hashtag #{name}"), &url);
            let tag = self.jobs.len() as u64;
            self.jobs.push(Job::Edge {
                name: name.to_string(),
                hashtag_id: hashtag_id.to_string(),
                edge,
                walk,
                url: url.clone(),
            });
            cx.side(tag, url);
        }
    }

    fn on_search(&mut self, cx: &mut Cx<'_>, name: String, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let account = cx.accounts[self.account].ig_id.clone();
        match answer {
            Ok(v) => {
                let id = v.pointer("/data/0/id").and_then(Value::as_str).map(str::to_string);
                match id {
                    Some(id) => {
                        self.ids.found(&name, id.clone(), &account, cx.now);
                        self.changed = true;
                        self.ask_edges(cx, &name, &id);
                    }
                    None => emit::warn(&format!(
                        "Hashtag #{name} (from `hashtags`) was not found on Instagram; skipping it in `hashtag_media`"
                    )),
                }
                Ok(())
            }
            Err(e) => {
                let Some(g) = e.graph() else {
                    return Err(e.into_connector(&format!("searching hashtag #{name}")).in_stream(HASHTAG_MEDIA.name));
                };
                if g.error_subcode == Some(2207034) || g.code == 24 {
                    return Err(ConnectorError::config(format!(
                        "Invalid configuration: `hashtags`: Meta refused to search #{name} because account {account} reached its limit of 30 unique hashtags in 7 days (searches by other apps or tools count too): {}. Remove #{name} from `hashtags` or add it later.",
                        g.message
                    ))
                    .in_stream(HASHTAG_MEDIA.name));
                }
                if g.code == 100 && !g.is_token() {
                    emit::warn(&format!(
                        "Meta would not search hashtag #{name} (from `hashtags`): {}; skipping it in `hashtag_media`",
                        g.message
                    ));
                    return Ok(());
                }
                Err(e.into_connector(&format!("searching hashtag #{name}")).in_stream(HASHTAG_MEDIA.name))
            }
        }
    }
}

impl Family for Hashtags {
    fn streams(&self) -> &'static [&'static str] {
        &[HASHTAG_MEDIA.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        if cx.accounts.is_empty() {
            return Ok(());
        }
        let account = cx.accounts[self.account].ig_id.clone();
        for name in self.wanted.clone() {
            if let Some(id) = self.ids.id_of(&name).map(str::to_string) {
                self.ask_edges(cx, &name, &id);
            } else if self.to_search.contains(&name) {
                let url = cx.client.url("ig_hashtag_search", &[("user_id", account.as_str()), ("q", name.as_str())]);
                let tag = self.jobs.len() as u64;
                self.jobs.push(Job::Search { name });
                cx.side(tag, url);
            }
        }
        // The ids known so far, also when nothing is searched (a first checkpoint).
        self.changed = true;
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let job = std::mem::replace(&mut self.jobs[tag as usize], Job::Done);
        match job {
            Job::Search { name } => self.on_search(cx, name, answer),
            Job::Edge { name, hashtag_id, edge, mut walk, url } => {
                let doing = format!("reading the {edge} of hashtag #{name}");
                let page = match answer.and_then(|v| graph::parse_page(v, &url)) {
                    Ok(page) => page,
                    Err(e) if e.graph().is_some_and(|g| g.code == 100 && g.error_subcode == Some(33)) => {
                        emit::warn(&format!("Hashtag #{name} is no longer served by Meta ({edge}); skipping it"));
                        return Ok(());
                    }
                    Err(e) => return Err(e.into_connector(&doing).in_stream(HASHTAG_MEDIA.name)),
                };
                if !walk.accept(&page) {
                    return Ok(());
                }
                for item in page.data {
                    let Value::Object(mut media) = item else {
                        return Err(bad_data(HASHTAG_MEDIA.name, "a hashtag media that is not an object", &item));
                    };
                    if !media.get("id").is_some_and(Value::is_string) {
                        return Err(bad_data(
                            HASHTAG_MEDIA.name,
                            "a hashtag media without `id`",
                            &Value::Object(media),
                        ));
                    }
                    transform::clean_object(&mut media);
                    let mut record = Map::new();
                    record.insert("hashtag_id".into(), Value::String(hashtag_id.clone()));
                    record.insert("hashtag_name".into(), Value::String(name.clone()));
                    record.insert("edge".into(), Value::String(edge.to_string()));
                    record.extend(media);
                    cx.enrich(&mut record, self.account);
                    cx.record(HASHTAG_MEDIA.name, record);
                }
                if let Some(next) = walk.follow(page.next) {
                    let tag = self.jobs.len() as u64;
                    self.jobs.push(Job::Edge { name, hashtag_id, edge, walk, url: next.clone() });
                    cx.side(tag, next);
                }
                Ok(())
            }
            Job::Done => Ok(()),
        }
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        if self.changed || cx.uncheckpointed(HASHTAG_MEDIA.name) > 0 {
            self.changed = false;
            cx.checkpoint(HASHTAG_MEDIA.name, self.ids.to_state(&self.wanted, cx.now));
        }
        Ok(())
    }
}
