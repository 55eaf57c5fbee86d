//! Smaller pages: when Meta answers a request with code 1 "Please reduce the amount of data
//! you're asking for, then retry your request", the request is asked again with every page
//! size halved (its `limit` parameter and each `.limit(n)` of its field expansions), down to
//! one item, before the error reaches the stream.
//!
//! Owns only the rewriting of one URL. Halving never changes what a walk reads: the smaller
//! answer's `paging.next` (and an expansion's own paging) lead on from where it stops, and the
//! stream modules already follow them. Expansions are never dropped, since a stream would then
//! take a missing expansion for "nothing there". It must not send requests (the engine re-asks),
//! nor decide what happens when one item is still too much (the stream's policy does).

use crate::emit;
use crate::graph::ApiError;
use serde_json::Value;

/// The same request with every page size halved, when `answer` is Meta's "reduce the amount
/// of data" refusal and some page size is still above one.
pub fn retry_url(url: &str, answer: &Result<Value, ApiError>) -> Option<String> {
    let refused = answer.as_ref().err().and_then(ApiError::graph).is_some_and(|g| g.is_too_much_data());
    if !refused {
        return None;
    }
    let smaller = halved(url)?;
    emit::info(&format!(
        "Meta asked for less data at once ({}); asking again with smaller pages",
        crate::graph::redact_url(url)
    ));
    Some(smaller)
}

/// `url` with `limit=n` and each `.limit(n)` inside `fields=` halved (never below 1); `None`
/// when every page size is already 1 (or there is none).
fn halved(url: &str) -> Option<String> {
    let (base, query) = url.split_once('?')?;
    let mut changed = false;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = match k.as_ref() {
                "limit" => match v.trim().parse::<u64>() {
                    Ok(n) if n > 1 => {
                        changed = true;
                        (n / 2).to_string()
                    }
                    _ => v.into_owned(),
                },
                "fields" => {
                    let (fields, nested) = halve_nested(&v);
                    changed |= nested;
                    fields
                }
                _ => v.into_owned(),
            };
            (k.into_owned(), v)
        })
        .collect();
    if !changed {
        return None;
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    Some(format!("{base}?{query}"))
}

/// Every `.limit(n)` with n > 1 of a `fields=` value halved; whether any was.
fn halve_nested(fields: &str) -> (String, bool) {
    const MARK: &str = ".limit(";
    let mut out = String::with_capacity(fields.len());
    let mut rest = fields;
    let mut changed = false;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        rest = &rest[at + MARK.len()..];
        let digits = rest.find(')').map(|end| &rest[..end]);
        match digits.and_then(|d| d.trim().parse::<u64>().ok()) {
            Some(n) if n > 1 => {
                out.push_str(&(n / 2).to_string());
                rest = &rest[digits.unwrap_or("").len()..];
                changed = true;
            }
            _ => {}
        }
    }
    out.push_str(rest);
    (out, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphError;

    fn refusal() -> Result<Value, ApiError> {
        Err(ApiError::Graph {
            status: 500,
            error: GraphError {
                message: "Please reduce the amount of data you're asking for, then retry your request".into(),
                kind: Some("OAuthException".into()),
                code: 1,
                error_subcode: None,
                is_transient: None,
                fbtrace_id: None,
            },
            url: String::new(),
        })
    }

    /// The top `limit` and every nested `.limit(n)` halve, down to 1; then nothing is left to
    /// shrink.
    #[test]
    fn pages_halve_down_to_one() {
        let url =
            "http://x/v27.0/1/media?fields=id%2Ccomments.limit%2850%29%7Bid%2Creplies.limit%283%29%7Bid%7D%7D&limit=25";
        let once = retry_url(url, &refusal()).unwrap();
        let fields =
            |u: &str| url::Url::parse(u).unwrap().query_pairs().find(|(k, _)| k == "fields").unwrap().1.into_owned();
        let limit =
            |u: &str| url::Url::parse(u).unwrap().query_pairs().find(|(k, _)| k == "limit").unwrap().1.into_owned();
        assert_eq!(fields(&once), "id,comments.limit(25){id,replies.limit(1){id}}");
        assert_eq!(limit(&once), "12");
        let mut u = once;
        let mut steps = 1;
        while let Some(next) = retry_url(&u, &refusal()) {
            u = next;
            steps += 1;
        }
        assert_eq!(fields(&u), "id,comments.limit(1){id,replies.limit(1){id}}");
        assert_eq!(limit(&u), "1");
        assert!(steps <= 6, "{steps}");
    }

    /// Only Meta's "reduce the amount of data" answer shrinks a request; one without page
    /// sizes cannot shrink.
    #[test]
    fn only_the_refusal_shrinks() {
        assert!(retry_url("http://x/v27.0/1/media?limit=50", &Ok(Value::Null)).is_none());
        assert!(retry_url("http://x/v27.0/ig_hashtag_search?q=a&user_id=1", &refusal()).is_none());
        assert!(retry_url("v27.0/1/tags?limit=100", &refusal()).unwrap().ends_with("limit=50"));
    }
}
