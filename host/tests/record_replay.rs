//! `--record` and replay, end to end: the real host and component record a read against the
//! fake Graph API, the fake replays the file (`FakeGraph::replay`), and a read against the
//! replay gives the same records and state. The file holds no token, app secret or proxy
//! credential, wherever Meta put them (query strings, bodies, batch items, paging links).

mod common;

use common::*;
use fake_graph::replay::Replay;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeGraph, FakeOptions, FaultPlan};
use serde_json::{Value, json};

/// The RECORD and STATE messages of a run, without `emitted_at`, in order.
fn data(r: &Run) -> Vec<Value> {
    r.messages
        .iter()
        .filter(|m| m["type"] == "RECORD" || m["type"] == "STATE")
        .cloned()
        .map(without_emitted_at)
        .collect()
}

/// A read against a replay of `file`, with the recorded config, catalog, state and clock.
fn replay_read(sb: &Sandbox, file: &str) -> (Run, FakeGraph) {
    let recording = Replay::load(std::path::Path::new(file)).unwrap();
    let graph = FakeGraph::replay(&recording, FakeOptions::default()).unwrap();
    let config = sb.file("replay-config.json", &recording.config(&graph.base_url(), "replay-token"));
    let catalog = sb.file("replay-catalog.json", &recording.catalog());
    let mut args = vec!["read".to_string(), "--config".into(), config, "--catalog".into(), catalog];
    if let Some(state) = recording.state() {
        args.extend(["--state".into(), sb.file("replay-state.json", &state)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let now = recording.now().unwrap().to_rfc3339();
    (run(&args, Some(&now), "replay-token"), graph)
}

/// A full read of the bench dataset (every stream, public content included; the token renewed
/// at the start, so two tokens are in play) replays to the same records and states, in the
/// same order, with every request matched. An answer that quotes the token, the app secret
/// and a proxy's password (in its message and in a URL) is recorded without them.
#[test]
fn a_recorded_bench_read_replays_to_the_same_records_and_state() {
    let spec = DatasetSpec::bench();
    let data_now = fake_graph::Dataset::generate(&spec);
    let token = data_now.token().to_string();
    let victim = data_now.accounts()[0].media.iter().find(|m| !m.flags.any()).unwrap().id.clone();
    let proxy_password = "pr0xy-s3cret-pass";
    let leaky = json!({"error": {
        "message": format!("(#100) Invalid parameter: token {token}, app secret {FAKE_APP_SECRET}, proxy {proxy_password}; see https://graph.facebook.com/v27.0/{victim}/insights?access_token={token}&appsecret_proof=abc123"),
        "type": "OAuthException", "code": 100, "error_subcode": 2108006, "fbtrace_id": "ALeak"}});
    let options = FakeOptions {
        faults: FaultPlan::none().force_error(&format!("/{victim}/insights"), 400, leaky.to_string()),
        ..FakeOptions::default()
    };
    let sb = Sandbox::start_with(spec, options);
    let mut extra = public_lists();
    extra["client_id"] = json!(FAKE_APP_ID);
    extra["client_secret"] = json!(FAKE_APP_SECRET);
    let config = sb.config(extra);
    let mut streams = ALL_STREAMS.to_vec();
    streams.extend(PUBLIC_STREAMS);
    let catalog = sb.catalog(&streams);
    let file = sb.dir.path().join("bench.jsonl").to_string_lossy().into_owned();
    let proxy = format!("http://recorder:{proxy_password}@127.0.0.1:9");
    let recorded = run_env(
        &["read", "--config", &config, "--catalog", &catalog, "--record", &file],
        Some(&sb.now),
        &sb.token,
        &[
            ("SOURCE_INSTAGRAM_TIME_SCALE", "60000"),
            ("HTTPS_PROXY", &proxy),
            ("HTTP_PROXY", &proxy),
            ("NO_PROXY", "127.0.0.1"),
        ],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stdout);
    let renewed = sb.fake.renewed_tokens();
    assert_eq!(renewed.len(), 1, "the token was renewed, and the read used the new one");

    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [token.as_str(), renewed[0].as_str(), FAKE_APP_SECRET, FAKE_APP_ID, proxy_password, "abc123"] {
        assert!(!text.contains(secret), "the recording holds a secret ({})", &secret[..4]);
    }
    assert!(
        !text.contains("access_token=") && !text.contains("appsecret_proof="),
        "no credential parameter in any URL"
    );
    let signed = sb.fake.requests().iter().filter(|q| q.query_param("appsecret_proof").is_some()).count();
    assert!(signed > 5, "the host signed its requests with appsecret_proof ({signed}), and none is recorded");
    assert!(text.contains("Invalid parameter: token **********"), "a secret in a body is masked where it was");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["now"], sb.now.replace("+00:00", "Z"));
    assert!(lines[0]["config"].get("client_secret").is_none() && lines[0]["config"].get("api_base_url").is_none());
    assert_eq!(lines[0]["config"]["competitor_usernames"], public_lists()["competitor_usernames"]);
    let batches = lines.iter().filter(|l| l["request"]["batch"].is_array()).count();
    assert!(batches > 5 && lines.len() > 20, "{} exchanges, {batches} batches", lines.len() - 1);
    assert!(lines[1..].iter().all(|l| l["url"].as_str().unwrap().starts_with("/v")), "URLs are under api_base_url");

    let (replayed, graph) = replay_read(&sb, &file);
    assert_eq!(replayed.code, 0, "{}", replayed.stdout);
    assert_eq!(graph.unmatched(), Vec::<String>::new(), "every request of the replay was recorded");
    assert_eq!(data(&replayed), data(&recorded), "the same records and states, in the same order");
    assert_eq!(replayed.final_state(), recorded.final_state());
    // The same warning for the leaky answer (its quoted URL now without credentials).
    let warned = |r: &Run| {
        r.logs().iter().any(|l| l.contains(&victim) && l.contains("before the account became a business account"))
    };
    assert!(warned(&recorded) && warned(&replayed), "{:?}", replayed.logs());
}

/// An incremental read (state in, state out) and a `check` are recorded and replayed too;
/// with `--record-redact-text` the captions, comments, usernames and names are gone from the
/// file, and its replay still gives valid records (with placeholders) and the same state.
#[test]
fn incremental_reads_checks_and_shared_recordings_replay() {
    let sb = Sandbox::start(DatasetSpec::small());
    let config = sb.config(json!({}));
    let streams = [
        "users",
        "media:incremental",
        "media_insights:incremental",
        "media_comments:incremental",
        "user_insights:incremental",
    ];
    let catalog = sb.catalog(&streams);
    let first = sb.read(&config, &catalog, None);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let state_file = sb.file("state.json", &first.final_state());

    let file = sb.dir.path().join("incremental.jsonl").to_string_lossy().into_owned();
    let args = [
        "read",
        "--config",
        &config,
        "--catalog",
        &catalog,
        "--state",
        &state_file,
        "--record",
        &file,
        "--record-redact-text",
    ];
    let recorded = sb.run(&args);
    assert_eq!(recorded.code, 0, "{}", recorded.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["state"], first.final_state());
    assert_eq!(header["redacted_text"], true);
    let ds = sb.dataset();
    for account in ds.accounts() {
        assert!(!text.contains(&format!("\"{}\"", account.username)), "a username is in the file");
        for caption in account.media.iter().filter_map(|m| m.caption.as_ref()) {
            assert!(!text.contains(&serde_json::to_string(caption).unwrap()), "a caption is in the file");
        }
    }

    let (replayed, graph) = replay_read(&sb, &file);
    assert_eq!(replayed.code, 0, "{}", replayed.stdout);
    assert_eq!(graph.unmatched(), Vec::<String>::new());
    assert_eq!(replayed.final_state(), recorded.final_state());
    assert_eq!(replayed.all_records().len(), recorded.all_records().len());
    assert!(replayed.logs().iter().all(|l| !l.contains("invalid record")), "{:?}", replayed.logs());
    let users = replayed.records("users");
    assert!(!users.is_empty() && users.iter().all(|u| u["username"] == "redacted"), "{users:?}");

    let check_file = sb.dir.path().join("check.jsonl").to_string_lossy().into_owned();
    let checked = sb.run(&["check", "--config", &config, "--record", &check_file]);
    assert_eq!(checked.connection_status()["status"], "SUCCEEDED");
    let recording = Replay::load(std::path::Path::new(&check_file)).unwrap();
    assert_eq!(recording.command(), "check");
    assert!(!recording.exchanges().is_empty());
    let graph = FakeGraph::replay(&recording, FakeOptions::default()).unwrap();
    let replay_config = sb.file("check-config.json", &recording.config(&graph.base_url(), "replay-token"));
    let again = run(&["check", "--config", &replay_config], Some(&sb.now), "replay-token");
    assert_eq!(again.connection_status()["status"], "SUCCEEDED");
    assert!(graph.unmatched().is_empty() && !graph.requests().is_empty());
}
