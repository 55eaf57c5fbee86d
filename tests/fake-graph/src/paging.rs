//! Cursor paging of edges (`me/accounts`, `{ig}/media`, `{ig}/stories`,
//! `{media}/children`) and the absolute links (`paging.next` / `previous`)
//! that echo the caller's request.
//!
//! Shape, as Meta sends it:
//! `{"data":[...],"paging":{"cursors":{"before":"..","after":".."},"previous"?:"..","next"?:".."}}`.
//! `next` is absent on the last page while `cursors` stay; a request past the
//! end answers `{"data":[]}` with no `paging`.

use serde_json::{Map, Value, json};

use crate::graph_error::GraphError;
use crate::request::{GraphCall, Params};

/// Default `limit` of an edge.
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// Builds absolute links to the same path with some parameters replaced.
pub(crate) struct LinkBuilder<'a> {
    pub base_url: &'a str,
    pub call: &'a GraphCall,
}

impl LinkBuilder<'_> {
    /// The caller's URL with `set` parameters replaced (or appended) and
    /// `remove` parameters dropped. `access_token` is kept only if the caller
    /// sent it in the query.
    pub fn url_with(&self, set: &[(&str, String)], remove: &[&str]) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut pending: Vec<(&str, &String)> = set.iter().map(|(k, v)| (*k, v)).collect();
        for (k, v) in &self.call.params.0 {
            if remove.contains(&k.as_str()) || (k == "access_token" && !self.call.token_in_query) {
                continue;
            }
            if let Some(pos) = pending.iter().position(|(name, _)| name == k) {
                let (name, value) = pending.remove(pos);
                pairs.push((name.to_string(), value.clone()));
            } else if set.iter().any(|(name, _)| name == k) {
                continue; // duplicate of a replaced parameter
            } else {
                pairs.push((k.clone(), v.clone()));
            }
        }
        for (name, value) in pending {
            pairs.push((name.to_string(), value.clone()));
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        format!("{}{}?{}", self.base_url, self.call.path.normalized(), query.finish())
    }
}

/// An opaque cursor for the item at `index`.
pub(crate) fn encode_cursor(index: usize) -> String {
    base64_url(format!("AQHfg:{index}").as_bytes())
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64_url_decode(cursor.trim_end_matches('='))?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("AQHfg:")?.parse().ok()
}

/// Parses `limit` (default [`DEFAULT_PAGE_SIZE`], clamped to `1..=cap`).
pub(crate) fn page_size(params: &Params, cap: usize) -> Result<usize, GraphError> {
    match params.get("limit") {
        None | Some("") => Ok(DEFAULT_PAGE_SIZE.min(cap.max(1))),
        Some(raw) => {
            let n: usize = raw
                .trim()
                .parse()
                .map_err(|_| GraphError::invalid_parameter("Param limit must be a non-negative integer"))?;
            Ok(n.clamp(1, cap.max(1)))
        }
    }
}

/// Answers one page of an edge whose items are already rendered.
/// `extra` entries (e.g. `summary`) are added to the top-level object.
pub(crate) fn paged_response(
    items: Vec<Value>,
    links: &LinkBuilder<'_>,
    page_size_cap: usize,
    extra: Vec<(&str, Value)>,
) -> Result<Value, GraphError> {
    let params = &links.call.params;
    let limit = page_size(params, page_size_cap)?;
    let total = items.len();
    let bad_cursor = || GraphError::invalid_parameter("The cursor is invalid or has expired");
    let (start, end) = if let Some(after) = params.get("after").filter(|s| !s.is_empty()) {
        let start = decode_cursor(after).ok_or_else(bad_cursor)? + 1;
        (start.min(total), (start + limit).min(total))
    } else if let Some(before) = params.get("before").filter(|s| !s.is_empty()) {
        let end = decode_cursor(before).ok_or_else(bad_cursor)?.min(total);
        (end.saturating_sub(limit), end)
    } else {
        (0, limit.min(total))
    };

    let mut body = Map::new();
    let data: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
    let empty = data.is_empty();
    body.insert("data".into(), Value::Array(data));
    if !empty {
        let before_cursor = encode_cursor(start);
        let after_cursor = encode_cursor(end - 1);
        let mut paging = Map::new();
        paging.insert("cursors".into(), json!({ "before": before_cursor, "after": after_cursor }));
        if start > 0 {
            paging.insert("previous".into(), json!(links.url_with(&[("before", before_cursor.clone())], &["after"])));
        }
        if end < total {
            paging.insert("next".into(), json!(links.url_with(&[("after", after_cursor.clone())], &["before"])));
        }
        body.insert("paging".into(), Value::Object(paging));
    }
    for (k, v) in extra {
        body.insert(k.into(), v);
    }
    Ok(Value::Object(body))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_url(input: &[u8]) -> String {
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64_url_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let values: Vec<u32> =
        input.bytes().map(|c| B64.iter().position(|&b| b == c).map(|p| p as u32)).collect::<Option<_>>()?;
    for chunk in values.chunks(4) {
        if chunk.len() < 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        for i in [0, 1, 24, 99, 12345] {
            assert_eq!(decode_cursor(&encode_cursor(i)), Some(i));
        }
        assert_eq!(decode_cursor("not-a-cursor"), None);
        assert!(encode_cursor(0).starts_with("QVFI"));
    }
}
