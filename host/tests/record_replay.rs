//! `--record`, end to end: the real host and component record a read against the fake Graph
//! API. The file holds no token, app secret or proxy credential, wherever Meta put them (query
//! strings, bodies, batch items, paging links).

mod common;

use common::*;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeOptions, FaultPlan};
use serde_json::{Value, json};

/// A full read of the bench dataset (every stream, public content included; the token renewed
/// at the start, so two tokens are in play) is recorded. An answer that quotes the token, the app secret
/// and a proxy's password (in its message and in a URL) is recorded without them.
#[test]
fn a_bench_read_is_recorded_without_secrets() {
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
    assert!(!text.contains("access_token="), "no credential parameter in any URL");
    assert!(text.contains("Invalid parameter: token **********"), "a secret in a body is masked where it was");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["now"], sb.now.replace("+00:00", "Z"));
    assert!(lines[0]["config"].get("client_secret").is_none() && lines[0]["config"].get("api_base_url").is_none());
    assert_eq!(lines[0]["config"]["competitor_usernames"], public_lists()["competitor_usernames"]);
    let batches = lines.iter().filter(|l| l["request"]["batch"].is_array()).count();
    assert!(batches > 5 && lines.len() > 20, "{} exchanges, {batches} batches", lines.len() - 1);
    assert!(lines[1..].iter().all(|l| l["url"].as_str().unwrap().starts_with("/v")), "URLs are under api_base_url");
}

/// An incremental read (state in, state out) and a `check` are recorded too; with
/// `--record-redact-text` the captions, comments, usernames and names are gone from the file.
#[test]
fn incremental_reads_checks_and_shared_recordings() {
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

    assert!(text.contains("\"username\":\"redacted\""));

    let check_file = sb.dir.path().join("check.jsonl").to_string_lossy().into_owned();
    let checked = sb.run(&["check", "--config", &config, "--record", &check_file]);
    assert_eq!(checked.connection_status()["status"], "SUCCEEDED");
    let check = std::fs::read_to_string(&check_file).unwrap();
    let header: Value = serde_json::from_str(check.lines().next().unwrap()).unwrap();
    assert_eq!(header["command"], "check");
    assert!(check.lines().count() > 1 && !check.contains(&sb.token));
}
