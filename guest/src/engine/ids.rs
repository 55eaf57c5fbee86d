//! Graph ids in request paths: every request a stream asks is screened before it is sent.
//!
//! Ids reach URL paths from Meta's answers (media, stories, comments, hashtags), from the
//! state (hashtag ids) and from `paging.next` links; a hostile or broken answer could make an
//! id such as `../../me/accounts?x=` walk the request to another node. The paths this
//! connector asks are `{version}/{id}` and `{version}/{id}/{edge}` (and
//! `{version}/ig_hashtag_search`), where a Graph id is digits and an edge a lower-case name.
//! A request whose path is anything else is not sent: its stream gets an error naming the
//! offending part instead (`ApiError::Body`, a `system_error`). It must not rewrite URLs, send
//! requests or judge answers.

use super::Asked;
use crate::graph::{ApiError, GraphClient};

/// Nodes the connector asks by name rather than by id.
const NAMED_NODES: &[&str] = &["ig_hashtag_search"];

/// Why `path` (`v27.0/1784…/media`, no leading slash, no query) is not a path this connector
/// asks, if it is not.
pub fn path_problem(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let version_ok = |s: &str| {
        s.strip_prefix('v').is_some_and(|v| {
            let mut parts = v.split('.');
            let digits = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
        })
    };
    let show = |s: &str| s.chars().take(80).collect::<String>();
    if !version_ok(segments[0]) {
        return Some(format!("`{}` where the API version belongs", show(segments[0])));
    }
    let node = segments.get(1).copied().unwrap_or("");
    if !(is_id(node) || (segments.len() == 2 && NAMED_NODES.contains(&node))) {
        return Some(format!("`{}` where a Graph id belongs (Graph ids are digits)", show(node)));
    }
    match segments.get(2) {
        Some(edge) if !is_edge(edge) => Some(format!("`{}` where an edge name belongs", show(edge))),
        _ if segments.len() > 3 => Some(format!("`{}`, which is not a Graph node or edge path", show(path))),
        _ => None,
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_edge(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The path of `url` under the client's base (`None` for a URL on another origin: the host's
/// allow-list refuses those).
fn path_of<'u>(client: &GraphClient, url: &'u str, relative: bool) -> Option<&'u str> {
    let rest = if relative { Some(url) } else { url.strip_prefix(client.absolute("").as_str()) }?;
    Some(rest.split(['?', '#']).next().unwrap_or(""))
}

/// Take out of `asked` every request whose path is not one this connector asks; each comes
/// back as (family, tag, the error its family gets instead of an answer).
pub fn screen(client: &GraphClient, asked: &mut Vec<(usize, Asked)>) -> Vec<(usize, u64, ApiError)> {
    let mut refused = Vec::new();
    let mut problem = |family: usize, tag: u64, url: &str, relative: bool| -> bool {
        let Some(path) = path_of(client, url, relative) else { return false };
        let Some(why) = path_problem(path) else { return false };
        // Shown as asked (a parsed URL would resolve the `..` it holds).
        let shown: String = if relative { client.absolute(url) } else { url.to_string() }.chars().take(300).collect();
        refused.push((
            family,
            tag,
            ApiError::Body {
                detail: format!(
                    "the request path `{}` holds {why}; it came from an earlier answer or the state, so it was not sent",
                    path.chars().take(120).collect::<String>()
                ),
                url: shown,
            },
        ));
        true
    };
    asked.retain_mut(|(family, a)| match a {
        Asked::Get { tag, url, .. } => !problem(*family, *tag, url, false),
        Asked::Page { tag, url, .. } => !problem(*family, *tag, url, true),
        Asked::Ops { ops, .. } => {
            ops.retain(|(tag, url)| !problem(*family, *tag, url, true));
            !ops.is_empty()
        }
    });
    refused
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    /// The paths the streams ask pass; traversal, queries and non-digit ids do not.
    #[test]
    fn only_graph_paths_pass() {
        for ok in ["v27.0/17841400000000001/media", "v27.0/1790/insights", "v22.0/1784", "v27.0/ig_hashtag_search"] {
            assert_eq!(path_problem(ok), None, "{ok}");
        }
        for (bad, needle) in [
            ("v27.0/../../../me/accounts", "Graph id"),
            ("v27.0/abc/top_media", "Graph id"),
            ("v27.0/me/accounts", "Graph id"),
            ("v27.0/17/top_media/x", "not a Graph node"),
            ("v27.0/17/top_media/../x", "not a Graph node"),
            ("v27.0/17/Top-Media", "edge name"),
            ("../v27.0/17", "API version"),
            ("v27.0/ig_hashtag_search/x", "Graph id"),
            ("v27.0/%2e%2e/x", "Graph id"),
            ("v27.0/", "Graph id"),
        ] {
            let why = path_problem(bad).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(why.contains(needle), "{bad}: {why}");
        }
    }
}
