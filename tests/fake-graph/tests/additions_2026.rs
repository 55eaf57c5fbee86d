//! What Meta added in 2025–2026, as the fake serves it over HTTP: the new media and story
//! metrics per media product type, the crossposted metrics refused for media not shared to
//! Facebook, profile activity by action, what graph.instagram.com refuses (Facebook-Login-only
//! metrics and fields), the new media and user fields, and competitor reel views.

mod common;

use common::*;
use fake_graph::insights::{PROFILE_ACTIVITY_ACTIONS, media_metric_value, profile_activity_parts};
use fake_graph::{DatasetSpec, FakeOptions, Login, MediaKind, NavigationCase, Quirks};
use serde_json::{Value, json};

fn media_of(graph: &fake_graph::FakeGraph, kind: MediaKind, shared: bool) -> fake_graph::Media {
    let ds = graph.dataset();
    ds.all_media()
        .chain(ds.all_stories())
        .find(|m| m.kind() == kind && !m.flags.any() && m.extras.shared_to_facebook == shared)
        .unwrap_or_else(|| panic!("a {kind:?} with shared_to_facebook = {shared}"))
        .clone()
}

fn insights(graph: &fake_graph::FakeGraph, id: &str, query: &str) -> Reply {
    get(&graph.url(&format!("/v27.0/{id}/insights?{query}")))
}

/// Reels, feed posts and stories serve the new metrics of their product type; a crossposted
/// metric of media not shared to Facebook is refused naming it (code 100), and served for
/// media shared to Facebook (crossposted views = Instagram views + Facebook views).
#[test]
fn new_metrics_per_product_type_and_the_crossposted_refusal() {
    let graph = start(DatasetSpec { media_per_account: 40, ..DatasetSpec::small() }, FakeOptions::default());
    let ds = graph.dataset();
    let reel = media_of(&graph, MediaKind::Reel, true);
    let body = insights(&graph, &reel.id, "metric=views,facebook_views,crossposted_views,reposts,total_views").ok();
    let value = |i: usize| body["data"][i]["values"][0]["value"].as_u64().unwrap();
    assert_eq!(value(2), value(0) + value(1), "crossposted = IG + FB views");
    assert!(value(4) >= value(0) + value(1), "total views include the crosspost");
    let unshared = media_of(&graph, MediaKind::Reel, false);
    let e = insights(&graph, &unshared.id, "metric=reach,crossposted_views,facebook_views").error(400);
    assert_eq!(e["code"], 100);
    assert!(e.get("error_subcode").is_none());
    assert!(e["message"].as_str().unwrap().contains("crossposted_views"), "{e}");
    assert_eq!(media_metric_value(ds, &unshared, "facebook_views"), None);
    // Reels have no profile activity; feed posts and stories have it, and link clicks are
    // stories' only.
    let e = insights(&graph, &reel.id, "metric=profile_activity").error(400);
    assert!(e["message"].as_str().unwrap().contains("for this media product type"), "{e}");
    let image = media_of(&graph, MediaKind::Image, false);
    assert_eq!(insights(&graph, &image.id, "metric=reposts,profile_activity,total_likes,total_comments").status, 200);
    assert_eq!(insights(&graph, &image.id, "metric=link_clicks").status, 400);
    let story = media_of(&graph, MediaKind::Story, false);
    let body = insights(&graph, &story.id, "metric=link_clicks,total_views,reposts").ok();
    assert_eq!(body["data"][0]["values"][0]["value"], media_metric_value(ds, &story, "link_clicks").unwrap());
}

/// `profile_activity` by `action_type`: Meta's six actions, adding up to the metric, upper
/// case as the docs spell them or lower case as a capture shows; asked with another metric,
/// or for another metric, code 1.
#[test]
fn profile_activity_by_action_type() {
    for (case, upper) in [(NavigationCase::Upper, true), (NavigationCase::Lower, false)] {
        let quirks = Quirks { profile_activity_case: case, ..Quirks::default() };
        let graph = start(DatasetSpec::small(), FakeOptions { quirks, ..FakeOptions::default() });
        let ds = graph.dataset();
        let image = media_of(&graph, MediaKind::Image, ds.accounts()[0].media[0].extras.shared_to_facebook);
        let body = insights(&graph, &image.id, "metric=profile_activity&breakdown=action_type").ok();
        let results = body["data"][0]["total_value"]["breakdowns"][0]["results"].as_array().unwrap().clone();
        let want: Vec<Value> = PROFILE_ACTIVITY_ACTIONS
            .iter()
            .zip(profile_activity_parts(ds, &image))
            .map(|(a, v)| {
                let a = if upper { a.to_string() } else { a.to_ascii_lowercase() };
                json!({"dimension_values": [a], "value": v})
            })
            .collect();
        assert_eq!(results, want);
        let sum: u64 = profile_activity_parts(ds, &image).iter().sum();
        assert_eq!(body["data"][0]["total_value"]["value"], json!(sum));
        let e = insights(&graph, &image.id, "metric=profile_activity,reach&breakdown=action_type").error(500);
        assert_eq!(e["code"], 1);
    }
}

/// As graph.instagram.com (Instagram Login), the Facebook-Login-only metrics are names it
/// does not know, and the Facebook-Login-only media and user fields nonexisting fields; the
/// rest is served as on graph.facebook.com.
#[test]
fn instagram_login_refuses_what_facebook_login_alone_gets() {
    let graph = start(DatasetSpec::small(), FakeOptions { login: Login::Instagram, ..FakeOptions::default() });
    let account = &graph.dataset().accounts()[0];
    let story = account.stories.iter().find(|s| !s.flags.any()).unwrap();
    let e = insights(&graph, &story.id, "metric=reach,link_clicks").error(400);
    assert!(e["message"].as_str().unwrap().starts_with("(#100) metric[1] must be one of"), "{e}");
    assert!(!e["message"].as_str().unwrap().contains("total_views"), "{e}");
    assert_eq!(insights(&graph, &story.id, "metric=reach,reposts").status, 200);
    for field in ["saved_count", "collaborators{id}", "media_audio_type"] {
        let e = get(&graph.url(&format!("/v27.0/{}/media?fields=id,{field}", account.ig_user_id))).error(400);
        assert!(e["message"].as_str().unwrap().contains("nonexisting field"), "{field}: {e}");
    }
    let ok = get(&graph.url(&format!("/v27.0/{}/media?fields=id,is_ai_generated,alt_text", account.ig_user_id))).ok();
    assert!(ok["data"][0]["is_ai_generated"].is_boolean());
    let e = get(&graph.url(&format!("/v27.0/{}?fields=id,is_published", account.ig_user_id))).error(400);
    assert!(e["message"].as_str().unwrap().contains("(is_published) on node type (IGUser)"), "{e}");
    let facebook = start_small();
    let account = &facebook.dataset().accounts()[0];
    let user =
        get(&facebook.url(&format!("/v27.0/{}?fields=id,has_profile_pic,is_published", account.ig_user_id))).ok();
    assert_eq!(user["has_profile_pic"], json!(account.has_profile_pic()));
}

/// The media fields of 2025–2026 on graph.facebook.com: counts equal to the insight values,
/// collaborators as Meta's edge lists them (empty for posts without), the AI label, alt text
/// of images, the audio of videos.
#[test]
fn new_media_fields() {
    let graph = start_small();
    let ds = graph.dataset();
    let account = &ds.accounts()[0];
    let fields = "id,saved_count,shares_count,reposts_count,total_like_count,total_comments_count,total_views_count,collaborators{id,username,invite_status},is_ai_generated,alt_text,media_audio_type";
    let page = get(&graph.url(&format!("/v27.0/{}/media?fields={fields}&limit=100", account.ig_user_id))).ok();
    for (item, m) in page["data"].as_array().unwrap().iter().zip(&account.media) {
        assert_eq!(item["id"], m.id.as_str());
        for (field, metric) in
            [("saved_count", "saved"), ("total_like_count", "total_likes"), ("total_views_count", "total_views")]
        {
            assert_eq!(item.get(field).cloned(), media_metric_value(ds, m, metric), "{field}");
        }
        let collaborators = item["collaborators"]["data"].as_array().unwrap();
        assert_eq!(collaborators.len(), m.extras.collaborators.len());
        assert!(collaborators.iter().all(|c| c["invite_status"].is_string() && c["username"].is_string()));
        assert_eq!(item.get("alt_text").is_some(), m.extras.alt_text.is_some());
        assert_eq!(item.get("media_audio_type").is_some(), matches!(m.kind(), MediaKind::Reel | MediaKind::FeedVideo));
    }
}

/// Business discovery serves `view_count` for competitor reels only.
#[test]
fn competitor_reels_have_a_view_count() {
    let graph = start_small();
    let c = &graph.dataset().public().competitors[0];
    let fields =
        format!("business_discovery.username({}){{media.limit(10){{id,media_product_type,view_count}}}}", c.username);
    let me = &graph.dataset().accounts()[0].ig_user_id;
    let body = get(&graph.url(&format!("/v27.0/{me}?fields={fields}"))).ok();
    let media = body["business_discovery"]["media"]["data"].as_array().unwrap();
    assert!(media.iter().any(|m| m["media_product_type"] == "REELS"));
    for m in media {
        assert_eq!(m["view_count"].is_u64(), m["media_product_type"] == "REELS", "{m}");
    }
}
