//! Comments, replies, tags and retired fields, as Meta documents them.

mod common;

use common::*;
use fake_graph::comments::{TAGS_PER_ACCOUNT, comments_of, tagged_of};
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::Value;

fn ids(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// Comments plus replies add up to `comments_count`; disabled posts serve none.
#[test]
fn comments_add_up_to_comments_count() {
    let graph = start_small();
    let ds = graph.dataset();
    let mut disabled = 0;
    for post in ds.all_media() {
        let comments = comments_of(ds, post);
        if post.is_comment_enabled == Some(false) {
            disabled += 1;
            assert!(comments.is_empty());
            let edge = get(&graph.url(&format!("/v27.0/{}/comments", post.id))).ok();
            assert_eq!(edge["data"].as_array().unwrap().len(), 0, "empty set for disabled comments");
            continue;
        }
        let total: usize = comments.iter().map(|c| 1 + c.replies.len()).sum();
        assert_eq!(total as u64, post.comments_count.unwrap());
        assert!(comments.windows(2).all(|w| w[0].timestamp >= w[1].timestamp), "newest first");
    }
    assert!(disabled > 0, "the small dataset has a post with comments turned off");
}

/// The expansion pages like an edge: its `next` leads to `{media}/comments` with the same
/// sub-fields; replies carry `parent_id`; a post without comments has no `comments` field.
#[test]
fn comments_expand_and_page() {
    let graph = start(DatasetSpec::small(), FakeOptions { page_size_cap: 1, ..FakeOptions::default() });
    let ds = graph.dataset();
    let post = ds.all_media().find(|m| comments_of(ds, m).len() > 1).unwrap();
    let account = ds.owner_account(&post.id).unwrap();
    let fields = "id,comments.limit(1){id,text,replies.limit(1){id,parent_id}}";
    let page = get(&graph.url(&format!("/v27.0/{}/media?fields={fields}&limit=100", account.ig_user_id))).ok();
    let item = page["data"].as_array().unwrap().iter().find(|m| m["id"] == post.id.as_str()).unwrap().clone();
    let first = &item["comments"];
    let expected = comments_of(ds, post);
    assert_eq!(ids(first), vec![expected[0].id.clone()]);
    let next = first["paging"]["next"].as_str().unwrap();
    assert!(next.contains(&format!("/{}/comments", post.id)) && next.contains("replies.limit"), "{next}");
    let second = get(&graph.local(next)).ok();
    assert_eq!(ids(&second), vec![expected[1].id.clone()]);
    if let Some(threaded) = expected.iter().find(|c| !c.replies.is_empty()) {
        let replies = get(&graph.url(&format!("/v27.0/{}/replies?fields=id,parent_id", threaded.id))).ok();
        assert_eq!(replies["data"][0]["parent_id"], threaded.id.as_str());
    }
    let silent = ds.all_media().find(|m| m.is_comment_enabled == Some(true) && m.comments_count == Some(0));
    if let Some(silent) = silent {
        let node = get(&graph.url(&format!("/v27.0/{}?fields=id,comments{{id}}", silent.id))).ok();
        assert!(node.get("comments").is_none(), "{node}");
    }
}

/// A deleted comment's replies answer 100/33; a retired field answers "nonexisting field".
#[test]
fn deleted_comments_and_retired_fields_fail_like_meta() {
    let probe = fake_graph::Dataset::generate(&DatasetSpec::small());
    let victim = probe.all_media().flat_map(|m| comments_of(&probe, m)).next().unwrap();
    let options = FakeOptions {
        deleted_comments: vec![victim.id.clone()],
        retired_fields: vec![("ShadowIGMedia".into(), "thumbnail_url".into())],
        ..FakeOptions::default()
    };
    let graph = start(DatasetSpec::small(), options);
    let e = get(&graph.url(&format!("/v27.0/{}/replies", victim.id))).error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(100), Some(33)));
    let ig = &graph.dataset().accounts()[0].ig_user_id;
    let e = get(&graph.url(&format!("/v27.0/{ig}/media?fields=id,children{{id,thumbnail_url}}"))).error(400);
    assert_eq!(e["code"], 100);
    assert!(e["message"].as_str().unwrap().contains("nonexisting field (thumbnail_url) on node type (ShadowIGMedia)"));
    assert_eq!(get(&graph.url(&format!("/v27.0/{ig}/media?fields=id"))).status, 200);
}

/// `{ig-user}/tags` lists the tagging posts newest tag first (not by `timestamp`: an older
/// post tagged later comes before newer ones), paged by cursor only (no `next`), and a later
/// dataset with one more tag holds the same tags.
#[test]
fn tags_are_listed_by_tag_time_and_paged_by_cursor() {
    let graph = start(DatasetSpec::small(), FakeOptions { page_size_cap: 4, ..FakeOptions::default() });
    let ig = &graph.dataset().accounts()[1].ig_user_id;
    let url = format!("/v27.0/{ig}/tags?fields=id,timestamp,username&limit=100");
    let first = get(&graph.url(&url)).ok();
    assert_eq!(first["data"].as_array().unwrap().len(), 4);
    assert!(first["paging"].get("next").is_none() && first["paging"].get("previous").is_none(), "{first}");
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second = get(&graph.url(&format!("{url}&after={after}"))).ok();
    let after = second["paging"]["cursors"]["after"].as_str().unwrap();
    let end = get(&graph.url(&format!("{url}&after={after}"))).ok();
    assert_eq!(end["data"], serde_json::json!([]), "past the last page: empty");
    let all: Vec<Value> = [first, second].iter().flat_map(|p| p["data"].as_array().unwrap().clone()).collect();
    assert_eq!(all.len(), TAGS_PER_ACCOUNT);
    assert!(all.iter().all(|p| p.get("tagged_at").is_none()), "the tag time is not served");
    let stamps: Vec<&str> = all.iter().map(|p| p["timestamp"].as_str().unwrap()).collect();
    assert!(!stamps.windows(2).all(|w| w[0] > w[1]), "not in timestamp order: {stamps:?}");
    let tagged = tagged_of(graph.dataset(), &graph.dataset().accounts()[1]);
    let ids = |v: &[Value]| v.iter().map(|p| p["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&all), ids(&tagged));
    let tag_times: Vec<&str> = tagged.iter().map(|p| p["tagged_at"].as_str().unwrap()).collect();
    assert!(tag_times.windows(2).all(|w| w[0] > w[1]), "{tag_times:?}");
    // 20 hours later, one more tag: the same tags (same times) behind it.
    let small = DatasetSpec::small();
    let later = DatasetSpec { now: small.now + chrono::Duration::hours(20), tagged_per_account: 7, ..small };
    let later = fake_graph::Dataset::generate(&later);
    assert_eq!(&tagged_of(&later, &later.accounts()[1])[1..], &tagged[..]);
    let e = get(&graph.url(&format!("/v27.0/{ig}/tags?fields=id,bogus"))).error(400);
    assert_eq!(e["code"], 100);
}
