//! The OAuth side of Meta's two logins, as the Airbyte platform and `source-instagram login`
//! run them. Meta serves these from several hosts; the fake serves them all on its one origin
//! (a client maps the hosts to it):
//! - Facebook Login: the dialog `GET /{version}/dialog/oauth?client_id&redirect_uri&state&scope`
//!   (www.facebook.com) and the code exchange `/{version}/oauth/access_token?client_id&
//!   redirect_uri&client_secret&code` (graph.facebook.com; GET, or POST with the parameters in
//!   the form), answered `{"access_token", "token_type": "bearer", "expires_in"}` with a
//!   short-lived user token; `fb_exchange_token` then gives a long-lived one (see `tokens`);
//! - Business Login for Instagram: `GET /oauth/authorize?client_id&redirect_uri&response_type=
//!   code&scope&state` (www.instagram.com) and `POST /oauth/access_token` with the form
//!   `client_id, client_secret, grant_type=authorization_code, redirect_uri, code`
//!   (api.instagram.com), answered `{"access_token", "user_id", "permissions"}` (Meta's
//!   reference page and captures; its Business Login page shows the same inside
//!   `{"data": [...]}`, which [`TokenOptions::ig_code_answer_in_data`] serves), then
//!   `GET /access_token?grant_type=ig_exchange_token&client_secret&access_token` (graph.
//!   instagram.com) for a 60-day token.
//!
//! The dialogs stand for a person who logs in and approves (or, with
//! [`TokenOptions::deny_consent`], declines): they redirect (302) to `redirect_uri` with `code`
//! and `state` (Facebook appends `#_=_`, Instagram `#_`), or with `error=access_denied`. Codes
//! are single-use and expire after [`TokenOptions::code_lifetime`] (Meta: 10 minutes for
//! Facebook, 1 hour for Instagram). Refusals are Meta's: Facebook's in the Graph error envelope
//! (a wrong app id 101, a wrong secret 1, a used code 100/36009, an expired one 100/36007, a
//! `redirect_uri` other than the dialog's 100/36008), Instagram's as `{"error_type":
//! "OAuthException", "code": 400, "error_message"}` ("Invalid platform app", "This authorization
//! code has been used", "Error validating verification code. Please make sure your redirect_uri
//! is identical to the one you used in the OAuth dialog request"). Meta does not document
//! Instagram's words for a wrong secret or an expired code, nor what `ig_exchange_token` says to
//! a token that is already long-lived; the fake's are assumptions (a client must treat every
//! refusal alike). Nothing here knows about HTTP beyond the reply it describes.

use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};

use crate::dataset::Dataset;
use crate::graph_error::GraphError;
use crate::request::Params;
use crate::stable_hash::{BASE62, encode_chars, hash_parts};
use crate::tokens::{LONG_LIVED_EXPIRES_IN, TokenOptions, Tokens};

/// Seconds a Facebook user token from a code exchange is valid (short-lived: hours).
pub const SHORT_LIVED_EXPIRES_IN: i64 = 5_183;

/// Which login a code or token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    Facebook,
    Instagram,
}

/// One authorization code the dialogs issued.
struct Code {
    code: String,
    login: Login,
    redirect_uri: String,
    scopes: Vec<String>,
    issued: Instant,
    used: bool,
}

/// What to answer: a JSON body, an HTML page, or a redirect.
pub(crate) struct OAuthReply {
    pub status: u16,
    pub body: String,
    pub html: bool,
    pub location: Option<String>,
}

impl OAuthReply {
    fn json(status: u16, body: Value) -> Self {
        OAuthReply { status, body: body.to_string(), html: false, location: None }
    }
    fn graph(e: GraphError) -> Self {
        let status = e.http_status;
        OAuthReply::json(status, e.to_body(&crate::graph_error::fbtrace_id("oauth")))
    }
    fn instagram(message: &str) -> Self {
        OAuthReply::json(400, json!({"error_type": "OAuthException", "code": 400, "error_message": message}))
    }
    fn page(status: u16, text: &str) -> Self {
        OAuthReply { status, body: format!("<html><body><p>{text}</p></body></html>"), html: true, location: None }
    }
    fn redirect(location: String) -> Self {
        OAuthReply { status: 302, body: String::new(), html: true, location: Some(location) }
    }
}

/// The codes of one server.
#[derive(Default)]
pub(crate) struct OAuthState {
    codes: Mutex<Vec<Code>>,
}

const REDIRECT_MISMATCH: &str = "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request";

impl OAuthState {
    /// The reply for `segments` when they name an OAuth endpoint of this module.
    pub(crate) fn answer(
        &self,
        ds: &Dataset,
        tokens: &Tokens,
        method: &str,
        segments: &[String],
        params: &Params,
    ) -> Option<OAuthReply> {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        Some(match segments.as_slice() {
            ["dialog", "oauth"] => self.dialog(ds, tokens.options(), params, Login::Facebook),
            ["oauth", "authorize"] => self.dialog(ds, tokens.options(), params, Login::Instagram),
            ["oauth", "access_token"] if params.get("grant_type") == Some("authorization_code") => {
                if method != "POST" {
                    return Some(OAuthReply::instagram("Invalid request: the code exchange must be a POST"));
                }
                self.exchange(ds, tokens, params, Login::Instagram)
            }
            ["oauth", "access_token"] if !params.has("grant_type") && params.has("code") => {
                self.exchange(ds, tokens, params, Login::Facebook)
            }
            ["access_token"] => match tokens.ig_exchange(ds, params) {
                Ok(v) => OAuthReply::json(200, v),
                Err(e) => OAuthReply::graph(e),
            },
            _ => return None,
        })
    }

    /// A login dialog, approved (or declined) at once: a redirect to `redirect_uri`.
    fn dialog(&self, ds: &Dataset, options: &TokenOptions, params: &Params, login: Login) -> OAuthReply {
        if params.get("client_id") != Some(options.app_id.as_str()) {
            return match login {
                Login::Facebook => {
                    OAuthReply::page(400, "Invalid App ID: The provided app ID does not look like a valid app ID.")
                }
                Login::Instagram => OAuthReply::instagram("Invalid platform app"),
            };
        }
        let Some(redirect_uri) = params.get("redirect_uri").filter(|r| r.starts_with("http")) else {
            return OAuthReply::page(400, "URL blocked: the redirect_uri is missing or not a valid URL.");
        };
        if login == Login::Instagram && params.get("response_type") != Some("code") {
            return OAuthReply::instagram("Only response type \"code\" is allowed");
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let fragment = if login == Login::Facebook { "#_=_" } else { "#_" };
        if options.deny_consent {
            query
                .append_pair("error", "access_denied")
                .append_pair("error_reason", "user_denied")
                .append_pair("error_description", "The user denied your request.");
        } else {
            let mut codes = self.codes.lock().unwrap();
            let n = codes.len().to_string();
            let code = format!("AQ{}", encode_chars(hash_parts([ds.token(), redirect_uri, n.as_str()]), 60, BASE62));
            let scopes = params.get("scope").unwrap_or("").split([',', ' ']).filter(|s| !s.is_empty());
            codes.push(Code {
                code: code.clone(),
                login,
                redirect_uri: redirect_uri.to_string(),
                scopes: scopes.map(str::to_string).collect(),
                issued: Instant::now(),
                used: false,
            });
            query.append_pair("code", &code);
        }
        if let Some(state) = params.get("state") {
            query.append_pair("state", state);
        }
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        OAuthReply::redirect(format!("{redirect_uri}{separator}{}{fragment}", query.finish()))
    }

    /// A code exchanged for a short-lived token, or Meta's refusal.
    fn exchange(&self, ds: &Dataset, tokens: &Tokens, params: &Params, login: Login) -> OAuthReply {
        let options = tokens.options();
        let refuse = |fb: GraphError, ig: &str| match login {
            Login::Facebook => OAuthReply::graph(fb),
            Login::Instagram => OAuthReply::instagram(ig),
        };
        if params.get("client_id") != Some(options.app_id.as_str()) {
            let e =
                GraphError::new(400, 101, "OAuthException", "Error validating application. Invalid application ID.");
            return refuse(e, "Invalid platform app");
        }
        if params.get("client_secret") != Some(options.app_secret.as_str()) {
            let message = "Error validating client secret.";
            return refuse(GraphError::new(400, 1, "OAuthException", message), message);
        }
        let mut codes = self.codes.lock().unwrap();
        let given = params.get("code").unwrap_or_default();
        let Some(code) = codes.iter_mut().find(|c| c.code == given && c.login == login) else {
            let e = GraphError::new(400, 100, "OAuthException", "Invalid verification code format.");
            return refuse(e, "Matching code was not found or was already used.");
        };
        if code.used {
            let message = "This authorization code has been used.";
            let e = GraphError::new(400, 100, "OAuthException", message).with_subcode(36009);
            return refuse(e, "This authorization code has been used");
        }
        if code.issued.elapsed() >= options.code_lifetime {
            let message = "This authorization code has expired.";
            return refuse(GraphError::new(400, 100, "OAuthException", message).with_subcode(36007), message);
        }
        if params.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
            let e = GraphError::new(400, 100, "OAuthException", REDIRECT_MISMATCH).with_subcode(36008);
            return refuse(e, REDIRECT_MISMATCH);
        }
        code.used = true;
        let scopes = code.scopes.clone();
        drop(codes);
        match login {
            Login::Facebook => {
                let token = tokens.issue(ds, given, "EAAG", true);
                OAuthReply::json(
                    200,
                    json!({"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED_EXPIRES_IN}),
                )
            }
            Login::Instagram => {
                let token = tokens.issue(ds, given, "IGAA", true);
                let user_id: Value = ds
                    .accounts()
                    .first()
                    .and_then(|a| a.ig_user_id.parse::<u64>().ok())
                    .map_or(Value::Null, |id| json!(id));
                if options.ig_code_answer_in_data {
                    let permissions = scopes.join(",");
                    OAuthReply::json(
                        200,
                        json!({"data": [{"access_token": token, "user_id": user_id.to_string(), "permissions": permissions}]}),
                    )
                } else {
                    OAuthReply::json(200, json!({"access_token": token, "user_id": user_id, "permissions": scopes}))
                }
            }
        }
    }
}

/// `ig_exchange_token`'s answer for a 60-day token (`expires_in`).
pub(crate) fn long_lived_answer(token: &str) -> Value {
    json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_EXPIRES_IN})
}
