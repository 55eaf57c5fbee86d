//! The read engine end to end (real binary and component against the fake Graph API):
//! deterministic output for every `num_workers`, parallel time slices of large media edges
//! with no gap and no duplicate (comments riding on them), paging cycles that end the walk without moving the cursor,
//! state cursors from the future, and the first pages that come with the account list.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions, FaultPlan, PagingCycle};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

fn without_time(r: &Run) -> Vec<Value> {
    r.messages.iter().cloned().map(without_emitted_at).collect()
}

fn media_ids(r: &Run) -> Vec<String> {
    r.records("media").iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

/// The most requests the fake was serving at once.
fn peak_in_flight(sb: &Sandbox) -> usize {
    let reqs = sb.fake.requests();
    let mut events: Vec<(std::time::Instant, i32)> = Vec::new();
    for r in &reqs {
        events.push((r.received_at, 1));
        events.push((r.received_at + r.duration, -1));
    }
    events.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

/// Every stream of the small dataset (small pages, some answers slowed at random) gives the
/// same messages, byte for byte apart from `emitted_at`, with 1, 4 and 16 requests in flight.
#[test]
fn output_is_identical_for_every_num_workers() {
    let options = FakeOptions {
        page_size_cap: 2,
        faults: FaultPlan::slow(0.3, 11, Duration::from_millis(40)),
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(DatasetSpec::small(), options);
    let cat = sb.catalog(ALL_STREAMS);
    let runs: Vec<Vec<Value>> = [1, 4, 16]
        .iter()
        .map(|n| {
            let r = sb.read(&sb.config(json!({"num_workers": n})), &cat, None);
            assert_eq!(r.code, 0, "{}", r.stdout);
            without_time(&r)
        })
        .collect();
    assert!(runs[0].len() > 100);
    // Comments ride on the media walk; with pages of 2 they are also paged beyond it.
    assert!(
        runs[0]
            .iter()
            .any(|m| m["record"]["stream"] == "media_comments" && m["record"]["data"]["parent_id"].is_string())
    );
    assert!(sb.calls().iter().any(|c| c.split('?').next().unwrap().ends_with("/comments")));
    assert_eq!(runs[0], runs[1], "num_workers 1 vs 4");
    assert_eq!(runs[0], runs[2], "num_workers 1 vs 16");
}

fn dense(posts: usize) -> DatasetSpec {
    DatasetSpec { accounts: 1, media_per_account: posts, dense_timestamps: true, ..DatasetSpec::small() }
}

/// A large account is paged in parallel time slices: posts three to a second, so slice
/// borders fall on seconds that hold posts and pages split same-second groups; every post is
/// read exactly once, the requests really use `since`/`until` with several in flight, and the
/// output equals a read with one request in flight.
#[test]
fn time_slices_have_no_gap_and_no_duplicate() {
    let sb = Sandbox::start(dense(3_000));
    let cat = sb.catalog(&["media"]);
    let r = sb.read(&sb.config(json!({"num_workers": 8})), &cat, None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ids = media_ids(&r);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicate");
    let want: BTreeSet<String> = sb.dataset().accounts()[0].media.iter().map(|m| m.id.clone()).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), want, "no gap");
    // Pages after the first travel as batch operations (one page per batch).
    let sliced = sb
        .calls()
        .iter()
        .filter(|u| u.split('?').next().is_some_and(|p| p.ends_with("/media")) && u.contains("until="))
        .count();
    assert!(sliced >= 2, "time slices were asked ({sliced})");
    assert!(peak_in_flight(&sb) >= 4, "several pages in flight");
    let one = sb.read(&sb.config(json!({"num_workers": 1})), &cat, None);
    assert_eq!(without_time(&one), without_time(&r), "same output with one request in flight");
}

/// `media_comments` rides on the media walk, time slices included: on a large account every
/// comment and reply arrives once with no request of its own (the expansions come with the
/// media pages, sliced), and the output equals a read with one request in flight.
#[test]
fn comments_ride_on_the_time_slices() {
    let sb = Sandbox::start(dense(3_000));
    let cat = sb.catalog(&["media", "media_comments"]);
    let r = sb.read(&sb.config(json!({"num_workers": 8})), &cat, None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ids: Vec<&str> = r.records("media_comments").iter().map(|c| c["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicate");
    let want: BTreeSet<String> = sb
        .dataset()
        .all_media()
        .flat_map(|m| fake_graph::comments::comments_of(sb.dataset(), m))
        .flat_map(|c| std::iter::once(c.id).chain(c.replies.into_iter().map(|r| r.id)))
        .collect();
    assert!(want.len() > 5_000);
    assert_eq!(unique.into_iter().map(str::to_string).collect::<BTreeSet<_>>(), want, "no gap");
    let calls = sb.calls();
    let sliced = calls.iter().filter(|u| u.contains("until=") && u.contains("comments.limit")).count();
    assert!(sliced >= 2, "the slices carry the comments ({sliced})");
    assert!(
        calls.iter().all(|u| u.contains("/me/accounts?") || u.split('?').next().unwrap().ends_with("/media")),
        "no request of their own: {calls:?}"
    );
    let one = sb.read(&sb.config(json!({"num_workers": 1})), &cat, None);
    assert_eq!(without_time(&one), without_time(&r), "same output with one request in flight");
}

/// Where Meta refuses time-based paging, each slice is read by cursor instead: the same
/// posts, once each.
#[test]
fn refused_time_slices_fall_back_to_cursor_paging() {
    let sb = Sandbox::start_with(
        dense(1_500),
        FakeOptions { faults: FaultPlan::refuse_time_paging(), ..FakeOptions::default() },
    );
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let ids = media_ids(&r);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "no duplicate");
    assert_eq!(ids.len(), 1_500, "no gap");
    assert!(r.logs().iter().any(|l| l.contains("refused a time slice")), "{:?}", r.logs());
}

/// A `paging.next` that cycles (two alternating URLs, a fresh URL returning the same page and
/// cursor, a self-link) ends the walk: the read finishes, no post is emitted twice, a WARN names
/// the edge, and the media cursor stays where the input state had it (account 1) or absent
/// (account 2).
#[test]
fn paging_cycles_end_the_walk_without_moving_the_cursor() {
    for cycle in [PagingCycle::Alternating, PagingCycle::RepeatedPage, PagingCycle::SelfLink] {
        let options =
            FakeOptions { page_size_cap: 2, faults: FaultPlan::paging_cycle(cycle), ..FakeOptions::default() };
        let sb = Sandbox::start_with(DatasetSpec::small(), options);
        let first = sb.dataset().accounts()[0].ig_user_id.clone();
        let old = "2020-01-01T00:00:00+00:00";
        let input = json!({"states": [{"partition": {"business_account_id": first}, "cursor": {"timestamp": old}}]});
        let state =
            json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "media"}, "stream_state": input}}]);
        let r = sb.read(&sb.config(json!({})), &sb.catalog(&["media:incremental"]), Some(&state));
        assert_eq!(r.code, 0, "{cycle:?}: {}", r.stdout);
        let ids = media_ids(&r);
        assert!(!ids.is_empty());
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "{cycle:?}: no duplicate");
        let warns: Vec<&Value> = r.of_type("LOG").into_iter().filter(|l| l["log"]["level"] == "WARN").collect();
        assert!(
            warns.iter().any(|w| w["log"]["message"].as_str().unwrap().contains("media edge of account")),
            "{cycle:?}: {warns:?}"
        );
        let final_state = r.final_state();
        let media = &final_state.as_array().unwrap()[0]["stream"]["stream_state"];
        assert_eq!(media, &input, "{cycle:?}: the cursor is not moved past unread data");
        let calls = sb.fake.requests().len();
        assert!(calls < 40, "{cycle:?}: bounded calls ({calls})");
    }
}

/// A state cursor in the future is reported with a WARN naming the stream and account, and
/// that account is read as on a first sync.
#[test]
fn state_from_the_future_reads_as_a_first_sync() {
    let sb = Sandbox::start(DatasetSpec::small());
    let future = "2030-01-01T00:00:00+00:00";
    let partitions = |key: &str| -> Value {
        let states: Vec<Value> = sb
            .dataset()
            .accounts()
            .iter()
            .map(|a| json!({"partition": {"business_account_id": a.ig_user_id}, "cursor": {key: future}}))
            .collect();
        json!({"states": states})
    };
    let state = json!([
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "user_insights"}, "stream_state": partitions("date")}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "media"}, "stream_state": partitions("timestamp")}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "media_insights"}, "stream_state": partitions("timestamp")}},
    ]);
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&["media:incremental", "media_insights:incremental", "user_insights:incremental"]);
    let fresh = sb.read(&cfg, &cat, None);
    let r = sb.read(&cfg, &cat, Some(&state));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let records =
        |r: &Run| -> Vec<Value> { r.all_records().into_iter().map(|m| m["record"]["data"].clone()).collect() };
    assert_eq!(records(&r), records(&fresh), "read as a first sync");
    for stream in ["media", "media_insights", "user_insights"] {
        for a in sb.dataset().accounts() {
            assert!(
                r.logs().iter().any(|l| l.contains(&format!("`{stream}`"))
                    && l.contains(&a.ig_user_id)
                    && l.contains("in the future")),
                "a warning for {stream} / {}: {:?}",
                a.ig_user_id,
                r.logs()
            );
        }
    }
    assert!(!r.final_state().to_string().contains("2030"), "the future cursor is not kept");
}

/// The account list brings along each account's IG user node and first media page (field
/// expansion): no call of its own reads either. Where Meta refuses that answer as too much
/// data, the accounts are listed alone (an INFO says so) and the nodes and first pages are
/// read on their own: the same records and state, for one refused call and two per account.
#[test]
fn the_account_list_brings_the_first_pages() {
    let streams = ["users", "media", "media_insights", "stories"];
    let expanded = Sandbox::start(DatasetSpec::small());
    let r = expanded.read(&expanded.config(json!({})), &expanded.catalog(&streams), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let calls = expanded.calls();
    let list = calls.iter().find(|c| c.contains("/me/accounts")).expect("the account list");
    assert!(list.contains("media.limit(100)") && list.contains("followers_count"), "{list}");
    for a in expanded.dataset().accounts() {
        let ig = &a.ig_user_id;
        let own: Vec<&String> = calls
            .iter()
            .filter(|c| {
                let path = c.split('?').next().unwrap();
                path.ends_with(&format!("/{ig}")) || (path.ends_with(&format!("/{ig}/media")) && !c.contains("after="))
            })
            .collect();
        assert!(own.is_empty(), "account {ig}: the node and first page came with the list: {own:?}");
    }

    let refused = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { max_expanded_media: Some(3), ..FakeOptions::default() },
    );
    let plain = refused.read(&refused.config(json!({})), &refused.catalog(&streams), None);
    assert_eq!(plain.code, 0, "{}", plain.stdout);
    assert!(plain.logs().iter().any(|l| l.contains("listing the accounts alone")), "{:?}", plain.logs());
    let data = |r: &Run| -> Vec<String> {
        let mut records: Vec<String> =
            r.all_records().into_iter().map(|m| format!("{} {}", m["record"]["stream"], m["record"]["data"])).collect();
        records.sort();
        records
    };
    assert_eq!(data(&plain), data(&r), "the same records");
    let states =
        |r: &Run| -> Vec<Value> { r.final_state().as_array().unwrap().iter().map(|s| s["stream"].clone()).collect() };
    assert_eq!(states(&plain), states(&r), "the same state");
    // The refused list (once: it is not retried as transient), the plain list, and per account
    // its node and first media page.
    assert_eq!(refused.calls().len(), calls.len() + 1 + 2 * 2, "{:?}", refused.calls());
}
