//! `appsecret_proof` through the real host and component, against a fake whose app has "Require
//! App Secret" on: with `client_secret` in the config, every request the host sends for the
//! component (batch requests included) carries the proof of the token it carries, recomputed
//! after the token is renewed, and a full read of every stream works; without it (or with
//! another app's secret), `check` and `read` fail with a `config_error` naming the app setting.
//! The secret and the proof appear in no output (the secret only in a renewal's CONTROL line).

mod common;

use common::*;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeOptions, RecordedRequest, TokenOptions};
use hmac::{Hmac, Mac};
use serde_json::json;

fn requiring() -> Sandbox {
    Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions {
            tokens: TokenOptions { require_appsecret_proof: true, ..TokenOptions::default() },
            ..FakeOptions::default()
        },
    )
}

/// Meta's definition: hex(HMAC-SHA256(key = app secret, message = access token)).
fn proof(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn bearer(q: &RecordedRequest) -> Option<&str> {
    q.header("authorization").and_then(|a| a.strip_prefix("Bearer "))
}

const STREAMS: &[&str] = &[
    "users",
    "media",
    "media_insights",
    "stories",
    "story_insights",
    "user_insights",
    "user_insights_breakdowns",
    "user_lifetime_insights",
    "media_comments",
    "tagged_media",
    "competitor_profiles",
    "competitor_media",
    "hashtag_media",
];

/// A full read with `client_secret` (and a token renewed at its start): every stream has
/// records; every API request carries the proof of its own token, so the renewed token's proof
/// after the renewal; batch requests carry it too; nothing prints the secret or a proof.
#[test]
fn a_full_read_signs_every_request_and_recomputes_the_proof_after_a_renewal() {
    let sb = requiring();
    let config = sb.config(json!({
        "client_id": FAKE_APP_ID, "client_secret": FAKE_APP_SECRET,
        "competitor_usernames": ["rival_roasters", "summit_gear"], "hashtags": ["sunset", "coffee"],
    }));
    let r = sb.read(&config, &sb.catalog(STREAMS), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    for stream in STREAMS {
        assert!(!r.records(stream).is_empty(), "{stream}: no records");
    }
    let new = sb.fake.renewed_tokens().pop().expect("the read renewed the token");
    let api: Vec<RecordedRequest> = sb.fake.requests().into_iter().filter(|q| bearer(q).is_some()).collect();
    assert!(api.iter().any(|q| q.is_batch()), "the read sent batch requests");
    for q in &api {
        let token = bearer(q).unwrap();
        assert_eq!(token, new, "{} {}: every API call after the renewal uses the new token", q.method, q.path);
        assert_eq!(q.query_param("appsecret_proof"), Some(proof(FAKE_APP_SECRET, token).as_str()), "{}", q.path);
        assert_eq!(q.status, 200, "{} {}", q.method, q.path);
    }
    // The secret only in the CONTROL line (the config the platform stores); no proof anywhere.
    let with_secret: Vec<&str> = r.stdout.lines().filter(|l| l.contains(FAKE_APP_SECRET)).collect();
    assert!(with_secret.len() == 1 && with_secret[0].contains(r#""type":"CONTROL""#), "{with_secret:#?}");
    for p in [proof(FAKE_APP_SECRET, &new), proof(FAKE_APP_SECRET, &sb.token)] {
        assert!(!r.stdout.contains(&p) && !r.stderr.contains(&p), "a proof in the output");
    }
    assert!(!r.stderr.contains(FAKE_APP_SECRET));
}

/// Without `client_secret`, Meta refuses every call: `check` answers FAILED and `read` fails,
/// each with a `config_error` naming the app setting; another app's secret is named as such.
#[test]
fn without_the_app_secret_check_and_read_name_the_app_setting() {
    let sb = requiring();
    let config = sb.config(json!({}));
    let check = sb.run(&["check", "--config", &config]);
    let status = check.connection_status();
    assert_eq!(status["status"], "FAILED");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("\"Require App Secret\"") && message.contains("`client_secret`"), "{message}");

    let read = sb.read(&config, &sb.catalog(&["users", "media"]), None);
    assert_ne!(read.code, 0);
    let error = read.error().expect("a TRACE ERROR");
    assert_eq!(error["failure_type"], "config_error");
    assert!(error["message"].as_str().unwrap().contains("Require App Secret"), "{error}");

    let other = "another-apps-secret-0000";
    let config = sb.config(json!({"client_secret": other, "renew_access_token": false}));
    let check = run(&["check", "--config", &config], Some(&sb.now), other);
    let message = check.connection_status()["message"].as_str().unwrap().to_string();
    assert!(message.contains("does not match") && message.contains("`client_secret`"), "{message}");
    assert!(!check.stdout.contains(&proof(other, &sb.token)));
    assert!(!check.stdout.contains(&sb.token));
}

/// Where a failed request's URL reaches a message (no server at `api_base_url`: the error
/// names the request, query included), neither the proof, the secret nor the token shows: not
/// in the command's output, nor in run-many's summary and output files.
#[test]
fn the_proof_is_masked_wherever_a_request_url_is_printed() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (token, secret) = ("token-for-a-closed-port-0123", "app-secret-for-a-closed-port");
    let config = json!({"access_token": token, "api_base_url": format!("http://127.0.0.1:{closed}"),
                        "client_secret": secret, "renew_access_token": false});
    let p = proof(secret, token);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(&file, config.to_string()).unwrap();
    for secret_value in [p.as_str(), secret] {
        let r = run(&["check", "--config", file.to_str().unwrap()], None, secret_value);
        assert_eq!(r.code, 1, "{}", r.stdout);
    }

    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, format!("{}\n", json!({"id": "closed", "command": "check", "config": config}))).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(BIN)
        .args(["run-many", "--jobs", jobs.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    let printed = [
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        std::fs::read_to_string(out.join("closed.jsonl")).unwrap(),
    ];
    assert!(printed[2].contains("failed"), "{}", printed[2]);
    for text in &printed {
        assert!(!text.contains(&p) && !text.contains(secret) && !text.contains(token), "{text}");
    }
}
