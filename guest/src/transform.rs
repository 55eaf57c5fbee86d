//! Record clean-up shared by every stream: RFC 3339 timestamps with `+00:00` and removal of
//! volatile URL parameters so that records are stable between syncs; carousel children and
//! collaborators from field expansion inlined as plain arrays.
//!
//! Pure functions only; no I/O.

use serde_json::Value;
use url::Url;

/// Volatile query parameters removed per URL field.
const VOLATILE_URL_PARAMS: &[(&str, &str)] = &[("media_url", "_nc_rid"), ("profile_picture_url", "ccb")];

/// Meta's `2024-05-01T10:00:00+0000` (or any RFC 3339 / `Z` form) → `2024-05-01T10:00:00+00:00`.
/// Returns `None` when the text is not a timestamp.
pub fn normalize_timestamp(text: &str) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()?;
    Some(format_timestamp(parsed.with_timezone(&chrono::Utc)))
}

/// The one timestamp format the connector emits.
pub fn format_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Parse any timestamp the API or a state may carry.
pub fn parse_timestamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    normalize_timestamp(text)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&chrono::Utc)))
}

/// Remove `param` from the query of `url`, keeping every other parameter in order.
pub fn strip_query_param(url: &str, param: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else { return url.to_string() };
    if parsed.query().is_none() {
        return url.to_string();
    }
    let kept: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != param).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

/// Normalise `timestamp` and scrub volatile URL parameters of one media-like object, in place.
pub fn clean_object(obj: &mut serde_json::Map<String, Value>) {
    if let Some(Value::String(ts)) = obj.get("timestamp")
        && let Some(n) = normalize_timestamp(ts)
    {
        obj.insert("timestamp".into(), Value::String(n));
    }
    for (field, param) in VOLATILE_URL_PARAMS {
        if let Some(Value::String(u)) = obj.get(*field) {
            let cleaned = strip_query_param(u, param);
            obj.insert((*field).into(), Value::String(cleaned));
        }
    }
}

/// Carousel `children: {data: [...]}` (from field expansion) → a plain array of cleaned child
/// objects, as Airbyte's connector shapes it.
pub fn inline_children(media: &mut serde_json::Map<String, Value>) {
    if let Some(children) = media.remove("children") {
        let list = match children {
            Value::Object(mut o) => o.remove("data").unwrap_or(Value::Array(vec![])),
            other => other,
        };
        let cleaned: Vec<Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_object().cloned())
            .map(|mut c| {
                clean_object(&mut c);
                Value::Object(c)
            })
            .collect();
        media.insert("children".into(), Value::Array(cleaned));
    }
}

/// A post's `collaborators: {data: [...]}` (from field expansion) → a plain array of
/// `{id, username, invite_status}`.
pub fn inline_collaborators(media: &mut serde_json::Map<String, Value>) {
    if let Some(Value::Object(mut edge)) = media.remove("collaborators") {
        let list = edge.remove("data").filter(Value::is_array).unwrap_or(Value::Array(vec![]));
        media.insert("collaborators".into(), list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meta's offset without a colon becomes RFC 3339 with `+00:00`.
    #[test]
    fn timestamps_get_a_colon_offset() {
        assert_eq!(normalize_timestamp("2024-05-01T10:00:00+0000").unwrap(), "2024-05-01T10:00:00+00:00");
        assert_eq!(normalize_timestamp("2024-05-01T12:00:00+0200").unwrap(), "2024-05-01T10:00:00+00:00");
        assert_eq!(normalize_timestamp("2024-05-01T10:00:00Z").unwrap(), "2024-05-01T10:00:00+00:00");
        assert!(normalize_timestamp("yesterday").is_none());
    }

    /// Children from field expansion become a plain, cleaned array.
    #[test]
    fn children_are_inlined() {
        let mut m = serde_json::json!({"children": {"data": [{"id": "1", "timestamp": "2024-01-01T00:00:00+0000"}]}})
            .as_object()
            .unwrap()
            .clone();
        inline_children(&mut m);
        assert_eq!(m["children"], serde_json::json!([{"id": "1", "timestamp": "2024-01-01T00:00:00+00:00"}]));
        let mut m =
            serde_json::json!({"collaborators": {"data": [{"id": "9", "username": "u", "invite_status": "Pending"}]}})
                .as_object()
                .unwrap()
                .clone();
        inline_collaborators(&mut m);
        assert_eq!(m["collaborators"], serde_json::json!([{"id": "9", "username": "u", "invite_status": "Pending"}]));
    }

    /// Only the volatile parameter goes; the others stay in order.
    #[test]
    fn volatile_params_are_removed() {
        let u = "https://cdn.example/p.jpg?stp=dst&_nc_rid=abc123&oh=9";
        assert_eq!(strip_query_param(u, "_nc_rid"), "https://cdn.example/p.jpg?stp=dst&oh=9");
        assert_eq!(strip_query_param("https://x/p.jpg?ccb=7-5", "ccb"), "https://x/p.jpg");
        assert_eq!(strip_query_param("not a url", "ccb"), "not a url");
    }
}
