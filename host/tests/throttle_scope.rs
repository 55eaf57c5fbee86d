//! A throttle of one account's business use-case limit holds back only that account. This test
//! reads two accounts. The insights operation for the first account's newest post is throttled
//! once with code 80002, inside its batch. The account then waits out its backoff: 5 s ± 20 %,
//! in real time. During the wait the fake receives nothing about it, and it keeps receiving the
//! other account's requests: media pages and insights batches. Both are asserted from the
//! request timestamps at the fake. The throttle is logged with the account's scope, and the
//! records equal those of an unthrottled read.
//!
//! The other account flows in two ways. In the host, the pause holds only requests about the
//! throttled account (`network::pauses`). In the guest's scheduler, a lane held up past
//! `scheduler::STUCK` (2 s) gives way: the other account's answers are handed out, and so its
//! follow-up requests are sent.

mod common;

use common::*;
use fake_graph::{Dataset, DatasetSpec, FakeOptions, FaultPlan, GraphError, RecordedRequest};
use serde_json::{Value, json};
use std::time::Duration;

fn records(r: &Run) -> Vec<Value> {
    let mut v: Vec<Value> = r.all_records().into_iter().map(|m| without_emitted_at(m.clone())).collect();
    v.sort_by_key(|m| m.to_string());
    v
}

/// Whether a request (or one operation of a batch) is about `account` or one of its objects.
fn about(ds: &Dataset, q: &RecordedRequest, account: &str) -> bool {
    let owned = |path: &str| {
        path.trim_start_matches('/')
            .split(['/', '?'])
            .find(|s| !s.is_empty() && !s.starts_with('v'))
            .and_then(|id| ds.owner_account(id))
            .is_some_and(|a| a.ig_user_id == account)
    };
    owned(&q.path) || q.batch_relative_urls().iter().any(|u| owned(u))
}

#[test]
fn a_throttled_account_waits_while_the_other_keeps_flowing() {
    // Enough posts that the other account still has work for the whole wait.
    let spec = DatasetSpec { media_per_account: 1200, carousel_children_per_account: None, ..DatasetSpec::bench() };
    let catalog_streams = ["media", "media_insights"];
    let plain_sb = Sandbox::start(spec.clone());
    let plain = plain_sb.read(&plain_sb.config(json!({})), &plain_sb.catalog(&catalog_streams), None);
    assert_eq!(plain.code, 0, "{}", plain.stdout);

    let accounts: Vec<String> = plain_sb.dataset().accounts().iter().map(|a| a.ig_user_id.clone()).collect();
    let (throttled, other) = (accounts[0].clone(), accounts[1].clone());
    let newest = plain_sb.dataset().accounts()[0].media[0].id.clone();
    let error = GraphError::throttled(80002);
    let body = error.to_body("AThrottleTest").to_string();
    let options = FakeOptions {
        latency: Duration::from_millis(30),
        faults: FaultPlan::none().force_error_times(&format!("/{newest}/insights"), error.http_status, body, 1),
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(spec, options);
    let (config, catalog) = (sb.config(json!({"num_workers": 4})), sb.catalog(&catalog_streams));
    let r = run_env(&["read", "--config", &config, "--catalog", &catalog], Some(&sb.now), &sb.token, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(records(&r), records(&plain), "the same records as without the throttle");
    assert!(
        r.logs()
            .iter()
            .any(|l| l.contains("Meta throttled") && l.contains(&format!("the limit of account {throttled}"))),
        "the throttle is logged with its scope: {:?}",
        r.logs()
    );

    let requests = sb.fake.requests();
    let ds = sb.dataset();
    let refused = requests
        .iter()
        .position(|q| q.batch_relative_urls().iter().any(|u| u.contains(&format!("{newest}/insights"))))
        .expect("the throttled operation was sent in a batch");
    let refused_at = requests[refused].received_at + requests[refused].duration;
    // Requests sent before the throttle's answer came back may still arrive just after it.
    let settled = refused_at + Duration::from_millis(50);
    // The earliest by arrival time: requests that arrive together may be logged in either order.
    let retried = requests[refused + 1..]
        .iter()
        .filter(|q| q.received_at > settled && about(ds, q, &throttled))
        .min_by_key(|q| q.received_at)
        .expect("the throttled account is read again after its wait");
    let paused = retried.received_at.saturating_duration_since(refused_at);
    assert!(paused >= Duration::from_secs(3), "the throttled account waited its backoff ({paused:?})");
    let meanwhile: Vec<&RecordedRequest> =
        requests.iter().filter(|q| q.received_at > settled && q.received_at < retried.received_at).collect();
    let t0 = requests[0].received_at;
    let at = |q: &RecordedRequest| (q.received_at - t0).as_millis();
    let leaked: Vec<String> = meanwhile
        .iter()
        .filter(|q| about(ds, q, &throttled))
        .map(|q| format!("{} ms: {} {} ({} ops)", at(q), q.method, q.path, q.batch_ops))
        .collect();
    assert!(
        leaked.is_empty(),
        "nothing about the throttled account during its wait ({} ms to {} ms): {leaked:?}",
        (refused_at - t0).as_millis(),
        at(retried)
    );
    if std::env::var("PROBE").is_ok() {
        for q in requests.iter().filter(|q| at(q) + 3000 > (refused_at - t0).as_millis() && at(q) < at(retried) + 300) {
            let who = if about(ds, q, &throttled) {
                "A"
            } else if about(ds, q, &other) {
                "B"
            } else {
                "-"
            };
            eprintln!(
                "{:>6} ms +{:>4} {who} ops {:>2} {} {}",
                at(q),
                q.duration.as_millis(),
                q.batch_ops,
                q.status,
                q.path
            );
        }
        eprintln!("refused {} retried {}", (refused_at - t0).as_millis(), at(retried));
    }
    let flowing = meanwhile.iter().filter(|q| about(ds, q, &other)).count();
    eprintln!("{flowing} requests about the other account during a wait of {paused:?}");
    assert!(flowing >= 10, "the other account's requests kept flowing ({flowing} during {paused:?})");
}
