//! Business discovery and hashtag search over HTTP, as Meta documents them: the discovery
//! field with its paging and its error for unknown users, hashtag search with the 30/7-day
//! budget error, `user_id` required on hashtag edges, recent media limited to 24 h, and the
//! platform rate limit (code 17, `X-App-Usage`, no business use-case header).

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, UsageHeaders};
use serde_json::Value;

const IG: &str = "17841400000000001";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn business_discovery_profile_paging_and_unknown_user() {
    let graph = start_small();
    let fields = "business_discovery.username(summit_gear){id,username,followers_count,media_count,media.limit(50){id,like_count,timestamp}}";
    let body = get(&graph.url(&format!("/v24.0/{IG}?fields={}", enc(fields)))).ok();
    let bd = &body["business_discovery"];
    let c = graph.dataset().public().competitor("summit_gear").unwrap().clone();
    assert_eq!(bd["followers_count"], c.followers_count);
    assert_eq!(bd["media_count"], 130);
    assert_eq!(bd["media"]["data"].as_array().unwrap().len(), 50);
    assert!(bd["media"]["paging"]["next"].is_null(), "paging inside discovery is by cursor only");
    let after = bd["media"]["paging"]["cursors"]["after"].as_str().unwrap();
    let fields = format!("business_discovery.username(summit_gear){{media.after({after}).limit(100){{id}}}}");
    let page2 = get(&graph.url(&format!("/v24.0/{IG}?fields={}", enc(&fields)))).ok();
    let ids: Vec<&str> = page2["business_discovery"]["media"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 80);
    assert_eq!(ids[0], c.media[50].id);

    let unknown =
        get(&graph.url(&format!("/v24.0/{IG}?fields={}", enc("business_discovery.username(nobody_here){id}"))));
    let e = unknown.error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(110), Some(2207013)));
    assert!(e["error_user_msg"].as_str().unwrap().contains("nobody_here"));
}

#[test]
fn hashtag_search_edges_and_budget() {
    let graph = start_small();
    let now = graph.dataset().now();
    let tag = graph.dataset().public().hashtag_named("sunset").unwrap().clone();
    let found = get(&graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=sunset"))).ok();
    assert_eq!(found["data"][0]["id"], tag.id.as_str());
    let none = get(&graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=nosuchtag"))).ok();
    assert_eq!(none["data"], Value::Array(vec![]));
    let missing_user = get(&graph.url(&format!("/v24.0/{}/recent_media?fields=id", tag.id)));
    assert_eq!(missing_user.error(400)["code"], 100);
    let recent =
        get(&graph.url(&format!("/v24.0/{}/recent_media?user_id={IG}&fields=id,timestamp&limit=50", tag.id))).ok();
    let got: Vec<&str> = recent["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = tag.recent_media(now).iter().map(|m| m.id.as_str()).collect();
    assert_eq!(got, want);
    assert!(got.len() < tag.media.len(), "older posts are not recent");
    assert!(recent["data"][0].get("username").is_none(), "hashtag media carry no owner");
    // 28 more unique hashtags fit (30 with sunset and nosuchtag), the next one does not; a
    // hashtag already searched is free.
    for i in 1..=28 {
        get(&graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=tag{i:02}"))).ok();
    }
    let over = get(&graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=tag29")));
    let e = over.error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(24), Some(2207034)));
    get(&graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=sunset"))).ok();
    assert_eq!(graph.searched_hashtags(IG).len(), 30);
}

#[test]
fn platform_rate_limit() {
    let options =
        FakeOptions { platform_calls_per_hour: 2, usage_headers: UsageHeaders::both(), ..FakeOptions::default() };
    let graph = start(DatasetSpec::small(), options);
    let url = graph.url(&format!("/v24.0/ig_hashtag_search?user_id={IG}&q=coffee"));
    let first = get(&url);
    assert_eq!(first.header_json("x-app-usage")["call_count"], 50);
    assert!(first.header("x-business-use-case-usage").is_none(), "not a business use-case call");
    get(&url).ok();
    let third = get(&url);
    assert_eq!(third.error(400)["code"], 17);
    // The account's own calls are not held back by the platform limit.
    get(&graph.url(&format!("/v24.0/{IG}/media?fields=id"))).ok();
}
