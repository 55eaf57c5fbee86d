//! Dataset generation, nodes, field selection and expansion, and edge paging.

mod common;

use common::*;
use fake_graph::{Dataset, DatasetSpec, FakeOptions, MediaKind, MediaType};
use serde_json::Value;

const MEDIA_FIELDS: &str = "caption,comments_count,id,ig_id,is_comment_enabled,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username,children";
const CHILD_FIELDS: &str = "id,ig_id,media_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username";

#[test]
fn dataset_is_deterministic() {
    for spec in [DatasetSpec::small(), DatasetSpec::demo(), DatasetSpec::bench()] {
        assert_eq!(Dataset::generate(&spec), Dataset::generate(&spec));
    }
    let other = Dataset::generate(&DatasetSpec { seed: 1, ..DatasetSpec::small() });
    let small = Dataset::generate(&DatasetSpec::small());
    assert_ne!(other.accounts()[0].media[0].like_count, small.accounts()[0].media[0].like_count);
    // Same ids whatever the seed: ids only depend on positions.
    assert_eq!(other.accounts()[0].media[0].id, small.accounts()[0].media[0].id);
}

#[test]
fn small_dataset_covers_every_kind_and_error_case() {
    let ds = Dataset::generate(&DatasetSpec::small());
    assert_eq!(ds.accounts().len(), 2);
    assert_eq!(ds.pages().len(), 3);
    assert_eq!(ds.pages().iter().filter(|p| p.ig_user_id.is_none()).count(), 1);
    assert_eq!(ds.accounts()[0].ig_user_id, "17841400000000001");
    assert_eq!(ds.accounts()[0].page_id, "1000000000001");
    for account in ds.accounts() {
        assert_eq!(account.media.len(), 12);
        assert_eq!(account.stories.len(), 3);
        let kinds: Vec<MediaKind> = account.media.iter().map(|m| m.kind()).collect();
        for kind in [MediaKind::Image, MediaKind::Carousel, MediaKind::Reel, MediaKind::FeedVideo] {
            assert!(kinds.contains(&kind), "{kind:?} missing");
        }
        assert!(account.media.iter().any(|m| m.flags.posted_before_business));
        assert!(account.media.iter().any(|m| m.flags.inaccessible));
        assert!(account.media.iter().any(|m| m.flags.no_permission));
        assert_eq!(account.stories.iter().filter(|s| s.flags.few_viewers).count(), 1);
        // Newest first, within ~2 years before now; stories within 24 h.
        assert!(account.media.windows(2).all(|w| w[0].timestamp > w[1].timestamp));
        let now = ds.now();
        assert!(account.media.iter().all(|m| m.timestamp < now && now - m.timestamp < chrono::Duration::days(731)));
        assert!(account.stories.iter().all(|s| s.timestamp < now && now - s.timestamp < chrono::Duration::hours(24)));
        for carousel in account.media.iter().filter(|m| m.is_carousel()) {
            assert!((2..=10).contains(&carousel.children.len()));
            assert!(carousel.children.iter().all(|c| c.media_type != MediaType::CarouselAlbum));
        }
    }
    assert_eq!(ds.insight_days().len(), 10);
    assert_eq!(ds.insight_days().last().unwrap().to_string(), "2026-10-31");
}

#[test]
fn bench_dataset_counts() {
    let counts = Dataset::generate(&DatasetSpec::bench()).counts();
    assert_eq!(counts.accounts, 2);
    assert_eq!(counts.media, 600);
    assert_eq!(counts.carousel_children, 488);
    assert_eq!(counts.stories, 40);
    assert_eq!(counts.insight_days, 60);
}

#[test]
fn me_accounts_lists_pages_with_and_without_ig() {
    let graph = start_small();
    let body = get(&graph.url("/v24.0/me/accounts?fields=id,instagram_business_account&limit=100")).ok();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["instagram_business_account"]["id"], "17841400000000001");
    assert!(data[1].get("instagram_business_account").is_none(), "page without IG has no key");
    assert_eq!(data[1].as_object().unwrap().len(), 1, "only id: {}", data[1]);
    assert_eq!(data[2]["instagram_business_account"]["id"], "17841400000000002");
    // Single page: cursors present, next absent.
    assert!(body["paging"]["cursors"]["after"].is_string());
    assert!(body["paging"].get("next").is_none());
    // Past the end: empty data, no paging.
    let after = body["paging"]["cursors"]["after"].as_str().unwrap();
    let end = get(&graph.url(&format!("/v24.0/me/accounts?fields=id&after={after}"))).ok();
    assert_eq!(end, serde_json::json!({ "data": [] }));
    // summary=true (the SDK's check path) and the page node with a trailing slash.
    let with_summary = get(&graph.url("/v24.0/me/accounts?summary=true")).ok();
    assert_eq!(with_summary["summary"]["total_count"], 3);
    let page = get(&graph.url("/v24.0/1000000000001/?fields=instagram_business_account")).ok();
    assert_eq!(
        page,
        serde_json::json!({ "id": "1000000000001", "instagram_business_account": { "id": "17841400000000001" } })
    );
}

/// `media.limit(n){…}` on the IG users of `me/accounts` (field expansion) brings each
/// account's first media page exactly as its media edge serves it, with a `paging.next` that
/// leads on down that edge; past `max_expanded_media` objects in one answer, Meta's code 1
/// "Please reduce the amount of data…" (HTTP 500, not marked transient).
#[test]
fn media_expands_on_the_account_list() {
    let graph = start_small();
    let ig = graph.dataset().accounts()[0].ig_user_id.clone();
    let fields = "id,instagram_business_account{id,username,media.limit(5){id,timestamp,children{id}}}";
    let body = get(&graph.url(&format!("/v24.0/me/accounts?fields={fields}"))).ok();
    let user = &body["data"][0]["instagram_business_account"];
    assert_eq!(user["username"], graph.dataset().accounts()[0].username);
    let direct = get(&graph.url(&format!("/v24.0/{ig}/media?fields=id,timestamp,children{{id}}&limit=5"))).ok();
    assert_eq!(user["media"]["data"], direct["data"], "the first page of the edge");
    assert_eq!(user["media"]["data"].as_array().unwrap().len(), 5);
    let next = user["media"]["paging"]["next"].as_str().unwrap();
    assert!(next.contains(&format!("/{ig}/media?")) && next.contains("after="), "{next}");
    assert_eq!(
        get(&graph.local(next)).ok()["data"],
        get(&graph.local(direct["paging"]["next"].as_str().unwrap())).ok()["data"]
    );
    // The page without an Instagram account has none; no `media` asked, none sent.
    assert!(body["data"][1].get("instagram_business_account").is_none());
    let plain = get(&graph.url("/v24.0/me/accounts?fields=id,instagram_business_account{id}")).ok();
    assert!(plain["data"][0]["instagram_business_account"].get("media").is_none());

    // Two accounts × 5 posts (and their children) are more than 6 media objects.
    let small = start(DatasetSpec::small(), FakeOptions { max_expanded_media: Some(6), ..FakeOptions::default() });
    let err = get(&small.url(&format!("/v24.0/me/accounts?fields={fields}"))).error(500);
    assert_eq!(err["code"], 1);
    assert!(err["message"].as_str().unwrap().starts_with("Please reduce the amount of data"), "{err}");
    assert!(err.get("is_transient").is_none());
    let one = "id,instagram_business_account{id,media.limit(1){id}}";
    assert_eq!(get(&small.url(&format!("/v24.0/me/accounts?fields={one}"))).ok()["data"].as_array().unwrap().len(), 3);
}

#[test]
fn paging_follows_next_to_exhaustion_without_extra_request() {
    let graph = start_small();
    let ig = &graph.dataset().accounts()[0].ig_user_id.clone();
    let expected: Vec<String> = graph.dataset().accounts()[0].media.iter().map(|m| m.id.clone()).collect();
    let mut url = graph.url(&format!("/v24.0/{ig}/media?fields=id,timestamp&limit=5"));
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let body = get(&url).ok();
        pages += 1;
        ids.extend(body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()));
        assert!(body["paging"]["cursors"]["before"].is_string() && body["paging"]["cursors"]["after"].is_string());
        match body["paging"].get("next").and_then(Value::as_str) {
            Some(next) => {
                assert!(!next.contains("access_token"), "token sent by header must not leak into next: {next}");
                // On Meta's public origin, as Meta writes them whatever origin was asked.
                assert!(next.starts_with("https://graph.facebook.com/v24.0/"), "{next}");
                url = graph.local(next);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, expected);
    assert_eq!(graph.requests().len(), 3, "no extra request");
    assert!(graph.requests().iter().all(|r| r.status == 200));
}

#[test]
fn next_keeps_query_token_and_previous_links_back() {
    let graph = start_small();
    let first = get_plain(&graph.url(&format!("/v24.0/me/accounts?access_token={TOKEN}&limit=1"))).ok();
    let next = first["paging"]["next"].as_str().unwrap();
    assert!(next.contains(&format!("access_token={TOKEN}")));
    assert!(first["paging"].get("previous").is_none());
    let second = get_plain(&graph.local(next)).ok();
    assert_eq!(second["data"][0]["id"], "1000000000002");
    let previous = get_plain(&graph.local(second["paging"]["previous"].as_str().unwrap())).ok();
    assert_eq!(previous["data"][0]["id"], "1000000000001");
}

#[test]
fn limit_is_capped() {
    let graph = start(DatasetSpec::small(), FakeOptions { page_size_cap: 4, ..FakeOptions::default() });
    let ig = graph.dataset().accounts()[0].ig_user_id.clone();
    let body = get(&graph.url(&format!("/v24.0/{ig}/media?limit=100"))).ok();
    assert_eq!(body["data"].as_array().unwrap().len(), 4);
    let default = start_small();
    let body = get(&default.url(&format!("/v24.0/{ig}/media"))).ok();
    assert_eq!(body["data"].as_array().unwrap().len(), 12, "default limit 25 covers all 12");
}

#[test]
fn field_selection_returns_only_requested_fields_plus_id() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[0];
    let user = get(&graph.url(&format!("/v24.0/{}?fields=username,media_count", account.ig_user_id))).ok();
    assert_eq!(user, serde_json::json!({ "id": account.ig_user_id, "username": account.username, "media_count": 12 }));
    let full = get(&graph.url(&format!(
        "/v24.0/{}?fields=id,biography,ig_id,followers_count,follows_count,media_count,name,profile_picture_url,username,website",
        account.ig_user_id
    )))
    .ok();
    assert!(full["ig_id"].is_u64(), "ig_id is an integer on users");
    let picture = full["profile_picture_url"].as_str().unwrap();
    assert!(picture.contains("&ccb="), "volatile ccb param present: {picture}");
    assert_eq!(strip_param(picture, "ccb"), account.profile_picture_url);

    let media = get(&graph.url(&format!("/v24.0/{}/media?fields=id,caption&limit=100", account.ig_user_id))).ok();
    for (item, expected) in media["data"].as_array().unwrap().iter().zip(&account.media) {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        match &expected.caption {
            Some(caption) => {
                assert_eq!(item["caption"], caption.as_str());
                assert_eq!(keys.len(), 2);
            }
            None => assert_eq!(keys, ["id"], "null caption is omitted"),
        }
    }
    let no_fields = get(&graph.url(&format!("/v24.0/{}", account.media[0].id))).ok();
    assert_eq!(no_fields, serde_json::json!({ "id": account.media[0].id }));
    let unknown = get(&graph.url(&format!("/v24.0/{}?fields=id,bogus", account.media[0].id))).error(400);
    assert_eq!(unknown["code"], 100);
    assert!(unknown["message"].as_str().unwrap().contains("nonexisting field (bogus)"));
}

#[test]
fn media_fields_match_the_dataset() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[1];
    let body = get(&graph.url(&format!("/v24.0/{}/media?fields={MEDIA_FIELDS}&limit=100", account.ig_user_id))).ok();
    let items = body["data"].as_array().unwrap();
    assert_eq!(items.len(), account.media.len());
    for (item, media) in items.iter().zip(&account.media) {
        assert_eq!(item["id"], media.id.as_str());
        assert_eq!(item["media_type"], media.media_type.as_str());
        assert_eq!(item["media_product_type"], media.product_type.as_str());
        assert_eq!(item["owner"], serde_json::json!({ "id": account.ig_user_id }));
        assert_eq!(item["timestamp"], media.timestamp_graph());
        assert!(item["timestamp"].as_str().unwrap().ends_with("+0000"));
        assert!(item["ig_id"].is_string());
        let url = item["media_url"].as_str().unwrap();
        assert!(url.contains("&_nc_rid="), "volatile _nc_rid present: {url}");
        assert_eq!(strip_param(url, "_nc_rid"), media.media_url);
        assert_eq!(item.get("thumbnail_url").is_some(), media.media_type == MediaType::Video);
        if media.is_carousel() {
            let children: Vec<&str> =
                item["children"]["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
            let expected: Vec<&str> = media.children.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(children, expected);
        } else {
            assert!(item.get("children").is_none());
        }
    }
}

#[test]
fn children_expansion_and_child_nodes() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[0];
    let carousel = account.media.iter().find(|m| m.is_carousel()).unwrap();
    let body = get(&graph
        .url(&format!("/v24.0/{}?fields=id,media_type,children{{id,media_type,media_url,timestamp}}", carousel.id)))
    .ok();
    let children = body["children"]["data"].as_array().unwrap();
    assert_eq!(children.len(), carousel.children.len());
    for (child, expected) in children.iter().zip(&carousel.children) {
        assert_eq!(child["id"], expected.id.as_str());
        assert_eq!(child["media_type"], expected.media_type.as_str());
        assert!(child["media_url"].is_string());
        assert_eq!(child.as_object().unwrap().len(), 4);
    }
    // The connector's per-child request.
    let child = &carousel.children[0];
    let node = get(&graph.url(&format!("/v24.0/{}?fields={CHILD_FIELDS}", child.id))).ok();
    assert_eq!(node["id"], child.id.as_str());
    assert_eq!(node["owner"]["id"], account.ig_user_id.as_str());
    assert!(node.get("caption").is_none() && node.get("like_count").is_none());
    // The children edge.
    let edge = get(&graph.url(&format!("/v24.0/{}/children?fields=id", carousel.id))).ok();
    assert_eq!(edge["data"].as_array().unwrap().len(), carousel.children.len());
    // Expansion on a non-carousel: no children key.
    let image = account.media.iter().find(|m| m.kind() == MediaKind::Image).unwrap();
    let body = get(&graph.url(&format!("/v24.0/{}?fields=id,children{{id}}", image.id))).ok();
    assert!(body.get("children").is_none());
}

#[test]
fn stories_edge() {
    let graph = start_small();
    let account = &graph.dataset().accounts()[0];
    let body = get(&graph.url(&format!(
        "/v24.0/{}/stories?fields=caption,id,ig_id,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username&limit=100",
        account.ig_user_id
    )))
    .ok();
    let items = body["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for (item, story) in items.iter().zip(&account.stories) {
        assert_eq!(item["id"], story.id.as_str());
        assert_eq!(item["media_product_type"], "STORY");
        assert!(item.get("caption").is_none());
    }
}

#[test]
fn paths_versions_and_unknown_objects() {
    let graph = start_small();
    assert_eq!(get(&graph.url("/v21.0/me")).status, 200);
    assert_eq!(get(&graph.url("/v26.0/me/accounts/")).status, 200);
    assert_eq!(get(&graph.url("/me/accounts")).status, 200, "unversioned uses the latest version");
    let old = get(&graph.url("/v20.0/me/accounts")).error(400);
    assert_eq!(old["code"], 2635);
    let missing = get(&graph.url("/v24.0/123456789")).error(400);
    assert_eq!((missing["code"].as_i64(), missing["error_subcode"].as_i64()), (Some(100), Some(33)));
    assert!(missing["message"].as_str().unwrap().starts_with("Unsupported get request. Object with ID '123456789'"));
    let bad_edge = get(&graph.url("/v24.0/17841400000000001/comments")).error(400);
    assert_eq!(bad_edge["error_subcode"], 33);
}

/// Removes `name=...` from a URL's query, keeping the other parameters in order.
fn strip_param(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with(&format!("{name}="))).collect();
    format!("{base}?{}", kept.join("&"))
}
