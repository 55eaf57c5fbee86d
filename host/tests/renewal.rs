//! Token renewal through the real host and component against the fake Graph API: one
//! renewal per read, handed back in exactly one CONTROL message; the rest of the read and the
//! next read use only the new token; the old token never appears in any output and the new
//! one only in the CONTROL message; the option off, `check` (but for completing a login) and
//! Facebook Login without app credentials make no renewal call; `check` exchanges a token we
//! never renewed (what the platform's OAuth flow leaves) for a long-lived one; refusals are
//! warnings and the read succeeds; run-many tenants renew independently.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeOptions, Login, RecordedRequest, TokenOptions};
use serde_json::{Value, json};
use std::process::Command;

const RENEWAL_PATHS: &[&str] = &["/refresh_access_token", "/oauth/access_token", "/access_token"];

fn is_renewal(q: &RecordedRequest) -> bool {
    RENEWAL_PATHS.iter().any(|p| q.path.ends_with(p))
}

fn sandbox(tokens: TokenOptions) -> Sandbox {
    Sandbox::start_with(DatasetSpec::small(), FakeOptions { tokens, ..FakeOptions::default() })
}

fn revoking() -> Sandbox {
    sandbox(TokenOptions { revoke_on_renewal: true, ..TokenOptions::default() })
}

/// The config carried by the run's CONTROL messages.
fn controls(r: &Run) -> Vec<Value> {
    r.of_type("CONTROL").into_iter().map(|m| m["control"]["connectorConfig"]["config"].clone()).collect()
}

/// Lines of `text` that contain `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// Every request but the renewal carries `Bearer token` and no other token.
fn assert_all_api_calls_use(sb: &Sandbox, token: &str) {
    let api: Vec<RecordedRequest> = sb.fake.requests().into_iter().filter(|q| !is_renewal(q)).collect();
    assert!(!api.is_empty());
    for q in &api {
        assert_eq!(q.header("authorization"), Some(format!("Bearer {token}").as_str()), "{} {}", q.method, q.path);
    }
}

/// Instagram Login: the read starts with one refresh, prints exactly one CONTROL message with
/// the whole updated config, reads everything with the new token (the fake revokes the old
/// one), and the next read with that config works with the new token only and renews nothing.
#[test]
fn instagram_refresh_yields_one_control_message_and_the_next_read_uses_the_new_token() {
    let sb = revoking();
    let account = sb.dataset().accounts()[0].clone();
    let config = sb.config(json!({"login": "instagram", "insights_lookback_days": 3}));
    let catalog = sb.catalog(&["users", "media", "media_insights"]);
    let r = sb.read(&config, &catalog, None); // asserts the old token is in no output
    assert_eq!(r.code, 0, "{}", r.stdout);

    let renewed = sb.fake.renewed_tokens();
    assert_eq!(renewed.len(), 1, "one renewal per read");
    let new = &renewed[0];
    let updated = controls(&r);
    assert_eq!(updated.len(), 1, "exactly one CONTROL message");
    let updated = &updated[0];
    assert_eq!(updated["access_token"], new.as_str());
    assert_eq!(updated["login"], "instagram");
    assert_eq!(updated["api_base_url"], sb.fake.base_url());
    assert_eq!(updated["insights_lookback_days"], 3);
    let now = chrono::DateTime::parse_from_rfc3339(&sb.now).unwrap();
    assert_eq!(updated["access_token_renewed_at"], now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    // The CONTROL message comes before any record, so the platform has it even if the read fails.
    let first_control = r.messages.iter().position(|m| m["type"] == "CONTROL").unwrap();
    assert!(r.messages.iter().position(|m| m["type"] == "RECORD").unwrap() > first_control);
    // The new token is in the CONTROL line and nowhere else.
    let with_new = lines_with(&r.stdout, new);
    assert_eq!(with_new.len(), 1, "{with_new:#?}");
    assert!(with_new[0].contains(r#""type":"CONTROL""#));
    assert!(!r.stderr.contains(new.as_str()));
    assert!(r.logs().iter().any(|l| l.contains("Renewed the access token")), "{:#?}", r.logs());

    let reqs = sb.fake.requests();
    assert!(is_renewal(&reqs[0]) && reqs[0].path == "/refresh_access_token", "the renewal comes first");
    assert_eq!(reqs[0].query_param("grant_type"), Some("ig_refresh_token"));
    assert_eq!(reqs.iter().filter(|q| is_renewal(q)).count(), 1);
    assert_all_api_calls_use(&sb, new);
    assert_eq!(r.records("users").len(), 1);
    assert_eq!(r.records("media").len(), account.media.len());

    // The next read, with the config the platform stored.
    sb.fake.clear_requests();
    let stored = sb.file("stored-config.json", updated);
    let next = run(&["read", "--config", &stored, "--catalog", &catalog], Some(&sb.now), new);
    assert_eq!(next.code, 0, "{}", next.stdout);
    assert!(controls(&next).is_empty(), "renewed today: not renewed again");
    assert!(!next.stdout.contains(&sb.token), "the old token is in no output");
    assert_eq!(sb.fake.renewed_tokens().len(), 1);
    assert!(sb.fake.requests().iter().all(|q| !is_renewal(q)));
    assert_all_api_calls_use(&sb, new);
    assert_eq!(next.records("media").len(), account.media.len());
}

/// Facebook Login with the app's id and secret: the token is exchanged (versioned endpoint),
/// the rest of the read uses the new one, and the app secret is printed only inside the
/// CONTROL message's config.
#[test]
fn facebook_exchange_with_app_credentials() {
    let sb = revoking();
    let config = sb.config(json!({"client_id": FAKE_APP_ID, "client_secret": FAKE_APP_SECRET}));
    let r = sb.read(&config, &sb.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let new = sb.fake.renewed_tokens().pop().expect("a renewal");
    let updated = controls(&r);
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["access_token"], new.as_str());
    assert_eq!(
        (updated[0]["client_id"].as_str(), updated[0]["client_secret"].as_str()),
        (Some(FAKE_APP_ID), Some(FAKE_APP_SECRET))
    );
    for secret in [new.as_str(), FAKE_APP_SECRET] {
        let lines = lines_with(&r.stdout, secret);
        assert!(lines.len() == 1 && lines[0].contains(r#""type":"CONTROL""#), "{secret}: {lines:#?}");
    }
    let exchange: Vec<RecordedRequest> = sb.fake.requests().into_iter().filter(is_renewal).collect();
    assert_eq!(exchange.len(), 1);
    assert_eq!(exchange[0].path, "/v27.0/oauth/access_token", "the spec's default version");
    assert_eq!(exchange[0].query_param("grant_type"), Some("fb_exchange_token"));
    assert_all_api_calls_use(&sb, &new);
    assert_eq!(r.records("users").len(), sb.dataset().accounts().len());
}

/// With the option off, with Facebook Login and no app credentials, and in `check` (with a
/// token renewed recently, or Instagram Login without the app secret), the fake sees no
/// renewal call and nothing prints a CONTROL message.
#[test]
fn no_renewal_when_off_without_credentials_or_in_check() {
    let sb = sandbox(TokenOptions::default());
    let catalog = sb.catalog(&["users"]);
    for extra in [
        json!({"login": "instagram", "renew_access_token": false}),
        json!({"client_id": FAKE_APP_ID, "client_secret": FAKE_APP_SECRET, "renew_access_token": false}),
        json!({}),
        json!({"client_id": FAKE_APP_ID}),
    ] {
        let r = sb.read(&sb.config(extra.clone()), &catalog, None);
        assert_eq!(r.code, 0, "{extra}: {}", r.stdout);
        assert!(controls(&r).is_empty(), "{extra}");
        assert_eq!(r.records("users").len(), if extra["login"] == "instagram" { 1 } else { 2 }, "{extra}");
    }
    let yesterday = (chrono::DateTime::parse_from_rfc3339(&sb.now).unwrap() - chrono::Duration::days(1)).to_rfc3339();
    for extra in [
        json!({"login": "instagram"}),
        json!({"client_id": FAKE_APP_ID, "client_secret": FAKE_APP_SECRET, "access_token_renewed_at": yesterday}),
        json!({"login": "instagram", "client_secret": FAKE_APP_SECRET, "access_token_renewed_at": yesterday}),
    ] {
        let r = sb.run(&["check", "--config", &sb.config(extra)]);
        assert_eq!(r.connection_status()["status"], "SUCCEEDED");
        assert!(controls(&r).is_empty());
    }
    assert!(sb.fake.requests().iter().all(|q| !is_renewal(q)), "no renewal call at all");
    assert!(sb.fake.renewed_tokens().is_empty());
}

/// Where the platform's OAuth flow ends (a short-lived token, the app's id and secret, never
/// renewed by us), the first `check` exchanges the token for a long-lived one, hands it over
/// in one CONTROL message and checks with it: `fb_exchange_token` for Facebook Login,
/// `ig_exchange_token` for Instagram Login. The short token is printed nowhere.
#[test]
fn check_completes_a_login_with_a_long_lived_token() {
    for (login, extra, path, grant) in [
        (Login::Facebook, json!({"client_id": FAKE_APP_ID}), "/v27.0/oauth/access_token", "fb_exchange_token"),
        (Login::Instagram, json!({"login": "instagram"}), "/access_token", "ig_exchange_token"),
    ] {
        let sb = sandbox(TokenOptions::default());
        let short = sb.fake.short_lived_token(login);
        let mut config =
            json!({"access_token": short, "api_base_url": sb.fake.base_url(), "client_secret": FAKE_APP_SECRET});
        extra.as_object().unwrap().iter().for_each(|(k, v)| config[k] = v.clone());
        let file = sb.file("oauth-config.json", &config);
        let r = run(&["check", "--config", &file], Some(&sb.now), &short);
        assert_eq!(r.connection_status()["status"], "SUCCEEDED", "{login:?}: {}", r.stdout);
        let new = sb.fake.renewed_tokens().pop().expect("an exchange");
        let updated = controls(&r);
        assert_eq!(updated.len(), 1, "{login:?}");
        assert_eq!(updated[0]["access_token"], new.as_str());
        assert_eq!(updated[0]["access_token_renewed_at"].as_str().map(|t| t.len()), Some(20));
        assert_eq!(lines_with(&r.stdout, &new).len(), 1, "the new token only in the CONTROL line");
        let exchange: Vec<RecordedRequest> = sb.fake.requests().into_iter().filter(is_renewal).collect();
        assert_eq!(exchange.len(), 1, "{login:?}");
        assert_eq!((exchange[0].path.as_str(), exchange[0].query_param("grant_type")), (path, Some(grant)));
        assert_all_api_calls_use(&sb, &new);

        // The next check (the platform stored the CONTROL config) exchanges nothing.
        let stored = sb.file("stored.json", &updated[0]);
        let again = run(&["check", "--config", &stored], Some(&sb.now), &short);
        assert_eq!(again.connection_status()["status"], "SUCCEEDED");
        assert!(controls(&again).is_empty());
        assert_eq!(sb.fake.requests().into_iter().filter(is_renewal).count(), 1);
    }
}

/// Instagram Login with the app secret and a long-lived token we never renewed: the read's
/// exchange is refused (only short-lived tokens are exchanged), then the token is refreshed,
/// with no warning.
#[test]
fn instagram_exchange_falls_back_to_a_refresh() {
    let sb = sandbox(TokenOptions::default());
    let config = sb.config(json!({"login": "instagram", "client_secret": FAKE_APP_SECRET}));
    let r = sb.read(&config, &sb.catalog(&["users"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(controls(&r).len(), 1);
    let grants: Vec<Option<String>> = sb
        .fake
        .requests()
        .into_iter()
        .filter(is_renewal)
        .map(|q| q.query_param("grant_type").map(str::to_string))
        .collect();
    assert_eq!(grants, vec![Some("ig_exchange_token".into()), Some("ig_refresh_token".into())]);
    assert!(r.of_type("LOG").iter().all(|l| l["log"]["level"] != "WARN"), "{:#?}", r.logs());
}

/// Meta's refusals (an Instagram token under 24 hours old, a wrong app secret) are one WARN
/// each, and the read succeeds with the old token; the wrong secret is not printed.
#[test]
fn refusals_are_warnings_and_the_read_goes_on() {
    let young = sandbox(TokenOptions { token_age: chrono::Duration::hours(3), ..TokenOptions::default() });
    let r = young.read(&young.config(json!({"login": "instagram"})), &young.catalog(&["users", "media"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(controls(&r).is_empty());
    let warns: Vec<&Value> = r
        .of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["message"].as_str().unwrap().contains("Could not refresh"))
        .collect();
    assert_eq!(warns.len(), 1, "{:#?}", r.logs());
    assert_eq!(warns[0]["log"]["level"], "WARN");
    assert!(warns[0]["log"]["message"].as_str().unwrap().contains("24 hours"), "{}", warns[0]);
    assert_eq!(r.records("media").len(), young.dataset().accounts()[0].media.len());
    assert_all_api_calls_use(&young, &young.token);

    let sb = sandbox(TokenOptions::default());
    let wrong = "wrong-app-secret-0000";
    let r =
        sb.read(&sb.config(json!({"client_id": FAKE_APP_ID, "client_secret": wrong})), &sb.catalog(&["users"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(controls(&r).is_empty());
    assert!(!r.stdout.contains(wrong) && !r.stderr.contains(wrong), "the secret is masked");
    let warn = r.logs().into_iter().find(|l| l.contains("Could not exchange")).expect("a warning");
    assert!(warn.contains("code 1: Error validating client secret."), "{warn}");
    assert_eq!(r.records("users").len(), 2);
    assert!(sb.fake.renewed_tokens().is_empty());
}

/// Two run-many tenants on one fake renew independently: each output file has exactly one
/// CONTROL message with its own new token, which appears in no other file nor the summary.
#[test]
fn run_many_tenants_renew_independently() {
    let sb = sandbox(TokenOptions::default());
    let base = json!({"access_token": sb.token, "api_base_url": sb.fake.base_url()});
    let with = |extra: Value| {
        let mut c = base.clone();
        extra.as_object().unwrap().iter().for_each(|(k, v)| c[k] = v.clone());
        c
    };
    let catalog = json!({"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "append"}]});
    let jobs = [
        json!({"id": "ig", "command": "read", "config": with(json!({"login": "instagram"})), "catalog": catalog}),
        json!({"id": "fb", "command": "read", "config": with(json!({"client_id": FAKE_APP_ID, "client_secret": FAKE_APP_SECRET})), "catalog": catalog}),
        json!({"id": "plain", "command": "read", "config": base, "catalog": catalog}),
    ];
    let file = sb.dir.path().join("jobs.jsonl");
    std::fs::write(&file, jobs.iter().map(|j| format!("{j}\n")).collect::<String>()).unwrap();
    let out = sb.dir.path().join("out");
    warm_cache();
    let status = Command::new(BIN)
        .args(["run-many", "--jobs", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--concurrency", "3"])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_FAKE_NOW", &sb.now)
        .status()
        .unwrap();
    assert!(status.success());
    let renewed = sb.fake.renewed_tokens();
    assert_eq!(renewed.len(), 2, "one renewal per renewing tenant");
    let text = |id: &str| std::fs::read_to_string(out.join(format!("{id}.jsonl"))).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let mut seen = Vec::new();
    for id in ["ig", "fb"] {
        let t = text(id);
        save_transcript(&["read", id], &t);
        let controls: Vec<Value> =
            t.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|m| m["type"] == "CONTROL").collect();
        assert_eq!(controls.len(), 1, "{id}");
        let token = controls[0]["control"]["connectorConfig"]["config"]["access_token"].as_str().unwrap().to_string();
        assert!(renewed.contains(&token), "{id}");
        assert_eq!(lines_with(&t, &token).len(), 1, "{id}: the new token only in the CONTROL line");
        seen.push(token);
    }
    assert_ne!(seen[0], seen[1]);
    let plain = text("plain");
    assert!(!plain.contains("CONTROL"));
    for (i, token) in seen.iter().enumerate() {
        assert!(!summary.contains(token.as_str()));
        assert!(!plain.contains(token.as_str()));
        assert!(!text(["fb", "ig"][i]).contains(token.as_str()), "a tenant's token stays in its own output");
    }
    for id in ["ig", "fb", "plain"] {
        assert!(!text(id).contains(&sb.token), "{id}: the old token is in no output");
    }
    assert!(!summary.contains(&sb.token));
}

/// A renewal answer with an unusable token (control characters, 8 MB, or one Meta then
/// rejects) is not handed to the platform: one WARN naming the problem, no CONTROL message,
/// the new token nowhere in the output, and the read goes on with the working token.
#[test]
fn an_unusable_renewed_token_is_not_handed_over() {
    use fake_graph::RenewalToken;
    for (gives, needle) in [
        (RenewalToken::ControlCharacters, "control characters"),
        (RenewalToken::Huge, "bytes long"),
        (RenewalToken::Rejected, "does not work"),
    ] {
        let sb = sandbox(TokenOptions { renewal_gives: gives, ..TokenOptions::default() });
        let r = sb.read(&sb.config(json!({"login": "instagram"})), &sb.catalog(&["users", "media"]), None);
        assert_eq!(r.code, 0, "{gives:?}: {}", r.stdout);
        assert!(controls(&r).is_empty(), "{gives:?}: no CONTROL message");
        let warns: Vec<&str> = r.logs().into_iter().filter(|l| l.contains("returned when asked to")).collect();
        assert_eq!(warns.len(), 1, "{gives:?}: {:#?}", r.logs());
        assert!(warns[0].contains(needle) && warns[0].contains("continues with the current token"), "{}", warns[0]);
        for bad in ["bad\u{7}token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert!(!r.stdout.contains(bad) && !r.stderr.contains(bad), "{gives:?}: the new token is not printed");
        }
        assert!(r.stdout.len() < 1 << 20, "{gives:?}: {} bytes of output", r.stdout.len());
        assert_eq!(r.records("media").len(), sb.dataset().accounts()[0].media.len());
        // The read's own calls use the working token (the check of a rejected token is its
        // only call with that token).
        let with_new: Vec<RecordedRequest> = sb
            .fake
            .requests()
            .into_iter()
            .filter(|q| !is_renewal(q) && q.header("authorization") != Some(format!("Bearer {}", sb.token).as_str()))
            .collect();
        let expected_checks = usize::from(gives == RenewalToken::Rejected);
        assert_eq!(with_new.len(), expected_checks, "{gives:?}: {with_new:#?}");
        assert!(with_new.iter().all(|q| q.path.ends_with("/me")), "{with_new:#?}");
    }
}
