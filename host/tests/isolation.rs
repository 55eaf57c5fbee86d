//! Stream isolation, end to end: a stream that fails for good stops only itself (and the
//! streams that read its objects); every other stream's records and final state equal a clean
//! read; the read exits non-zero with a TRACE ERROR for each failed stream and one naming them
//! all. A failure that concerns every stream (a rejected token) still ends the read at once.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan, GraphError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A refusal no policy can work around (no metric named, not transient, not "no insights").
const REFUSAL: &str = r#"{"error":{"message":"(#100) Tried accessing nonexisting field (oops)","type":"OAuthException","code":100,"fbtrace_id":"AbC"}}"#;

fn trace_errors(r: &Run) -> Vec<&Value> {
    r.of_type("TRACE").into_iter().filter(|t| t["trace"]["type"] == "ERROR").map(|t| &t["trace"]["error"]).collect()
}

/// The last status of each stream.
fn statuses(r: &Run) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in r.of_type("TRACE") {
        if let Some(name) = t["trace"]["stream_status"]["stream_descriptor"]["name"].as_str() {
            out.insert(name.to_string(), t["trace"]["stream_status"]["status"].as_str().unwrap().to_string());
        }
    }
    out
}

/// The final STATE of `stream`, if any.
fn state_of(r: &Run, stream: &str) -> Option<Value> {
    r.final_state()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"]["stream_descriptor"]["name"] == stream)
        .map(|s| s["stream"]["stream_state"].clone())
}

/// Every stream but `failed` has the clean read's records and final state, and is COMPLETE;
/// each of `failed` is INCOMPLETE with its own TRACE ERROR; the read ends with an error naming
/// them all.
fn assert_isolated(r: &Run, clean: &Run, failed: &[&str]) {
    assert_ne!(r.code, 0, "{}", r.stdout);
    let status = statuses(r);
    for stream in ALL_STREAMS {
        if failed.contains(stream) {
            assert_eq!(status[*stream], "INCOMPLETE", "{stream}");
            continue;
        }
        assert_eq!(status[*stream], "COMPLETE", "{stream}: {}", r.stdout);
        assert_eq!(r.records(stream), clean.records(stream), "{stream}'s records equal a clean read's");
        assert_eq!(state_of(r, stream), state_of(clean, stream), "{stream}'s final state equals a clean read's");
    }
    let errors = trace_errors(r);
    let per_stream: Vec<&str> = errors.iter().filter_map(|e| e["stream_descriptor"]["name"].as_str()).collect();
    assert_eq!(per_stream, failed, "one TRACE ERROR per failed stream: {errors:#?}");
    let last = errors.last().unwrap();
    assert!(last.get("stream_descriptor").is_none(), "the read's own error names no single stream: {last}");
    for stream in failed {
        assert!(last["message"].as_str().unwrap().contains(stream), "{last}");
    }
}

/// The stories edge fails for good: `stories` and `story_insights` (which reads the stories'
/// insights) stop; every other stream reads to the end as in a clean read.
#[test]
fn a_failing_edge_stops_its_family_only() {
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    assert_eq!(baseline.code, 0, "{}", baseline.stdout);

    let mut faults = FaultPlan::none();
    for a in clean.dataset().accounts() {
        faults = faults.force_error(&format!("/{}/stories", a.ig_user_id), 400, REFUSAL);
    }
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_isolated(&r, &baseline, &["stories", "story_insights"]);
    let errors = trace_errors(&r);
    assert_eq!(errors[0]["failure_type"], "system_error");
    assert!(errors[0]["message"].as_str().unwrap().contains("nonexisting field"), "{}", errors[0]);
    assert!(
        errors[1]["message"].as_str().unwrap().contains("stopped because `stories`"),
        "the child says why it stopped: {}",
        errors[1]
    );
}

/// One post's insights fail for good: `media_insights` stops (keeping its last good
/// checkpoint) while `media`, from the same walk, and every other stream read to the end.
#[test]
fn a_failing_child_stream_leaves_its_edge_reading() {
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    assert_eq!(baseline.code, 0, "{}", baseline.stdout);

    // The oldest post of the last account with insights: among the last asked.
    let account = clean.dataset().accounts().last().unwrap();
    let with_insights = |id: &str| baseline.records("media_insights").iter().any(|r| r["id"] == id);
    let post = account.media.iter().filter(|m| with_insights(&m.id)).min_by_key(|m| m.timestamp).unwrap();
    let faults = FaultPlan::none().force_error(&format!("/{}/insights", post.id), 400, REFUSAL);
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_isolated(&r, &baseline, &["media_insights"]);
    // Its records up to the failure are a subset of a clean read's, none of the failed post.
    let got = r.records("media_insights");
    assert!(got.len() < baseline.records("media_insights").len());
    assert!(got.iter().all(|rec| rec["id"] != post.id.as_str()));
    assert!(got.iter().all(|rec| baseline.records("media_insights").contains(rec)));
}

/// `media_comments` rides on the media walk. With `media` not selected, a post whose insights
/// fail for good stops `media_insights` only: the comments read to the end (records and final
/// state of a clean read). A failure of the walk itself (a later media page) stops both.
#[test]
fn comments_and_insights_fail_apart_without_media() {
    let streams = ["users", "media_insights", "media_comments"];
    let options = || FakeOptions { page_size_cap: 5, ..FakeOptions::default() };
    let clean = Sandbox::start_with(DatasetSpec::small(), options());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(&streams), None);
    assert_eq!(baseline.code, 0, "{}", baseline.stdout);

    let account = clean.dataset().accounts().last().unwrap();
    let with_insights = |id: &str| baseline.records("media_insights").iter().any(|r| r["id"] == id);
    let post = account.media.iter().filter(|m| with_insights(&m.id)).min_by_key(|m| m.timestamp).unwrap();
    let faults = FaultPlan::none().force_error(&format!("/{}/insights", post.id), 400, REFUSAL);
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..options() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&streams), None);
    assert_ne!(r.code, 0);
    let status = statuses(&r);
    assert_eq!(status["media_insights"], "INCOMPLETE");
    for stream in ["users", "media_comments"] {
        assert_eq!(status[stream], "COMPLETE", "{stream}: {}", r.stdout);
        assert_eq!(r.records(stream), baseline.records(stream), "{stream}");
        assert_eq!(state_of(&r, stream), state_of(&baseline, stream), "{stream}");
    }
    let per_stream: Vec<&str> =
        trace_errors(&r).iter().filter_map(|e| e["stream_descriptor"]["name"].as_str()).collect();
    assert_eq!(per_stream, ["media_insights"]);

    // The second media page of the first account fails for good: the walk is the edge of both.
    let first = &clean.dataset().accounts()[0].ig_user_id;
    let faults = FaultPlan::none().force_error(&format!("/{first}/media"), 400, REFUSAL);
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..options() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&streams), None);
    assert_ne!(r.code, 0);
    let status = statuses(&r);
    assert_eq!((status["media_insights"].as_str(), status["media_comments"].as_str()), ("INCOMPLETE", "INCOMPLETE"));
    assert_eq!(status["users"], "COMPLETE");
    let errors = trace_errors(&r);
    assert!(errors[1]["message"].as_str().unwrap().contains("stopped because `media`"), "{errors:#?}");
}

/// A rejected token on a stream's request concerns every stream: the read ends at once with
/// one config_error, every stream INCOMPLETE.
#[test]
fn a_rejected_token_still_ends_the_read() {
    let sb0 = Sandbox::start(DatasetSpec::small());
    let account = &sb0.dataset().accounts()[0];
    let token = r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
    let faults = FaultPlan::none().force_error(&format!("/{}/stories", account.ig_user_id), 400, token);
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_ne!(r.code, 0);
    let errors = trace_errors(&r);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["failure_type"], "config_error");
    assert!(statuses(&r).values().all(|s| s == "INCOMPLETE"), "{:?}", statuses(&r));
}

/// "Unknown path components" shares code 2500 with the missing-token error but is no token
/// problem: its stream fails as a system_error naming it, and the other streams read on.
#[test]
fn unknown_path_components_are_not_a_token_error() {
    let clean = Sandbox::start(DatasetSpec::small());
    let baseline = clean.read(&clean.config(json!({})), &clean.catalog(ALL_STREAMS), None);
    let mut faults = FaultPlan::none();
    for a in clean.dataset().accounts() {
        let rest = vec!["tags".to_string(), "x".to_string()];
        faults =
            faults.force_graph_error(&format!("/{}/tags", a.ig_user_id), &GraphError::unknown_path_components(&rest));
    }
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(json!({})), &sb.catalog(ALL_STREAMS), None);
    assert_isolated(&r, &baseline, &["tagged_media"]);
    let e = trace_errors(&r)[0];
    assert_eq!(e["failure_type"], "system_error", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("Unknown path components") && !message.contains("access token"), "{message}");
}
