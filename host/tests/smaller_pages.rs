//! Meta's code 1 "Please reduce the amount of data you're asking for" on any paged request
//! (media, comments and their expansions, tags, business discovery, hashtag media): the
//! connector asks again with smaller pages, down to one item, and loses nothing.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan, GraphError};
use serde_json::Value;

/// Every stream, public ones included.
fn every_stream() -> Vec<&'static str> {
    ALL_STREAMS.iter().chain(PUBLIC_STREAMS).copied().collect()
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// Each stream's records (sorted) and final state equal the clean read's.
fn assert_same_data(r: &Run, clean: &Run) {
    assert_eq!(r.code, 0, "{}", r.stdout);
    for stream in every_stream() {
        let got = sorted(r.records(stream).into_iter().cloned().collect());
        let want = sorted(clean.records(stream).into_iter().cloned().collect());
        assert!(!want.is_empty() || stream == "stories", "{stream} has records in the clean read");
        assert_eq!(got.len(), want.len(), "{stream}");
        assert_eq!(got, want, "{stream}");
    }
    // Each stream's last state (its `sourceStats` count the records since the checkpoint
    // before, which depends on page sizes). The hashtag state notes when each search ran: both
    // reads run at the dataset's "now".
    let states = |run: &Run| -> Vec<Value> {
        run.final_state().as_array().unwrap().iter().map(|s| s["stream"].clone()).collect()
    };
    assert_eq!(states(r), states(clean));
}

fn clean_read() -> (Sandbox, Run) {
    let clean = Sandbox::start(DatasetSpec::small());
    let r = clean.read(&clean.config(public_lists()), &clean.catalog(&every_stream()), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    (clean, r)
}

/// An answer may hold at most 12 objects (items of `data` arrays at any depth): every paged
/// request of every stream is refused with code 1 until its pages are small enough.
#[test]
fn answers_too_large_are_asked_again_smaller() {
    let (_clean, baseline) = clean_read();
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { max_answer_objects: Some(12), ..FakeOptions::default() },
    );
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&every_stream()), None);
    assert_same_data(&r, &baseline);
    let refused: Vec<String> = sb.fake.requests().into_iter().filter(|q| q.status == 500).map(|q| q.path).collect();
    // Media pages and comment expansions (`/media`) and business discovery (the IG user
    // node) are GETs; refused operations inside batches (tags, hashtag media) are asked again
    // as GETs.
    let account = &sb.dataset().accounts()[0].ig_user_id;
    assert!(refused.iter().any(|p| p.ends_with("/media")), "{refused:?}");
    assert!(refused.iter().any(|p| p.ends_with(account.as_str())), "{refused:?}");
    assert!(r.logs().iter().any(|l| l.contains("asking again with smaller pages")), "{:?}", r.logs());
    // A carousel of ten with its first comment and reply is too much even at one post a page:
    // the media walk goes on without the comments, which are read on their own edges.
    assert!(r.logs().iter().any(|l| l.contains("reading it without the comments")), "{:?}", r.logs());
    assert!(sb.calls().iter().any(|c| c.split('?').next().unwrap().ends_with("/comments")));
}

/// With code 1 among the injected faults (a share of the calls asking several items, inside
/// batches too), the read equals a clean read.
#[test]
fn code_1_among_injected_faults_loses_nothing() {
    let (_clean, baseline) = clean_read();
    let faults = FaultPlan::reduce_data(0.3, 5).combine(FaultPlan::transient(0.02, 6));
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&every_stream()), None);
    assert_same_data(&r, &baseline);
}

/// A request with no page size left to halve (a hashtag search) that Meta still finds too
/// large: that stream fails with a clear error naming the refusal; the others read to the end.
#[test]
fn nothing_left_to_shrink_fails_only_its_stream() {
    let (_clean, baseline) = clean_read();
    let faults = FaultPlan::none().force_graph_error("/ig_hashtag_search", &GraphError::reduce_data());
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { faults, ..FakeOptions::default() });
    let r = sb.read(&sb.config(public_lists()), &sb.catalog(&["users", "media", "hashtag_media"]), None);
    assert_ne!(r.code, 0);
    let e = r.error().unwrap();
    assert_eq!(e["stream_descriptor"]["name"], "hashtag_media", "{e}");
    assert!(e["message"].as_str().unwrap().contains("too much data"), "{e}");
    assert_eq!(r.records("users"), baseline.records("users"));
    assert_eq!(r.records("media"), baseline.records("media"));
}
