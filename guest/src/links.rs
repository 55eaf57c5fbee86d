//! Next links: the `paging.next` and `paging.previous` links of every answer, moved onto the
//! configured `api_base_url`.
//!
//! Meta writes its paging links as absolute URLs on its own origin
//! (`https://graph.facebook.com/v27.0/…`, `https://graph.instagram.com/…`), whatever origin
//! the request went to. A user who reads through a gateway or a regional proxy origin
//! (`api_base_url`, possibly with a path prefix such as `https://gw.example.com/meta`) needs
//! every link followed there instead: the gateway may be the only way out, and only its origin
//! is allow-listed. [`Links::rewrite`] walks an answer and moves each such link onto
//! `api_base_url`, keeping its path prefix; it runs on every answer the Graph client parses
//! (plain answers and each operation of a batch), at any depth, so links inside field
//! expansions (`media{…}`, `children{…}`, `comments{…,replies{…}}`, business discovery) are
//! moved too.
//!
//! Why here, in the component, and not in the host: every link passes through the component
//! under any runtime, including stock runtimes (`wasmtime run`, `jco run`, the embedding
//! examples) that have none of our host; there the component sends the token itself, and
//! only to `api_base_url`'s origin, so an unmoved link would fail. The component also parses
//! every answer anyway, while the host would have to parse and re-serialise each body, and,
//! inside batch answers, each operation's body again (a JSON string in JSON). The host keeps the
//! allow-list: a link this module leaves alone is still refused there.
//!
//! Only Meta's own Graph origins are moved ([`META_GRAPH_ORIGINS`]). A link already under
//! `api_base_url` is kept as it is, and a link to any other origin is left alone: it is not
//! Meta's, so the host's allow-list refuses it (and the component never sends it the token).
//! This module must not send requests or interpret the items of a page.

use serde_json::Value;

/// The origins Meta writes its paging links on (scheme `https`, default port).
pub const META_GRAPH_ORIGINS: &[&str] = &["graph.facebook.com", "graph.instagram.com"];

/// Where links are moved to: the configured `api_base_url`.
#[derive(Debug, Clone)]
pub struct Links {
    /// `api_base_url` without a trailing slash.
    base: String,
}

impl Links {
    pub fn new(api_base_url: &str) -> Links {
        Links { base: api_base_url.trim_end_matches('/').to_string() }
    }

    /// `link` as it must be followed: a link on one of Meta's Graph origins with its path and
    /// query under `api_base_url`; any other link unchanged.
    pub fn follow(&self, link: &str) -> String {
        if link.strip_prefix(self.base.as_str()).is_some_and(|rest| rest.starts_with(['/', '?']) || rest.is_empty()) {
            return link.to_string();
        }
        match meta_path_and_query(link) {
            Some(rest) => format!("{}{rest}", self.base),
            None => link.to_string(),
        }
    }

    /// Move every `paging.next` / `paging.previous` link in `answer`, at any depth.
    pub fn rewrite(&self, answer: &mut Value) {
        match answer {
            Value::Object(o) => {
                if let Some(Value::Object(paging)) = o.get_mut("paging") {
                    for key in ["next", "previous"] {
                        if let Some(Value::String(link)) = paging.get_mut(key) {
                            let moved = self.follow(link);
                            if moved != *link {
                                *link = moved;
                            }
                        }
                    }
                }
                o.values_mut().for_each(|v| self.rewrite(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.rewrite(v)),
            _ => {}
        }
    }
}

/// The path and query of `link` (starting with `/`) when it is on one of Meta's Graph
/// origins, as written (no re-encoding).
fn meta_path_and_query(link: &str) -> Option<&str> {
    let parsed = url::Url::parse(link).ok()?;
    let host = parsed.host_str()?;
    let meta = parsed.scheme() == "https"
        && parsed.port().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && META_GRAPH_ORIGINS.iter().any(|m| m.eq_ignore_ascii_case(host));
    if !meta {
        return None;
    }
    // The text after `scheme://authority`, as Meta wrote it.
    let after_scheme = &link[link.find("://")? + 3..];
    let start = after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len());
    let rest = &after_scheme[start..];
    let rest = rest.split('#').next().unwrap_or_default();
    Some(if rest.is_empty() { "/" } else { rest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Meta's links move under the base (its path prefix kept); other links stay.
    #[test]
    fn follow() {
        let gw = Links::new("https://gw.example.com/meta/");
        assert_eq!(
            gw.follow("https://graph.facebook.com/v27.0/1784/media?fields=id%2Ccaption&after=QVFI"),
            "https://gw.example.com/meta/v27.0/1784/media?fields=id%2Ccaption&after=QVFI"
        );
        assert_eq!(
            gw.follow("https://GRAPH.instagram.com:443/v22.0/me/media"),
            "https://gw.example.com/meta/v22.0/me/media"
        );
        assert_eq!(gw.follow("https://gw.example.com/meta/v27.0/x?a=1"), "https://gw.example.com/meta/v27.0/x?a=1");
        for other in [
            "http://graph.facebook.com/v27.0/x",
            "https://graph.facebook.com:8443/v27.0/x",
            "https://evil.example/v27.0/x",
            "https://graph.facebook.com.evil.example/v27.0/x",
            "https://user:pw@graph.facebook.com/v27.0/x",
            "not a url",
        ] {
            assert_eq!(gw.follow(other), other, "{other}");
        }
        let local = Links::new("http://127.0.0.1:8080");
        assert_eq!(local.follow("https://graph.facebook.com/v27.0/x#frag"), "http://127.0.0.1:8080/v27.0/x");
        assert_eq!(local.follow("http://127.0.0.1:8080/v27.0/x"), "http://127.0.0.1:8080/v27.0/x");
        assert_eq!(local.follow("http://127.0.0.1:80800/v27.0/x"), "http://127.0.0.1:80800/v27.0/x", "not the base");
    }

    /// Links move at any depth: top level, field expansions, items of a page.
    #[test]
    fn rewrite_at_any_depth() {
        let links = Links::new("http://proxy:1/p");
        let mut v = json!({
            "data": [{"id": "1", "comments": {"data": [{"id": "c", "replies": {"data": [], "paging": {"next": "https://graph.facebook.com/v27.0/c/replies?after=r"}}}],
                                               "paging": {"cursors": {"after": "x"}, "next": "https://graph.facebook.com/v27.0/1/comments?after=x"}}}],
            "instagram_business_account": {"media": {"data": [], "paging": {"previous": "https://graph.facebook.com/v27.0/9/media?before=b", "next": "https://elsewhere/v27.0/9/media"}}},
            "paging": {"next": "https://graph.facebook.com/v27.0/me/accounts?after=a"}
        });
        links.rewrite(&mut v);
        assert_eq!(v["paging"]["next"], "http://proxy:1/p/v27.0/me/accounts?after=a");
        assert_eq!(v["data"][0]["comments"]["paging"]["next"], "http://proxy:1/p/v27.0/1/comments?after=x");
        assert_eq!(
            v["data"][0]["comments"]["data"][0]["replies"]["paging"]["next"],
            "http://proxy:1/p/v27.0/c/replies?after=r"
        );
        let media = &v["instagram_business_account"]["media"]["paging"];
        assert_eq!(media["previous"], "http://proxy:1/p/v27.0/9/media?before=b");
        assert_eq!(media["next"], "https://elsewhere/v27.0/9/media", "not Meta's: left for the allow-list");
    }
}
