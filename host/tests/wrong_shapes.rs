//! Answers of the wrong shape are errors or named warnings, never an empty success: a
//! business discovery `media` without its `data` array fails `competitor_media` (the profile
//! is still read); an insights answer without `data` fails `user_insights`, naming the account.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan};
use serde_json::json;

#[test]
fn a_wrong_shaped_discovery_media_fails_competitor_media() {
    let sb0 = Sandbox::start(DatasetSpec::small());
    let account = sb0.dataset().accounts()[0].ig_user_id.clone();
    let answer = json!({"business_discovery": {"id": "17841499999999999", "username": "rival_roasters",
        "followers_count": 10, "media_count": 3, "media": {"items": [{"id": "1"}]}}, "id": account});
    let faults = FaultPlan::none().force_error(&format!("/{account}"), 200, answer.to_string());
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let cfg = sb.config(json!({"competitor_usernames": ["rival_roasters"]}));
    let r = sb.read(&cfg, &sb.catalog(&["competitor_profiles", "competitor_media"]), None);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let e = r.error().unwrap();
    assert_eq!(e["stream_descriptor"]["name"], "competitor_media", "{e}");
    assert_eq!(e["failure_type"], "system_error");
    assert!(e["message"].as_str().unwrap().contains("`media` of @rival_roasters without a `data` array"), "{e}");
    assert_eq!(r.records("competitor_profiles").len(), 1, "the profile is still read");
    assert!(r.records("competitor_media").is_empty());
}

#[test]
fn an_insights_answer_without_data_fails_user_insights() {
    let sb0 = Sandbox::start(DatasetSpec::small());
    let account = sb0.dataset().accounts()[0].ig_user_id.clone();
    let faults = FaultPlan::none().force_error(&format!("/{account}/insights"), 200, r#"{"result":[]}"#);
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users", "user_insights"]), None);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let e = r.error().unwrap();
    assert_eq!(e["stream_descriptor"]["name"], "user_insights", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains(&format!("account insights of {account} without a `data` array")),
        "{e}"
    );
    assert_eq!(r.records("users").len(), 2, "the other stream reads on");
}
