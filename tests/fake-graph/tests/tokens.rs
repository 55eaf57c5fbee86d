//! The two token endpoints: Instagram refresh and Facebook exchange, with Meta's answers
//! and refusals, and the mode where a renewal revokes the token it replaced.

mod common;

use chrono::Duration;
use common::*;
use fake_graph::{DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeOptions, LONG_LIVED_EXPIRES_IN, TokenOptions};

fn refresh_url(graph: &fake_graph::FakeGraph, token: &str) -> String {
    graph.url(&format!("/refresh_access_token?grant_type=ig_refresh_token&access_token={token}"))
}

fn exchange_url(graph: &fake_graph::FakeGraph, id: &str, secret: &str, token: &str) -> String {
    graph.url(&format!(
        "/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id={id}&client_secret={secret}&fb_exchange_token={token}"
    ))
}

/// A refresh answers Meta's documented shape; the new token works, and so does the old one
/// (Meta does not revoke it), unless the server revokes replaced tokens.
#[test]
fn instagram_refresh_issues_a_working_token() {
    let graph = start_small();
    let body = get_plain(&refresh_url(&graph, TOKEN)).ok();
    let new = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], LONG_LIVED_EXPIRES_IN);
    assert_ne!(new, TOKEN);
    assert_eq!(graph.renewed_tokens(), vec![new.clone()]);
    assert_eq!(get_with_token(&graph.url("/v25.0/me"), Some(&new)).status, 200);
    assert_eq!(get(&graph.url("/v25.0/me")).status, 200, "the old token still works by default");

    let revoking = start(
        DatasetSpec::small(),
        FakeOptions {
            tokens: TokenOptions { revoke_on_renewal: true, ..TokenOptions::default() },
            ..FakeOptions::default()
        },
    );
    let new = get_plain(&refresh_url(&revoking, TOKEN)).ok()["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_with_token(&revoking.url("/v25.0/me"), Some(&new)).status, 200);
    let e = get(&revoking.url("/v25.0/me")).error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(190), Some(460)));
}

/// A token under 24 hours old is refused (and a freshly renewed token is such a token); so
/// are a wrong grant type and an unknown token.
#[test]
fn instagram_refresh_refusals() {
    let young = start(
        DatasetSpec::small(),
        FakeOptions {
            tokens: TokenOptions { token_age: Duration::hours(3), ..TokenOptions::default() },
            ..FakeOptions::default()
        },
    );
    let e = get_plain(&refresh_url(&young, TOKEN)).error(400);
    assert_eq!(e["code"], 100);
    assert!(e["message"].as_str().unwrap().contains("24 hours"), "{e}");
    assert!(young.renewed_tokens().is_empty());

    let graph = start_small();
    let new = get_plain(&refresh_url(&graph, TOKEN)).ok()["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_plain(&refresh_url(&graph, &new)).error(400)["code"], 100, "a token renewed just now is too young");
    assert_eq!(get_plain(&refresh_url(&graph, "nope-token")).error(400)["code"], 190);
    let wrong = graph.url(&format!("/refresh_access_token?grant_type=fb_exchange_token&access_token={TOKEN}"));
    assert_eq!(get_plain(&wrong).error(400)["code"], 100);
}

/// The exchange needs the right app id and secret (Meta's codes 101 and 1) and a valid token.
#[test]
fn facebook_exchange_and_its_refusals() {
    let graph = start_small();
    let body = get_plain(&exchange_url(&graph, FAKE_APP_ID, FAKE_APP_SECRET, TOKEN)).ok();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], LONG_LIVED_EXPIRES_IN);
    let new = body["access_token"].as_str().unwrap();
    assert_eq!(get_with_token(&graph.url("/v25.0/me/accounts"), Some(new)).status, 200);
    // No age rule on this side: the new token can be exchanged again at once.
    assert_eq!(get_plain(&exchange_url(&graph, FAKE_APP_ID, FAKE_APP_SECRET, new)).status, 200);

    let e = get_plain(&exchange_url(&graph, FAKE_APP_ID, "wrong-secret", TOKEN)).error(400);
    assert_eq!((e["code"].as_i64(), e["type"].as_str()), (Some(1), Some("OAuthException")));
    assert_eq!(e["message"], "Error validating client secret.");
    let e = get_plain(&exchange_url(&graph, "999", FAKE_APP_SECRET, TOKEN)).error(400);
    assert_eq!(e["code"], 101);
    assert_eq!(get_plain(&exchange_url(&graph, FAKE_APP_ID, FAKE_APP_SECRET, "nope-token")).error(400)["code"], 190);
    assert_eq!(graph.renewed_tokens().len(), 2);
}

/// With "Require App Secret", a call needs `appsecret_proof` = hex HMAC-SHA256 of its token
/// keyed with the app secret: none or a wrong one is Meta's code-100 `GraphMethodException`;
/// a batch carries it on the batch for its operations. Without the setting, nothing is asked.
#[test]
fn appsecret_proof_when_the_app_requires_it() {
    use hmac::{Hmac, Mac};
    let proof = |token: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(FAKE_APP_SECRET.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let graph = start(
        DatasetSpec::small(),
        FakeOptions {
            tokens: TokenOptions { require_appsecret_proof: true, ..TokenOptions::default() },
            ..FakeOptions::default()
        },
    );
    let missing = get(&graph.url("/v25.0/me/accounts")).error(400);
    assert_eq!(missing["code"], 100);
    assert_eq!(missing["type"], "GraphMethodException");
    assert_eq!(missing["message"], "API calls from the server require an appsecret_proof argument");
    let wrong = get(&graph.url("/v25.0/me/accounts?appsecret_proof=00ff")).error(400);
    assert_eq!(wrong["message"], "Invalid appsecret_proof provided in the API argument");
    assert_eq!(get(&graph.url(&format!("/v25.0/me/accounts?appsecret_proof={}", proof(TOKEN)))).status, 200);

    let batch = r#"[{"method":"GET","relative_url":"me"}]"#;
    assert_eq!(post_form(&graph.url("/v25.0/"), &[("batch", batch)]).error(400)["code"], 100);
    let signed = post_form(&graph.url(&format!("/v25.0/?appsecret_proof={}", proof(TOKEN))), &[("batch", batch)]).ok();
    assert_eq!(signed[0]["code"], 200, "{signed}");

    assert_eq!(get(&start_small().url("/v25.0/me/accounts")).status, 200, "not asked without the setting");
}
