//! Issue 12, first part, end to end through the real host and component: `media_comments`
//! (field expansion, nested paging, replies, disabled comments, a deleted comment, the
//! incremental window), `tagged_media` (full and incremental), the story `navigation`
//! breakdown, retired fields, and Graph API v27.0 by default.

mod common;

use common::*;
use fake_graph::comments::{comments_of, tagged_of};
use fake_graph::insights::media_metric_value;
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Records of `stream` match its schema, carry their account and have unique primary keys.
fn check_schema_and_keys(r: &Run, stream: &str) {
    let validator = jsonschema::validator_for(&schema(stream)).unwrap();
    let mut keys = BTreeSet::new();
    for rec in r.records(stream) {
        let errors: Vec<String> = validator.iter_errors(rec).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{stream} record {rec} violates its schema: {errors:?}");
        let key: Vec<String> = primary_key(stream).iter().map(|k| rec[*k].to_string()).collect();
        assert!(keys.insert(key.clone()), "{stream} duplicate primary key {key:?}");
        assert!(rec["business_account_id"].is_string() && rec["page_id"].is_string(), "{rec}");
    }
}

/// Every comment and reply the fake holds, as id → (media id, parent id).
fn expected_comments(
    sb: &Sandbox,
    newer_than: Option<chrono::DateTime<chrono::Utc>>,
) -> BTreeMap<String, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    for post in sb.dataset().all_media().filter(|m| newer_than.is_none_or(|t| m.timestamp >= t)) {
        for c in comments_of(sb.dataset(), post) {
            out.insert(c.id.clone(), (post.id.clone(), None));
            for r in &c.replies {
                out.insert(r.id.clone(), (post.id.clone(), Some(c.id.clone())));
            }
        }
    }
    out
}

fn got_comments(r: &Run) -> BTreeMap<String, (String, Option<String>)> {
    r.records("media_comments")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                (c["media_id"].as_str().unwrap().to_string(), c["parent_id"].as_str().map(str::to_string)),
            )
        })
        .collect()
}

fn warnings(r: &Run) -> Vec<String> {
    r.of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == "WARN")
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect()
}

/// With pages of 1, comments and replies come partly through the expansion and partly by
/// paging `{media}/comments` and `{comment}/replies`: every comment and reply of the dataset
/// arrives once, with its `media_id` and `parent_id`, and disabled posts are named.
#[test]
fn media_comments_full_refresh_is_every_comment_and_reply() {
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { page_size_cap: 1, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media_comments"]), None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let expected = expected_comments(&sb, None);
    assert!(expected.values().any(|(_, p)| p.is_some()), "the dataset has replies");
    assert_eq!(got_comments(&r), expected);
    check_schema_and_keys(&r, "media_comments");
    // Further pages of comments and replies travel as batch operations.
    let paths: Vec<String> = sb.calls().iter().map(|c| c.split('?').next().unwrap().to_string()).collect();
    assert!(paths.iter().all(|p| p.starts_with("/v27.0/")), "v27.0 by default: {paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/comments")), "comments paged beyond the expansion");
    assert!(paths.iter().any(|p| p.ends_with("/replies")), "replies paged beyond the expansion");
    let warns = warnings(&r);
    for post in sb.dataset().all_media().filter(|m| m.is_comment_enabled == Some(false)) {
        assert!(warns.iter().any(|w| w.contains(&post.id) && w.contains("disabled")), "{post:?} named in {warns:?}");
    }
    for post in sb.dataset().all_media().filter(|m| m.is_comment_enabled == Some(true) && m.comments_count == Some(0)) {
        assert!(warns.iter().any(|w| w.contains(&post.id) && w.contains("No comments")), "{} named", post.id);
    }
}

/// Without paging limits the whole stream costs one media page per account, and that page
/// comes with the account list: every comment comes through field expansion.
#[test]
fn media_comments_use_field_expansion() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media_comments"]), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(got_comments(&r), expected_comments(&sb, None));
    let calls = sb.calls();
    assert_eq!(calls.len(), 1, "the account list alone: {calls:?}");
    assert!(calls[0].contains("/me/accounts") && calls[0].contains("media.limit(100){id,timestamp,comments_count"));
    assert!(calls[0].contains("comments.limit(50){id,text"), "{}", calls[0]);
}

/// A comment deleted after it was listed: its further replies are skipped with a warning
/// naming it, everything else is read, and the stream succeeds.
#[test]
fn a_deleted_comment_skips_only_its_replies() {
    let spec = DatasetSpec::small();
    let probe = fake_graph::Dataset::generate(&spec);
    let victim = probe
        .all_media()
        .flat_map(|m| comments_of(&probe, m))
        .find(|c| c.replies.len() > 1)
        .expect("a comment with more than one page of replies");
    let options = FakeOptions { page_size_cap: 1, deleted_comments: vec![victim.id.clone()], ..FakeOptions::default() };
    let sb = Sandbox::start_with(spec, options);
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media_comments"]), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut expected = expected_comments(&sb, None);
    for lost in &victim.replies[1..] {
        expected.remove(&lost.id);
    }
    assert_eq!(got_comments(&r), expected);
    assert!(warnings(&r).iter().any(|w| w.contains(&victim.id)), "{:?}", warnings(&r));
}

/// Incremental `media_comments` re-reads only the posts of the media window (the newest post
/// minus `media_lookback_days`), and stops paging the media edge there.
#[test]
fn incremental_media_comments_reread_only_the_window() {
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { page_size_cap: 2, ..FakeOptions::default() });
    let cfg = sb.config(json!({"media_lookback_days": 90}));
    let cat = sb.catalog(&["media_comments:incremental"]);
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(got_comments(&first), expected_comments(&sb, None));
    let state = first.final_state();
    sb.fake.clear_requests();
    let second = sb.read(&cfg, &cat, Some(&state));
    assert_eq!(second.code, 0, "{}", second.stderr);
    let mut window = BTreeSet::new();
    let mut expected = BTreeMap::new();
    for account in sb.dataset().accounts() {
        let newest = account.media.iter().map(|m| m.timestamp).max().unwrap();
        let since = newest - chrono::Duration::days(90);
        for post in account.media.iter().filter(|m| m.timestamp >= since) {
            window.insert(post.id.clone());
            for c in comments_of(sb.dataset(), post) {
                expected.insert(c.id.clone(), (post.id.clone(), None));
                for rep in &c.replies {
                    expected.insert(rep.id.clone(), (post.id.clone(), Some(c.id.clone())));
                }
            }
        }
    }
    assert!(window.len() < sb.dataset().all_media().count() / 2, "the window is a small part");
    assert_eq!(got_comments(&second), expected);
    let media_pages = sb.media_pages();
    assert!(
        media_pages <= 2 * sb.dataset().accounts().len(),
        "{media_pages} media pages for a window of {}",
        window.len()
    );
    // The state itself (its `sourceStats` count the records since the checkpoint before).
    let cursors = |s: &Value| -> Vec<Value> { s.as_array().unwrap().iter().map(|m| m["stream"].clone()).collect() };
    assert_eq!(cursors(&second.final_state()), cursors(&state), "the cursor stays at the newest post");
}

fn tag_ids(r: &Run) -> BTreeSet<(String, String)> {
    r.records("tagged_media")
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["business_account_id"].as_str().unwrap().to_string()))
        .collect()
}

fn tag_time(p: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_str(p["timestamp"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%z").unwrap()
}

/// `tagged_media` reads every tagging post past the first 100, although Meta lists tags by
/// tag time and pages them by cursor only (`paging.cursors.after`, no `next`): 150 posts per
/// account, in pages of 100, 50 and an empty one.
#[test]
fn tagged_media_reads_past_100_posts_by_cursor() {
    let sb = Sandbox::start(DatasetSpec { tagged_per_account: 150, ..DatasetSpec::small() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["tagged_media"]), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_schema_and_keys(&r, "tagged_media");
    let mut expected = BTreeSet::new();
    for account in sb.dataset().accounts() {
        for post in tagged_of(sb.dataset(), account) {
            expected.insert((post["id"].as_str().unwrap().to_string(), account.ig_user_id.clone()));
        }
    }
    assert_eq!(expected.len(), 300);
    assert_eq!(tag_ids(&r), expected);
    let pages: Vec<String> = sb.calls().into_iter().filter(|c| c.contains("/tags?")).collect();
    assert_eq!(pages.len(), 3 * sb.dataset().accounts().len(), "{pages:#?}");
    assert_eq!(pages.iter().filter(|c| c.contains("after=")).count(), 2 * sb.dataset().accounts().len());
}

/// Incremental `tagged_media` does not rely on timestamps: a sync reads every post tagged since
/// the last one, an old post tagged since included, plus the posts of the lookback window, and
/// stops paging soon after the posts the last sync saw first (kept in the state).
#[test]
fn incremental_tagged_media_reads_new_tags_whatever_their_timestamp() {
    let options = || FakeOptions { page_size_cap: 4, ..FakeOptions::default() };
    let spec = DatasetSpec { tagged_per_account: 12, ..DatasetSpec::small() };
    let before = Sandbox::start_with(spec.clone(), options());
    let cfg = before.config(json!({"media_lookback_days": 0}));
    let cat = before.catalog(&["tagged_media:incremental"]);
    let first = before.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let all_before: BTreeSet<(String, String)> = before
        .dataset()
        .accounts()
        .iter()
        .flat_map(|a| {
            tagged_of(before.dataset(), a)
                .into_iter()
                .map(|p| (p["id"].as_str().unwrap().to_string(), a.ig_user_id.clone()))
        })
        .collect();
    assert_eq!(tag_ids(&first), all_before, "a first sync reads every post");
    let state = first.final_state();
    let st = &state[0]["stream"]["stream_state"]["states"][0]["cursor"];
    assert_eq!(st["recent_ids"].as_array().unwrap().len(), 10, "{st}");

    // 60 hours later, three more tags, the newest of them on a post weeks old.
    let later = DatasetSpec { now: spec.now + chrono::Duration::hours(60), tagged_per_account: 15, ..spec };
    let after = Sandbox::start_with(later, options());
    let second = after.read(
        &after.config(json!({"media_lookback_days": 0})),
        &after.catalog(&["tagged_media:incremental"]),
        Some(&state),
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    let mut expected = BTreeSet::new();
    for (i, account) in after.dataset().accounts().iter().enumerate() {
        let cursor = state[0]["stream"]["stream_state"]["states"][i]["cursor"]["timestamp"].as_str().unwrap();
        let cursor = chrono::DateTime::parse_from_rfc3339(cursor).unwrap();
        let posts = tagged_of(after.dataset(), account);
        assert!(tag_time(&posts[0]) < cursor - chrono::Duration::days(2), "the newest tag is on an old post");
        for p in &posts {
            let id = (p["id"].as_str().unwrap().to_string(), account.ig_user_id.clone());
            if !all_before.contains(&id) || tag_time(p) >= cursor {
                expected.insert(id);
            }
        }
    }
    assert_eq!(tag_ids(&second), expected);
    let pages = after.calls().into_iter().filter(|c| c.contains("/tags?")).count();
    assert!(pages < 4 * after.dataset().accounts().len(), "stops soon after the known posts: {pages} pages");
}

/// `story_insights` carry `navigation` and its breakdown by `story_navigation_action_type`,
/// asked as Meta requires (the metric alone with the breakdown), and the parts add up.
#[test]
fn story_insights_carry_the_navigation_breakdown() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["stories", "story_insights"]), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_schema_and_keys(&r, "story_insights");
    let stories: Vec<_> = sb.dataset().all_stories().filter(|s| !s.flags.any()).collect();
    assert_eq!(r.records("story_insights").len(), stories.len());
    for story in stories {
        let rec = r.records("story_insights").into_iter().find(|x| x["id"] == story.id.as_str()).unwrap();
        let parts = rec["navigation_breakdown"].as_object().unwrap_or_else(|| panic!("{rec}"));
        let keys: BTreeSet<&str> = parts.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["tap_forward", "tap_back", "tap_exit", "swipe_forward"]));
        let sum: u64 = parts.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(Some(json!(sum)), media_metric_value(sb.dataset(), story, "navigation"), "{rec}");
        assert_eq!(rec["navigation"], json!(sum));
        assert!(rec["reach"].is_u64(), "the other metrics stay: {rec}");
    }
    let ops: Vec<String> = sb.fake.requests().iter().flat_map(|q| q.batch_relative_urls()).collect();
    let nav: Vec<&String> = ops.iter().filter(|u| u.contains("breakdown=story_navigation_action_type")).collect();
    assert!(!nav.is_empty() && nav.iter().all(|u| u.contains("metric=navigation&")), "{nav:?}");
}

/// A field Meta retired fails no stream: the connector drops it for that kind of request with
/// one warning and asks again; later pages no longer ask it.
#[test]
fn a_retired_field_is_dropped_with_one_warning() {
    let options = FakeOptions {
        retired_fields: vec![("ShadowIGMedia".into(), "thumbnail_url".into())],
        page_size_cap: 5,
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media", "stories"]), None);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let data = sb.dataset();
    assert_eq!(r.records("media").len(), data.all_media().count());
    assert_eq!(r.records("stories").len(), data.all_stories().count());
    assert!(r.all_records().iter().all(|x| x.get("thumbnail_url").is_none()));
    let warns: Vec<String> = warnings(&r).into_iter().filter(|w| w.contains("thumbnail_url")).collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    let reqs = sb.fake.requests();
    let asked = reqs.iter().filter(|q| q.query_param("fields").is_some_and(|f| f.contains("thumbnail_url"))).count();
    let rejected = reqs.iter().filter(|q| q.status == 400).count();
    assert_eq!(asked, rejected, "only the rejected requests asked the field");
    assert!(rejected <= 2 * data.accounts().len(), "at most the first page of each edge and account: {rejected}");
}
