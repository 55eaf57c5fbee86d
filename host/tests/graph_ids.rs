//! Ids from answers and from the state never steer a request to another node: a path that
//! holds anything but a Graph id (digits) is not sent, and its stream fails with an error
//! naming the offending id; the other streams read on.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan};
use serde_json::{Value, json};

const HOSTILE: &str = "../../../me/accounts?x=";

fn hashtag_state(state: &mut Value) -> &mut Value {
    let list = state.as_array_mut().unwrap();
    let entry = list.iter_mut().find(|m| m["stream"]["stream_descriptor"]["name"] == "hashtag_media").unwrap();
    &mut entry["stream"]["stream_state"]
}

/// A hashtag id in the state that walks up the path is refused: no request leaves for
/// `/me/accounts` beyond the account list, no Page object becomes a `hashtag_media` record.
#[test]
fn a_hostile_hashtag_id_in_the_state_is_refused() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cat = sb.catalog(&["users", "hashtag_media"]);
    let cfg = sb.config(json!({"hashtags": ["sunset"]}));
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let mut state = first.final_state();
    hashtag_state(&mut state)["hashtags"]["sunset"]["id"] = json!(HOSTILE);
    sb.fake.clear_requests();
    let r = sb.read(&cfg, &cat, Some(&state));
    assert_ne!(r.code, 0);
    let e = r.error().unwrap();
    assert_eq!(e["stream_descriptor"]["name"], "hashtag_media", "{e}");
    assert_eq!(e["failure_type"], "system_error", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("where a Graph id belongs") && message.contains("../../../me/accounts"), "{message}");
    assert!(r.records("hashtag_media").is_empty(), "{:?}", r.records("hashtag_media"));
    assert_eq!(r.records("users"), first.records("users"), "the other stream reads on");
    let to_accounts = sb.fake.requests().iter().filter(|q| q.path.ends_with("/me/accounts")).count();
    assert_eq!(to_accounts, 1, "only the account list reaches /me/accounts");
}

/// A media id in Meta's answer that is not digits: its insights request is not sent and
/// `media_insights` fails naming it; `media` keeps its records.
#[test]
fn a_hostile_media_id_in_an_answer_is_refused() {
    let sb0 = Sandbox::start(DatasetSpec::small());
    let account = sb0.dataset().accounts()[0].ig_user_id.clone();
    let page = json!({"data": [{"id": HOSTILE, "media_type": "IMAGE", "media_product_type": "FEED",
                               "timestamp": "2026-10-30T10:00:00+0000"}]});
    // The account list brings no media page when media is asked on its own edge: refuse the
    // expansion (too much data) so the first page comes from the forced answer.
    let faults = FaultPlan::none().force_error(&format!("/{account}/media"), 200, page.to_string());
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { faults, max_expanded_media: Some(0), ..FakeOptions::default() },
    );
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media", "media_insights"]), None);
    assert_ne!(r.code, 0);
    let e = r.error().unwrap();
    assert_eq!(e["stream_descriptor"]["name"], "media_insights", "{e}");
    assert!(e["message"].as_str().unwrap().contains("where a Graph id belongs"), "{e}");
    assert!(!sb.fake.requests().iter().any(|q| q.path.contains("me/accounts/") || q.path.contains("..")));
    assert!(r.records("media").iter().any(|m| m["id"] == HOSTILE), "the media record itself is data");
}
