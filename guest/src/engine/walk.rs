//! One walk down a paged edge, with cycle detection.
//!
//! Owns what "the next page" is and when a walk must stop although Meta offers a `next`: a
//! page whose `paging.cursors.after` was seen before, a page with exactly the items of an
//! earlier page, a `next` URL seen before (a self-link, or two URLs that point at each other),
//! or more pages than any edge can have. Such a walk ends with a WARN naming the edge and is
//! marked `truncated`, so its stream keeps the previous cursor for that account. On edges Meta
//! pages by cursor only, the next page's URL comes from `paging.cursors.after`
//! ([`next_by_cursor`]). It must not send requests or interpret items (the stream modules do).

use crate::emit;
use crate::graph::Page;
use serde_json::Value;
use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

/// No edge this connector reads has more pages than this (Meta serves at most 10,000 posts).
pub const MAX_PAGES: usize = 1_000;

/// A walk's progress.
#[derive(Debug)]
pub struct Walk {
    /// What the walk reads, for messages (e.g. "the media edge of account 1784…").
    pub edge: String,
    seen_urls: BTreeSet<String>,
    seen_after: BTreeSet<String>,
    seen_pages: BTreeSet<u64>,
    pages: usize,
    /// The walk stopped before the end of the edge because Meta's paging repeated itself.
    pub truncated: bool,
}

impl Walk {
    pub fn new(edge: String, first_url: &str) -> Walk {
        Walk {
            edge,
            seen_urls: BTreeSet::from([first_url.to_string()]),
            seen_after: BTreeSet::new(),
            seen_pages: BTreeSet::new(),
            pages: 0,
            truncated: false,
        }
    }

    fn stop(&mut self, why: &str) {
        self.truncated = true;
        emit::warn(&format!(
            "Stopped reading {} after {} page(s): {why}. The data after this point was not read, so this account's cursor is not moved; the next sync reads it again.",
            self.edge, self.pages
        ));
    }

    /// Whether `page` brings new data; a repeated page ends the walk (its items must be
    /// dropped by the caller).
    pub fn accept(&mut self, page: &Page) -> bool {
        if let Some(after) = &page.after
            && !page.data.is_empty()
            && !self.seen_after.insert(after.clone())
        {
            self.stop(&format!("Meta sent the page cursor `{after}` a second time"));
            return false;
        }
        if !page.data.is_empty() {
            let mut h = DefaultHasher::new();
            for item in &page.data {
                item.get("id").and_then(Value::as_str).unwrap_or("").hash(&mut h);
            }
            if !self.seen_pages.insert(h.finish()) {
                self.stop("Meta sent the same items as an earlier page");
                return false;
            }
        }
        self.pages += 1;
        true
    }

    /// The URL to fetch next, if the walk goes on after an accepted page.
    pub fn follow(&mut self, next: Option<String>) -> Option<String> {
        let next = next?;
        if self.pages >= MAX_PAGES {
            self.stop(&format!("more than {MAX_PAGES} pages"));
            return None;
        }
        if !self.seen_urls.insert(next.clone()) {
            self.stop("Meta's `paging.next` points at a page already read");
            return None;
        }
        Some(next)
    }
}

/// The URL of the page after `page` (read from `url`) on an edge Meta pages by cursor only
/// (the tags edge answers `paging.cursors` and no `next`): `next` when Meta sent one, else
/// `url` with `after` set to the page's `paging.cursors.after` while the page holds items
/// (past the end Meta answers an empty page).
pub fn next_by_cursor(page: &Page, url: &str) -> Option<String> {
    if let Some(next) = &page.next {
        return Some(next.clone());
    }
    let after = page.after.as_deref().filter(|_| !page.data.is_empty())?;
    let mut parsed = url::Url::parse(url).ok()?;
    let kept: Vec<(String, String)> =
        parsed.query_pairs().into_owned().filter(|(k, _)| k != "after" && k != "before").collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept).append_pair("after", after);
    Some(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(ids: &[&str], after: &str, next: Option<&str>) -> Page {
        Page {
            data: ids.iter().map(|i| json!({"id": i})).collect(),
            next: next.map(str::to_string),
            after: Some(after.to_string()),
        }
    }

    /// A normal walk follows every new `next`.
    #[test]
    fn plain_walk() {
        let mut w = Walk::new("e".into(), "u0");
        let p = page(&["1"], "a1", Some("u1"));
        assert!(w.accept(&p));
        assert_eq!(w.follow(p.next.clone()).as_deref(), Some("u1"));
        let p = page(&["2"], "a2", None);
        assert!(w.accept(&p));
        assert_eq!(w.follow(None), None);
        assert!(!w.truncated);
    }

    /// Without `next`, the next page of a cursor-paged edge is the same URL with `after` set;
    /// an empty page or a page without a cursor ends the walk.
    #[test]
    fn next_page_by_cursor() {
        let url = "http://h/v27.0/1/tags?fields=id&limit=100&after=OLD";
        assert_eq!(
            next_by_cursor(&page(&["1", "2"], "QVFI", None), url).as_deref(),
            Some("http://h/v27.0/1/tags?fields=id&limit=100&after=QVFI")
        );
        assert_eq!(next_by_cursor(&page(&["1"], "QVFI", Some("http://h/n")), url).as_deref(), Some("http://h/n"));
        assert_eq!(next_by_cursor(&page(&[], "QVFI", None), url), None);
        let no_cursor = Page { after: None, ..page(&["1"], "x", None) };
        assert_eq!(next_by_cursor(&no_cursor, url), None);
    }

    /// Self-links, alternating links, repeated cursors and repeated items all end the walk.
    #[test]
    fn cycles_end_the_walk() {
        let mut w = Walk::new("e".into(), "u0");
        assert!(w.accept(&page(&["1"], "a1", None)));
        assert_eq!(w.follow(Some("u0".into())), None, "self-link");
        assert!(w.truncated);

        let mut w = Walk::new("e".into(), "u0");
        assert!(w.accept(&page(&["1"], "a1", None)));
        assert!(w.follow(Some("A".into())).is_some());
        assert!(w.accept(&page(&["2"], "a2", None)));
        assert!(w.follow(Some("B".into())).is_some());
        assert!(w.accept(&page(&["3"], "a3", None)));
        assert_eq!(w.follow(Some("A".into())), None, "alternating");

        let mut w = Walk::new("e".into(), "u0");
        assert!(w.accept(&page(&["1"], "a1", None)));
        assert!(!w.accept(&page(&["1"], "a1", None)), "same cursor");
        let mut w = Walk::new("e".into(), "u0");
        assert!(w.accept(&page(&["1", "2"], "a1", None)));
        assert!(!w.accept(&page(&["1", "2"], "fresh", None)), "same items");
        assert!(w.truncated);
    }
}
