//! `media_comments` riding on the media walk, complete and correct end to end through the real
//! host and component: with the whole media family selected (incremental) and pages of 1 (so
//! the media walk takes several pages and most threads page past their expansion), every
//! comment and reply of every post arrives once with the fake's content (text, author, likes,
//! time, post, parent, account); each account's cursor is its newest post, as for `media`; and
//! the next read re-reads exactly the posts of the window, with the same records for them, and
//! keeps the cursors.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use fake_graph::comments::{Comment, comments_of};
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a record of `c` must say: id → (media, parent, text, username, author id, likes, time,
/// account).
type Want = BTreeMap<String, (String, Option<String>, String, String, String, u64, DateTime<Utc>, String)>;

fn expected(sb: &Sandbox, window_days: Option<i64>) -> Want {
    let mut out = Want::new();
    let mut put = |c: &Comment, post: &str, parent: Option<&str>, account: &str| {
        let (text, user, from) = (c.text.clone(), c.username.clone(), c.from_id.clone());
        let value =
            (post.into(), parent.map(str::to_string), text, user, from, c.like_count, c.timestamp, account.into());
        assert!(out.insert(c.id.clone(), value).is_none(), "comment ids are unique in the dataset");
    };
    for account in sb.dataset().accounts() {
        let newest = account.media.iter().map(|m| m.timestamp).max().unwrap();
        let since = window_days.map(|d| newest - chrono::Duration::days(d));
        for post in account.media.iter().filter(|m| since.is_none_or(|s| m.timestamp >= s)) {
            for c in comments_of(sb.dataset(), post) {
                put(&c, &post.id, None, &account.ig_user_id);
                for r in &c.replies {
                    put(r, &post.id, Some(&c.id), &account.ig_user_id);
                }
            }
        }
    }
    out
}

fn got(r: &Run) -> Want {
    let mut out = Want::new();
    for c in r.records("media_comments") {
        let s = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("`{k}` in {c}")).to_string();
        let time = DateTime::parse_from_rfc3339(&s("timestamp")).unwrap().with_timezone(&Utc);
        let value = (
            s("media_id"),
            c["parent_id"].as_str().map(str::to_string),
            s("text"),
            s("username"),
            c["from"]["id"].as_str().unwrap().to_string(),
            c["like_count"].as_u64().unwrap(),
            time,
            s("business_account_id"),
        );
        assert!(out.insert(s("id"), value).is_none(), "comment {} came twice", s("id"));
    }
    out
}

/// `stream`'s cursor per account in a final state.
fn cursors(state: &Value, stream: &str) -> BTreeMap<String, String> {
    let msg = state.as_array().unwrap().iter().find(|m| m["stream"]["stream_descriptor"]["name"] == stream).unwrap();
    msg["stream"]["stream_state"]["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let account = p["partition"]["business_account_id"].as_str().unwrap().to_string();
            (account, p["cursor"]["timestamp"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_comment_and_reply_across_pages_and_syncs() {
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { page_size_cap: 1, ..FakeOptions::default() });
    let cfg = sb.config(json!({"media_lookback_days": 90}));
    let cat = sb.catalog(&["media:incremental", "media_insights:incremental", "media_comments:incremental"]);
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let all = expected(&sb, None);
    assert!(all.values().any(|w| w.1.is_some()), "the dataset has replies");
    assert_eq!(got(&first), all, "every comment and reply, with its content");

    // Across pages: the media walk took several pages (the comments rode on each), and threads
    // went on past their expansion on their own edges.
    let paths: Vec<String> = sb.calls().iter().map(|c| c.split('?').next().unwrap().to_string()).collect();
    let media_pages = paths.iter().filter(|p| p.ends_with("/media")).count();
    assert!(media_pages >= 2 * sb.dataset().accounts().len(), "{media_pages} media pages");
    assert!(
        paths.iter().any(|p| p.ends_with("/comments")) && paths.iter().any(|p| p.ends_with("/replies")),
        "{paths:?}"
    );

    // The cursor of each account is its newest post, as for `media`.
    let state = first.final_state();
    let newest: BTreeMap<String, String> = sb
        .dataset()
        .accounts()
        .iter()
        .map(|a| {
            let t = a.media.iter().map(|m| m.timestamp).max().unwrap();
            (a.ig_user_id.clone(), t.to_rfc3339())
        })
        .collect();
    assert_eq!(cursors(&state, "media_comments"), newest);
    assert_eq!(cursors(&state, "media_comments"), cursors(&state, "media"));

    // The next sync: exactly the window's posts (newest minus 90 days), the same records for
    // them, the same cursors.
    sb.fake.clear_requests();
    let second = sb.read(&cfg, &cat, Some(&state));
    assert_eq!(second.code, 0, "{}", second.stdout);
    let window = expected(&sb, Some(90));
    assert!(!window.is_empty() && window.len() < all.len() / 2, "the window is a small part");
    assert_eq!(got(&second), window);
    assert_eq!(cursors(&second.final_state(), "media_comments"), newest);
}
