//! `competitor_profiles` and `competitor_media`: other professional accounts, named in the
//! config's `competitor_usernames`, seen through `business_discovery.username(…){…}` on the
//! first account's IG user node.
//!
//! Owns both declarations and the hooks: one discovery request per competitor gives the
//! profile (one snapshot per day: key `business_account_id`, `username`, `date`) and the first
//! page of posts; further pages are asked inside the field with `media.after(cursor)` as Meta
//! documents, until `competitor_media_limit` posts or the end. A username Meta does not know as
//! a business or creator account (110/2207013) is skipped with a warning. Both streams are full
//! refresh. It must not read the account's own media.

use super::StreamDef;
use crate::emit;
use crate::engine::walk::Walk;
use crate::engine::{Cx, Family, bad_data, shape};
use crate::error::Result;
use crate::graph::{ApiError, Page};
use crate::state;
use crate::transform;
use serde_json::{Map, Value};

pub const COMPETITOR_PROFILES: StreamDef = StreamDef {
    name: "competitor_profiles",
    primary_key: &["business_account_id", "username", "date"],
    cursor_field: None,
    schema: include_str!("../../../schemas/competitor_profiles.json"),
    parent: None,
    fields: Some(PROFILE_FIELDS),
};

pub const COMPETITOR_MEDIA: StreamDef = StreamDef {
    name: "competitor_media",
    primary_key: &["id"],
    cursor_field: None,
    schema: include_str!("../../../schemas/competitor_media.json"),
    parent: Some("competitor_profiles"),
    fields: Some(MEDIA_FIELDS),
};

pub use crate::graph_fields::{COMPETITOR_MEDIA_FIELDS as MEDIA_FIELDS, COMPETITOR_PROFILE_FIELDS as PROFILE_FIELDS};
/// Posts asked per discovery page.
const MEDIA_PAGE: u32 = 50;

/// One competitor's progress.
struct Job {
    username: String,
    walk: Walk,
    /// Posts read so far.
    read: u32,
    /// The first answer (with the profile) came.
    profiled: bool,
    /// The competitor's `media_count`, from the first answer: how many posts there are to
    /// read (pages may come smaller than asked when Meta asks for less data at once).
    total: Option<u64>,
}

/// The family; tags index `jobs`.
pub struct Competitors {
    jobs: Vec<Job>,
}

impl Competitors {
    pub fn new() -> Self {
        Competitors { jobs: Vec::new() }
    }
}

impl Default for Competitors {
    fn default() -> Self {
        Self::new()
    }
}

/// The `fields` of a discovery request: the profile (first page only) and a page of posts.
fn discovery_fields(username: &str, profile: bool, media: Option<(u32, Option<&str>)>) -> String {
    let mut inner = if profile { PROFILE_FIELDS.to_string() } else { "id,username,media_count".to_string() };
    if let Some((limit, after)) = media {
        let after = after.map(|a| format!(".after({a})")).unwrap_or_default();
        inner.push_str(&format!(",media{after}.limit({limit}){{{MEDIA_FIELDS}}}"));
    }
    format!("business_discovery.username({username}){{{inner}}}")
}

impl Competitors {
    fn page_size(&self, cx: &Cx<'_>, read: u32) -> Option<u32> {
        let left = cx.config.watch.competitor_media_limit.saturating_sub(read);
        (cx.wants(COMPETITOR_MEDIA.name) && left > 0).then(|| left.min(MEDIA_PAGE))
    }

    fn ask(&mut self, cx: &mut Cx<'_>, tag: usize, first: bool, after: Option<&str>) -> Option<String> {
        let job = &self.jobs[tag];
        let media = self.page_size(cx, job.read).map(|n| (n, after));
        if !first && media.is_none() {
            return None;
        }
        let fields = discovery_fields(&job.username, first && cx.wants(COMPETITOR_PROFILES.name), media);
        let url = cx.client.url(&cx.accounts[0].ig_id, &[("fields", fields.as_str())]);
        cx.side(tag as u64, url.clone());
        Some(url)
    }
}

impl Family for Competitors {
    fn streams(&self) -> &'static [&'static str] {
        &[COMPETITOR_PROFILES.name, COMPETITOR_MEDIA.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        if cx.accounts.is_empty() {
            return Ok(());
        }
        for username in cx.config.watch.competitor_usernames.clone() {
            let tag = self.jobs.len();
            let first = discovery_fields(&username, true, None);
            let walk = Walk::new(format!("the posts of competitor @{username}"), &first);
            self.jobs.push(Job { walk, username, read: 0, profiled: false, total: None });
            self.ask(cx, tag, true, None);
        }
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let t = tag as usize;
        let username = self.jobs[t].username.clone();
        let first = !std::mem::replace(&mut self.jobs[t].profiled, true);
        let v = match answer {
            Ok(v) => v,
            Err(e) if e.graph().is_some_and(|g| g.error_subcode == Some(2207013) || g.code == 110) => {
                emit::warn(&format!(
                    "Competitor @{username} (from `competitor_usernames`) is not an Instagram business or creator account Meta can show ({}); skipping it",
                    e.graph().map(|g| g.message.as_str()).unwrap_or("")
                ));
                return Ok(());
            }
            Err(e) => {
                let stream =
                    if cx.wants(COMPETITOR_PROFILES.name) { COMPETITOR_PROFILES.name } else { COMPETITOR_MEDIA.name };
                return Err(e.into_connector(&format!("reading competitor @{username}")).in_stream(stream));
            }
        };
        let Some(Value::Object(mut bd)) = v.get("business_discovery").cloned() else {
            return Err(bad_data(
                COMPETITOR_PROFILES.name,
                "a business discovery answer without `business_discovery`",
                &v,
            ));
        };
        let media = bd.remove("media");
        if first {
            self.jobs[t].total = bd.get("media_count").and_then(Value::as_u64);
        }
        let competitor_id = bd.get("id").cloned().unwrap_or(Value::Null);
        let competitor_username = bd.get("username").cloned().unwrap_or_else(|| Value::String(username.clone()));
        if first && cx.wants(COMPETITOR_PROFILES.name) && bd.contains_key("followers_count") {
            transform::clean_object(&mut bd);
            bd.insert("username".into(), competitor_username.clone());
            bd.insert("date".into(), Value::String(cx.now.format("%Y-%m-%d").to_string()));
            cx.enrich(&mut bd, 0);
            cx.record(COMPETITOR_PROFILES.name, bd);
            cx.checkpoint(COMPETITOR_PROFILES.name, state::no_cursor_state());
        }
        let Some(media) = media.filter(|_| cx.wants(COMPETITOR_MEDIA.name)) else {
            if cx.wants(COMPETITOR_MEDIA.name) && self.page_size(cx, self.jobs[t].read).is_some() {
                emit::warn(&format!(
                    "Competitor @{username}: Meta's business discovery answer has no `media` (the account may have no posts Meta shows); competitor_media has none of it"
                ));
            }
            return Ok(());
        };
        let data =
            shape::data_array(&media, COMPETITOR_MEDIA.name, &format!("a business discovery `media` of @{username}"))?
                .to_vec();
        let after = media.pointer("/paging/cursors/after").and_then(Value::as_str).map(str::to_string);
        let left = cx.config.watch.competitor_media_limit.saturating_sub(self.jobs[t].read) as usize;
        let page = Page { data, next: None, after: after.clone() };
        if !self.jobs[t].walk.accept(&page) {
            return Ok(());
        }
        let n = page.data.len();
        for item in page.data.into_iter().take(left) {
            let Value::Object(mut post) = item else {
                return Err(bad_data(COMPETITOR_MEDIA.name, "a competitor post that is not an object", &item));
            };
            if !post.get("id").is_some_and(Value::is_string) {
                return Err(bad_data(COMPETITOR_MEDIA.name, "a competitor post without `id`", &Value::Object(post)));
            }
            transform::clean_object(&mut post);
            let mut record = Map::new();
            record.insert("competitor_id".into(), competitor_id.clone());
            record.insert("competitor_username".into(), competitor_username.clone());
            record.extend(post);
            cx.enrich(&mut record, 0);
            cx.record(COMPETITOR_MEDIA.name, record);
        }
        self.jobs[t].read += n.min(left) as u32;
        cx.checkpoint(COMPETITOR_MEDIA.name, state::no_cursor_state());
        // Meta pages discovery media by cursor only (`paging.cursors.after`, no `next`), and a
        // page may hold fewer posts than asked with more behind it (Meta may also ask for less
        // data at once): a page with posts and a cursor is followed while the competitor's
        // `media_count` says posts are left, or, without it, until one comes back empty (or
        // the limit is read).
        let more = self.jobs[t].total.is_none_or(|total| u64::from(self.jobs[t].read) < total);
        if let Some(after) = after.filter(|_| n > 0 && more) {
            let next = discovery_fields(&username, false, Some((MEDIA_PAGE, Some(after.as_str()))));
            if self.jobs[t].walk.follow(Some(next)).is_some() {
                self.ask(cx, t, false, Some(after.as_str()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field expansion Meta documents for business discovery and its paging.
    #[test]
    fn fields() {
        assert_eq!(
            discovery_fields("rival", false, Some((50, Some("QVFI")))),
            format!(
                "business_discovery.username(rival){{id,username,media_count,media.after(QVFI).limit(50){{{MEDIA_FIELDS}}}}}"
            )
        );
        assert!(discovery_fields("rival", true, None).starts_with("business_discovery.username(rival){id,ig_id,"));
    }
}
