//! Retired fields: when Meta answers a GET with "Tried accessing nonexisting field (x) on node
//! type (T)" (code 100), the field is dropped for that kind of request and the request asked
//! again, so a retired field never fails a stream.
//!
//! Owns the run-time list of dropped fields, keyed by the request's *shape* (its path with ids
//! and the version left out, e.g. `/{id}/media`, so every request of the same edge or node loses
//! the field), the one warning per (node type, field), and rewriting a URL's `fields=` parameter
//! (at any depth of field expansion, `children{…}`, `comments{…}`). It must not send requests
//! (the engine re-asks) nor know what any field means.

use crate::emit;
use crate::graph::{ApiError, GraphError};
use std::collections::BTreeSet;

/// Fields Meta rejected during this read.
#[derive(Debug, Default)]
pub struct FieldPolicy {
    /// (request shape, field).
    dropped: BTreeSet<(String, String)>,
    warned: BTreeSet<(String, String)>,
}

/// The field and node type of a "nonexisting field" error.
pub fn rejected_field(error: &GraphError) -> Option<(String, String)> {
    if error.code != 100 {
        return None;
    }
    let msg = error.message.as_str();
    let rest = &msg[msg.find("nonexisting field (")? + "nonexisting field (".len()..];
    let field = rest.split(')').next()?.trim().to_string();
    let node = rest.find("node type (").map(|p| rest[p + 11..].split(')').next().unwrap_or("").to_string());
    Some((field, node.unwrap_or_default()))
}

/// `/v27.0/1784…/media` → `/{id}/media` (numeric segments are ids; the version goes).
fn shape(url: &str) -> String {
    let path = url::Url::parse(url).map(|u| u.path().to_string()).unwrap_or_default();
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg.starts_with('v') && seg[1..].split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        out.push('/');
        out.push_str(if seg.bytes().all(|b| b.is_ascii_digit()) || seg == "me" { "{id}" } else { seg });
    }
    out
}

/// One entry of a `fields=` value: its text before any `{` (name and modifiers) and its
/// expansion.
struct Entry {
    head: String,
    sub: Option<Vec<Entry>>,
}

fn parse(chars: &[char], pos: &mut usize) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut head = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        *pos += 1;
        match c {
            '{' => {
                let sub = parse(chars, pos);
                out.push(Entry { head: std::mem::take(&mut head), sub: Some(sub) });
            }
            '}' => break,
            ',' => {
                if !head.trim().is_empty() {
                    out.push(Entry { head: std::mem::take(&mut head), sub: None });
                }
                head.clear();
            }
            _ => head.push(c),
        }
    }
    if !head.trim().is_empty() {
        out.push(Entry { head, sub: None });
    }
    out
}

fn write(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| match &e.sub {
            Some(sub) => format!("{}{{{}}}", e.head, write(sub)),
            None => e.head.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn remove(entries: Vec<Entry>, field: &str, found: &mut bool) -> Vec<Entry> {
    let mut kept = Vec::new();
    for e in entries {
        if e.head.split('.').next().unwrap_or("").trim() == field {
            *found = true;
            continue;
        }
        let sub = e.sub.map(|s| remove(s, field, found));
        kept.push(Entry { head: e.head, sub });
    }
    kept
}

/// `fields` without `field` at any depth (`a,b{c,x},x` minus `x` → `a,b{c}`); `None` if it
/// was not there.
fn strip_field(fields: &str, field: &str) -> Option<String> {
    let chars: Vec<char> = fields.chars().collect();
    let mut found = false;
    let kept = remove(parse(&chars, &mut 0), field, &mut found);
    found.then(|| write(&kept))
}

/// `url` with `field` removed from its `fields` parameter, or `None` if it does not ask it.
fn without_field(url: &str, field: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let mut changed = false;
    let new: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| {
            if k == "fields"
                && let Some(stripped) = strip_field(&v, field)
            {
                changed = true;
                return (k, stripped);
            }
            (k, v)
        })
        .collect();
    if !changed {
        return None;
    }
    parsed.query_pairs_mut().clear().extend_pairs(new);
    Some(parsed.to_string())
}

impl FieldPolicy {
    /// If `answer` rejects a field that `url` asks for: drop it for this request shape (one
    /// warning per node type and field) and return the URL to ask again.
    pub fn retry_url(&mut self, url: &str, answer: &Result<serde_json::Value, ApiError>) -> Option<String> {
        let (field, node) = answer.as_ref().err()?.graph().and_then(rejected_field)?;
        let again = without_field(url, &field)?;
        self.dropped.insert((shape(url), field.clone()));
        if self.warned.insert((node.clone(), field.clone())) {
            emit::warn(&format!(
                "Meta no longer serves the field `{field}` on {} ({}); reading on without it",
                if node.is_empty() { "this object kind".to_string() } else { node },
                redact(answer)
            ));
        }
        Some(again)
    }

    /// `url` without the fields already dropped for its shape.
    pub fn apply(&self, url: String) -> String {
        if self.dropped.is_empty() {
            return url;
        }
        let s = shape(&url);
        self.dropped
            .iter()
            .filter(|(shape, _)| *shape == s)
            .fold(url, |u, (_, field)| without_field(&u, field).unwrap_or(u))
    }
}

fn redact(answer: &Result<serde_json::Value, ApiError>) -> String {
    answer.as_ref().err().and_then(|e| e.graph()).map(|g| g.message.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(msg: &str) -> GraphError {
        GraphError {
            message: msg.into(),
            kind: None,
            code: 100,
            error_subcode: None,
            is_transient: None,
            fbtrace_id: None,
        }
    }

    /// Meta's wording yields the field and the node type; other errors yield nothing.
    #[test]
    fn rejected_field_wording() {
        let e = err("(#100) Tried accessing nonexisting field (thumbnail_url) on node type (IGMedia)");
        assert_eq!(rejected_field(&e), Some(("thumbnail_url".into(), "IGMedia".into())));
        assert_eq!(rejected_field(&err("(#100) metric[0] must be one of")), None);
    }

    /// A field goes at every depth, its own expansion with it; other fields stay.
    #[test]
    fn fields_are_stripped_at_any_depth() {
        assert_eq!(strip_field("a,x,b", "x").as_deref(), Some("a,b"));
        assert_eq!(strip_field("x,a", "x").as_deref(), Some("a"));
        assert_eq!(strip_field("a,children{id,x},x", "x").as_deref(), Some("a,children{id}"));
        assert_eq!(strip_field("a,x{id,y{z}},b", "x").as_deref(), Some("a,b"));
        assert_eq!(strip_field("a,comments.limit(5){id,x}", "x").as_deref(), Some("a,comments.limit(5){id}"));
        assert_eq!(strip_field("a,b", "x"), None);
        assert_eq!(shape("http://h:1/v27.0/178414/media?fields=a"), "/{id}/media");
        assert_eq!(shape("http://h:1/v27.0/me/accounts"), "/{id}/accounts");
        let u = without_field("http://h:1/v27.0/1/media?fields=a%2Cx&limit=5", "x").unwrap();
        assert_eq!(u, "http://h:1/v27.0/1/media?fields=a%2Cx&limit=5".replace("a%2Cx", "a"));
    }
}
