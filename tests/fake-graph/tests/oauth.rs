//! Both logins' OAuth endpoints: the dialogs (a redirect with a code, or a refusal), the code
//! exchanges (short-lived tokens, Meta's refusals: wrong app id or secret, a used, expired or
//! unknown code, a `redirect_uri` other than the dialog's) and the exchanges for long-lived
//! tokens.

mod common;

use common::*;
use fake_graph::{
    DatasetSpec, FAKE_APP_ID, FAKE_APP_SECRET, FakeGraph, FakeOptions, SHORT_LIVED_EXPIRES_IN, TokenOptions,
};
use std::time::Duration;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// GET without following redirects: (status, Location).
fn visit(url: &str) -> (u16, Option<String>, String) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let location = response.header("location").map(str::to_string);
    (response.status(), location, response.into_string().unwrap_or_default())
}

fn query(url: &str) -> Vec<(String, String)> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query(url).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn facebook_dialog(graph: &FakeGraph, client_id: &str, redirect: &str) -> (u16, Option<String>, String) {
    visit(&graph.url(&format!(
        "/v25.0/dialog/oauth?client_id={client_id}&redirect_uri={}&state=st4te&scope=instagram_basic%2Cpages_show_list&response_type=code",
        urlencode(redirect)
    )))
}

fn instagram_dialog(graph: &FakeGraph, client_id: &str) -> (u16, Option<String>, String) {
    visit(&graph.url(&format!(
        "/oauth/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=instagram_business_basic%2Cinstagram_business_manage_insights&state=s2",
        urlencode(REDIRECT)
    )))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn facebook_exchange(graph: &FakeGraph, secret: &str, redirect: &str, code: &str) -> Reply {
    get_plain(&graph.url(&format!(
        "/v25.0/oauth/access_token?client_id={FAKE_APP_ID}&redirect_uri={}&client_secret={secret}&code={code}",
        urlencode(redirect)
    )))
}

fn instagram_exchange(graph: &FakeGraph, secret: &str, redirect: &str, code: &str) -> Reply {
    post_form_plain(
        &graph.url("/oauth/access_token"),
        &[
            ("client_id", FAKE_APP_ID),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
            ("code", code),
        ],
    )
}

/// Facebook Login: the dialog redirects with a code and the state; the code gives a
/// short-lived token that works and that `fb_exchange_token` turns into a long-lived one.
#[test]
fn facebook_login_code_to_long_lived_token() {
    let graph = start_small();
    let (status, location, _) = facebook_dialog(&graph, FAKE_APP_ID, REDIRECT);
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")) && location.ends_with("#_=_"), "{location}");
    let location = location.trim_end_matches("#_=_");
    assert_eq!(param(location, "state").as_deref(), Some("st4te"));
    let code = param(location, "code").unwrap();

    let body = facebook_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code).ok();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], SHORT_LIVED_EXPIRES_IN);
    let short = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_with_token(&graph.url("/v25.0/me/accounts"), Some(&short)).status, 200);

    // The same exchange POSTed as a form (how the Airbyte platform sends it) is the same call.
    let (_, again, _) = facebook_dialog(&graph, FAKE_APP_ID, REDIRECT);
    let code2 = param(again.unwrap().trim_end_matches("#_=_"), "code").unwrap();
    let posted = post_form_plain(
        &graph.url("/oauth/access_token"),
        &[("client_id", FAKE_APP_ID), ("redirect_uri", REDIRECT), ("client_secret", FAKE_APP_SECRET), ("code", &code2)],
    );
    assert!(posted.ok()["access_token"].is_string());

    let long = get_plain(&graph.url(&format!(
        "/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id={FAKE_APP_ID}&client_secret={FAKE_APP_SECRET}&fb_exchange_token={short}"
    )))
    .ok();
    assert_ne!(long["access_token"], short.as_str());
    assert_eq!(long["expires_in"], fake_graph::LONG_LIVED_EXPIRES_IN);
}

/// Business Login for Instagram: authorize, a POSTed code exchange, then `ig_exchange_token`.
#[test]
fn instagram_login_code_to_long_lived_token() {
    let graph = start_small();
    let (status, location, _) = instagram_dialog(&graph, FAKE_APP_ID);
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(location.ends_with("#_"), "{location}");
    let location = location.trim_end_matches("#_");
    assert_eq!(param(location, "state").as_deref(), Some("s2"));
    let code = param(location, "code").unwrap();

    // The exchange is a POST; a GET is refused.
    let get = get_plain(&graph.url(&format!(
        "/oauth/access_token?client_id={FAKE_APP_ID}&client_secret={FAKE_APP_SECRET}&grant_type=authorization_code&redirect_uri={}&code={code}",
        urlencode(REDIRECT)
    )));
    assert_eq!(get.status, 400);
    let body = instagram_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code).ok();
    let short = body["access_token"].as_str().unwrap().to_string();
    let account = graph.dataset().accounts()[0].ig_user_id.clone();
    assert_eq!(body["user_id"].to_string(), account);
    assert_eq!(
        body["permissions"],
        serde_json::json!(["instagram_business_basic", "instagram_business_manage_insights"])
    );

    let exchange =
        |secret: &str, token: &str| {
            get_plain(&graph.url(&format!(
                "/access_token?grant_type=ig_exchange_token&client_secret={secret}&access_token={token}"
            )))
        };
    assert_eq!(exchange("wrong-secret-0000", &short).error(400)["code"], 1);
    let long = exchange(FAKE_APP_SECRET, &short).ok();
    let long = long["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_with_token(&graph.url("/me?fields=user_id,username"), Some(&long)).status, 200);
    // Only a short-lived token is exchanged.
    assert_eq!(exchange(FAKE_APP_SECRET, &long).error(400)["code"], 100);
    assert_eq!(exchange(FAKE_APP_SECRET, TOKEN).error(400)["code"], 100);
}

/// Meta's refusals of a code exchange, for both logins.
#[test]
fn code_exchange_refusals() {
    let graph = start_small();
    let fb_code =
        || param(facebook_dialog(&graph, FAKE_APP_ID, REDIRECT).1.unwrap().trim_end_matches("#_=_"), "code").unwrap();
    let ig_code = || param(instagram_dialog(&graph, FAKE_APP_ID).1.unwrap().trim_end_matches("#_"), "code").unwrap();

    // Facebook: the Graph error envelope.
    let code = fb_code();
    let e = facebook_exchange(&graph, "wrong-secret-0000", REDIRECT, &code).error(400);
    assert_eq!((e["code"].as_i64(), e["message"].as_str()), (Some(1), Some("Error validating client secret.")));
    let e = facebook_exchange(&graph, FAKE_APP_SECRET, "http://127.0.0.1:9/other", &code).error(400);
    assert_eq!((e["code"].as_i64(), e["error_subcode"].as_i64()), (Some(100), Some(36008)));
    assert!(e["message"].as_str().unwrap().contains("redirect_uri is identical"));
    facebook_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code).ok();
    let e = facebook_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code).error(400);
    assert_eq!(
        (e["error_subcode"].as_i64(), e["message"].as_str()),
        (Some(36009), Some("This authorization code has been used."))
    );
    let e = facebook_exchange(&graph, FAKE_APP_SECRET, REDIRECT, "AQnot-a-code").error(400);
    assert_eq!(e["code"], 100);
    let wrong_app = get_plain(&graph.url(&format!(
        "/v25.0/oauth/access_token?client_id=999&redirect_uri={}&client_secret={FAKE_APP_SECRET}&code={}",
        urlencode(REDIRECT),
        fb_code()
    )));
    assert_eq!(wrong_app.error(400)["code"], 101);

    // Instagram: its own envelope.
    let ig_error = |r: Reply| {
        assert_eq!(r.status, 400, "{}", r.body);
        let body = r.json();
        assert_eq!((body["error_type"].as_str(), body["code"].as_i64()), (Some("OAuthException"), Some(400)));
        body["error_message"].as_str().unwrap().to_string()
    };
    let code = ig_code();
    assert_eq!(
        ig_error(instagram_exchange(&graph, "wrong-secret-0000", REDIRECT, &code)),
        "Error validating client secret."
    );
    assert!(
        ig_error(instagram_exchange(&graph, FAKE_APP_SECRET, "http://127.0.0.1:9/x", &code)).contains("redirect_uri")
    );
    instagram_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code).ok();
    assert_eq!(
        ig_error(instagram_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &code)),
        "This authorization code has been used"
    );
    // A Facebook code is not an Instagram code.
    assert!(ig_error(instagram_exchange(&graph, FAKE_APP_SECRET, REDIRECT, &fb_code())).contains("not found"));
}

/// Codes expire; the dialogs refuse an unknown app; a person who declines sends
/// `error=access_denied` back; the data-wrapped Instagram answer is served on request.
#[test]
fn expired_codes_unknown_apps_denial_and_answer_shapes() {
    let options = |tokens: TokenOptions| FakeOptions { tokens, ..FakeOptions::default() };
    let expiring =
        start(DatasetSpec::small(), options(TokenOptions { code_lifetime: Duration::ZERO, ..TokenOptions::default() }));
    let code =
        param(facebook_dialog(&expiring, FAKE_APP_ID, REDIRECT).1.unwrap().trim_end_matches("#_=_"), "code").unwrap();
    let e = facebook_exchange(&expiring, FAKE_APP_SECRET, REDIRECT, &code).error(400);
    assert_eq!(
        (e["error_subcode"].as_i64(), e["message"].as_str()),
        (Some(36007), Some("This authorization code has expired."))
    );

    let (status, location, page) = facebook_dialog(&expiring, "42", REDIRECT);
    assert_eq!((status, location), (400, None));
    assert!(page.contains("Invalid App ID"), "{page}");
    let (status, location, body) = instagram_dialog(&expiring, "42");
    assert_eq!((status, location), (400, None));
    assert!(body.contains("Invalid platform app"), "{body}");

    let declining =
        start(DatasetSpec::small(), options(TokenOptions { deny_consent: true, ..TokenOptions::default() }));
    let location = facebook_dialog(&declining, FAKE_APP_ID, REDIRECT).1.unwrap();
    let location = location.trim_end_matches("#_=_");
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "code"), None);
    assert_eq!(param(location, "state").as_deref(), Some("st4te"));

    let wrapped =
        start(DatasetSpec::small(), options(TokenOptions { ig_code_answer_in_data: true, ..TokenOptions::default() }));
    let code = param(instagram_dialog(&wrapped, FAKE_APP_ID).1.unwrap().trim_end_matches("#_"), "code").unwrap();
    let body = instagram_exchange(&wrapped, FAKE_APP_SECRET, REDIRECT, &code).ok();
    assert!(body["data"][0]["access_token"].is_string(), "{body}");
    assert_eq!(body["data"][0]["permissions"], "instagram_business_basic,instagram_business_manage_insights");
}
