//! Streams that ride on the media walk: they read what each post of the media edge carries
//! (through field expansion, e.g. its first comments), so they cost no walk of their own. The
//! media family asks their fields on every page of its walk (the first page that comes with
//! the account list, cursor pages and parallel time slices alike), hands them each post once,
//! and tells them when an account's walk is done. Where Meta refuses a page as too much data
//! even at its smallest (one post), that walk goes on without the riders' expansions
//! ([`without_expansions`]) and the rider reads those posts' edges itself.
//!
//! Owns the contract between the two ([`MediaRider`]) and how the fields of both make one
//! `fields=` ([`merge_fields`]). It must not know what a rider reads (the stream modules do),
//! nor walk the media edge (the media family does).

use crate::engine::Cx;
use crate::error::Result;
use crate::graph::ApiError;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Tags of a rider's own requests start here (the media family's walks are below
/// `object_insights::TAG_BASE`, its insights operations between that and this).
pub const TAG_BASE: u64 = 1 << 48;

/// A stream read from the posts of the media walk.
pub trait MediaRider {
    /// The stream it serves (a child of the media edge).
    fn stream(&self) -> &'static str;
    /// Top-level fields it needs on each post of the media edge; those with a nested
    /// selection (`comments.limit(50){…}`) are expansions a walk may leave out.
    fn fields(&self) -> &[String];
    /// The oldest post it wants of account `a` (`None`: every post): the walk stops below
    /// the oldest any of its streams wants.
    fn cutoff(&self, a: usize) -> Option<DateTime<Utc>>;
    /// One post of account `a` as the media edge served it, handed over once per read (every
    /// post the walk reads, whatever the rider's cutoff); the rider takes its fields out.
    /// `expanded`: the page asked the rider's expansions (else it must read them itself).
    fn on_post(&mut self, cx: &mut Cx<'_>, a: usize, post: &mut Map<String, Value>, expanded: bool) -> Result<()>;
    /// Whether `tag` is one of its own requests (at or above [`TAG_BASE`]).
    fn owns(&self, tag: u64) -> bool {
        tag >= TAG_BASE
    }
    /// The answer to one of its own requests.
    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()>;
    /// Every media walk of account `a` is done (`truncated`: one stopped early on a paging
    /// cycle, so the rider must not move that account's cursor). Told once per account.
    fn edge_done(&mut self, a: usize, truncated: bool);
    /// After each answer (and the start): the point to settle accounts and checkpoint.
    fn after_answers(&mut self, cx: &mut Cx<'_>);
}

/// `base` (a `fields=` value) with each field of `extra` appended unless `base` already names
/// it at the top level (so `comments_count` is asked once when both want it).
pub fn merge_fields(base: &str, extra: &[String]) -> String {
    let names: Vec<&str> = top_level(base).into_iter().map(field_name).collect();
    let mut out = base.to_string();
    for field in extra {
        if !names.contains(&field_name(field)) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(field);
        }
    }
    out
}

/// `url` with the expansions among `rider` (fields with a nested selection) taken out of its
/// `fields=`; `None` when it asks none of them.
pub fn without_expansions(url: &str, rider: &[String]) -> Option<String> {
    let drop: Vec<&str> = rider.iter().filter(|f| f.contains('{')).map(|f| field_name(f)).collect();
    let (base, query) = url.split_once('?')?;
    let mut changed = false;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            if k != "fields" {
                return (k.into_owned(), v.into_owned());
            }
            let kept: Vec<&str> = top_level(&v).into_iter().filter(|e| !drop.contains(&field_name(e))).collect();
            changed |= kept.len() != top_level(&v).len();
            (k.into_owned(), kept.join(","))
        })
        .collect();
    if !changed {
        return None;
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    Some(format!("{base}?{query}"))
}

/// The top-level entries of a `fields=` value (commas inside `{…}` and `(…)` belong to an
/// entry).
fn top_level(fields: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in fields.char_indices() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&fields[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < fields.len() {
        out.push(&fields[start..]);
    }
    out
}

/// `comments` of `comments.limit(50){id}`.
fn field_name(entry: &str) -> &str {
    entry.split(['.', '{', '(']).next().unwrap_or(entry).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rider's fields join the edge's once: those already asked are not asked twice, and
    /// commas inside expansions do not split them.
    #[test]
    fn fields_merge_once() {
        let extra: Vec<String> =
            ["comments_count", "comments.limit(50){id,replies.limit(50){id}}"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            merge_fields("id,comments_count,children{id,media_url}", &extra),
            "id,comments_count,children{id,media_url},comments.limit(50){id,replies.limit(50){id}}"
        );
        assert_eq!(merge_fields("", &extra), "comments_count,comments.limit(50){id,replies.limit(50){id}}");
        assert_eq!(top_level("a,b{c,d(e,f)},g"), vec!["a", "b{c,d(e,f)}", "g"]);
    }

    /// A walk without the expansions keeps every other field and parameter.
    #[test]
    fn expansions_come_out() {
        let rider: Vec<String> =
            ["comments_count", "comments.limit(50){id,replies.limit(50){id}}"].iter().map(|s| s.to_string()).collect();
        let fields = merge_fields("id,timestamp,children{id}", &rider);
        let url =
            url::Url::parse_with_params("http://x/v27.0/1/media", &[("fields", fields.as_str()), ("limit", "100")])
                .unwrap()
                .to_string();
        let bare = without_expansions(&url, &rider).unwrap();
        let q: Vec<(String, String)> = url::Url::parse(&bare).unwrap().query_pairs().into_owned().collect();
        assert_eq!(
            q,
            vec![("fields".into(), "id,timestamp,children{id},comments_count".into()), ("limit".into(), "100".into())]
        );
        assert_eq!(without_expansions(&bare, &rider), None);
    }
}
