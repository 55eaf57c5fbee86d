//! Renewing the access token at the start of a read, so long-lived tokens do not expire.
//!
//! Owns the decision (renewal on, a way to renew, and due: never renewed by us, or renewed
//! `RENEW_AFTER_DAYS` or more ago as `access_token_renewed_at` records), the one request to
//! Meta (`refresh_access_token` with `ig_refresh_token` for Instagram Login; `oauth/access_token`
//! with `fb_exchange_token`, `client_id` and `client_secret` for Facebook Login), and handing
//! the result back: the new token is registered as a secret before anything else is printed,
//! the updated config goes out in the one CONTROL `CONNECTOR_CONFIG` message, and the read
//! continues with settings built from that config. A refusal or a network failure is a WARN
//! and the read continues with the old token. It must never fail a read, renew more than once
//! per read, or print a token anywhere but that CONTROL message (see `protocol`).

use crate::commands::RunEnv;
use crate::network::WaitBudget;
use crate::protocol::Output;
use crate::settings::{self, Settings};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Config option that turns renewal off (`false`); on by default.
pub const OPTION_FIELD: &str = "renew_access_token";
/// Config field the host writes with the time of its last renewal (RFC 3339).
pub const RENEWED_AT_FIELD: &str = "access_token_renewed_at";
/// A token renewed by us less than this many days ago is not renewed again. Meta's long-lived
/// tokens last about 60 days; a weekly renewal leaves weeks of margin for syncs that fail or
/// pause, and stays clear of Instagram's rule that a token must be 24 hours old to refresh.
pub const RENEW_AFTER_DAYS: i64 = 7;

/// How the token can be renewed.
enum Method {
    InstagramRefresh,
    FacebookExchange { client_id: String, client_secret: String },
}

/// What a renewal attempt came to.
enum Outcome {
    Renewed { token: String, expires_in: Option<i64> },
    Refused(String),
}

fn text<'a>(config: &'a Value, field: &str) -> Option<&'a str> {
    config.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// How to renew this config's token, or `None` when renewal is off or impossible (Facebook
/// Login without the app's id and secret).
fn method(config: &Value) -> Option<Method> {
    if config.get(OPTION_FIELD).and_then(Value::as_bool) == Some(false) {
        return None;
    }
    match text(config, "login") {
        Some("instagram") => Some(Method::InstagramRefresh),
        _ => Some(Method::FacebookExchange {
            client_id: text(config, "client_id")?.to_string(),
            client_secret: text(config, "client_secret")?.to_string(),
        }),
    }
}

/// When we last renewed the token, if the config says so.
fn renewed_at(config: &Value) -> Option<DateTime<Utc>> {
    let at = text(config, RENEWED_AT_FIELD)?;
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc))
}

/// The renewal request's URL. Facebook's endpoint is versioned (the configured `api_version`,
/// else the spec's default); Instagram's is not.
fn url(settings: &Settings, method: &Method) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    match method {
        Method::InstagramRefresh => {
            query.append_pair("grant_type", "ig_refresh_token").append_pair("access_token", &settings.token);
            format!("{}/refresh_access_token?{}", settings.api_base_url, query.finish())
        }
        Method::FacebookExchange { client_id, client_secret } => {
            let version = text(&settings.config, "api_version")
                .or_else(|| settings::spec_default("api_version").and_then(Value::as_str))
                .unwrap_or("v25.0");
            query
                .append_pair("grant_type", "fb_exchange_token")
                .append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret)
                .append_pair("fb_exchange_token", &settings.token);
            format!("{}/{version}/oauth/access_token?{}", settings.api_base_url, query.finish())
        }
    }
}

/// Meta's answer, read: a token, or why not (Meta's own error message and code).
fn outcome(status: u16, body: &[u8]) -> Outcome {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status == 200
        && let Some(token) = json.as_ref().and_then(|j| text(j, "access_token"))
    {
        let expires_in = json.as_ref().and_then(|j| j.get("expires_in")).and_then(Value::as_i64);
        return Outcome::Renewed { token: token.to_string(), expires_in };
    }
    let error = json.as_ref().and_then(|j| j.get("error"));
    let message = error.and_then(|e| text(e, "message")).unwrap_or("no error message");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    Outcome::Refused(match code {
        Some(code) => format!("Meta answered HTTP {status}, code {code}: {message}"),
        None => format!("Meta answered HTTP {status} without a token: {message}"),
    })
}

/// Renew the token of `settings` if renewal is on and due. On success, emits the CONTROL
/// message and returns the settings of the updated config; otherwise `None` (keep going with
/// the old token). `check` and `discover` never call this: only a read renews.
pub async fn renew(output: &Output, settings: &Settings, env: &RunEnv) -> Option<Settings> {
    let method = method(&settings.config)?;
    // Library callers may not have registered the config's secrets yet (the CLI has): the
    // request URL carries the token and the app secret, so mask them before anything prints.
    output.add_secret(&settings.token);
    if let Method::FacebookExchange { client_secret, .. } = &method {
        output.add_secret(client_secret);
    }
    let now = env.now.unwrap_or_else(Utc::now);
    if let Some(at) = renewed_at(&settings.config)
        && now - at < chrono::Duration::days(RENEW_AFTER_DAYS)
        && at <= now
    {
        return None;
    }
    let limiter = env.limiters.get(settings, env.clock).ok()?;
    let budget = WaitBudget::new(settings.max_rate_limit_wait);
    let uri: http::Uri = url(settings, &method).parse().ok()?;
    let what = match method {
        Method::InstagramRefresh => "refresh the Instagram access token",
        Method::FacebookExchange { .. } => "exchange the Facebook access token for a new long-lived one",
    };
    let outcome = match limiter.send_host_get(&settings.origin, uri, output, &budget).await {
        Ok((status, body)) => outcome(status, &body),
        Err(why) => Outcome::Refused(format!("no answer from Meta ({why})")),
    };
    let (token, expires_in) = match outcome {
        Outcome::Renewed { token, expires_in } => (token, expires_in),
        Outcome::Refused(why) => {
            output.log(
                "WARN",
                &format!(
                    "Could not {what} ({why}); the read continues with the current token, and the next read tries again. Set `{OPTION_FIELD}` to false to stop renewing."
                ),
            );
            return None;
        }
    };
    // Before anything else is printed: the new token is a secret like the old one.
    output.add_secret(&token);
    let mut config = settings.config.clone();
    config["access_token"] = Value::String(token);
    config[RENEWED_AT_FIELD] = Value::String(now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let renewed = match Settings::from_value(config.clone()) {
        Ok(s) => s,
        Err(f) => {
            output.log("WARN", &format!("Could not {what}: the updated config is not valid ({})", f.message));
            return None;
        }
    };
    output.connector_config(&config);
    let valid = expires_in.map(|s| format!(", valid for about {} days", s / 86_400)).unwrap_or_default();
    output.log(
        "INFO",
        &format!(
            "Renewed the access token{valid}; the updated config (new token, `{RENEWED_AT_FIELD}`) is in the CONTROL message for the platform to store, and the rest of this read uses the new token"
        ),
    );
    Some(renewed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Renewal needs a way to renew and is off with the option.
    #[test]
    fn when_renewal_applies() {
        assert!(matches!(method(&json!({"login": "instagram"})), Some(Method::InstagramRefresh)));
        assert!(method(&json!({"login": "instagram", OPTION_FIELD: false})).is_none());
        assert!(method(&json!({})).is_none(), "Facebook Login needs the app id and secret");
        assert!(method(&json!({"client_id": "1"})).is_none());
        assert!(matches!(
            method(&json!({"client_id": "1", "client_secret": "s"})),
            Some(Method::FacebookExchange { .. })
        ));
        assert!(method(&json!({"client_id": "1", "client_secret": "s", OPTION_FIELD: false})).is_none());
    }

    /// Meta's answers: a token, or its error named by code and message.
    #[test]
    fn reading_metas_answer() {
        let ok = br#"{"access_token":"NEW-TOKEN","token_type":"bearer","expires_in":5183944}"#;
        assert!(
            matches!(outcome(200, ok), Outcome::Renewed { token, expires_in: Some(5183944) } if token == "NEW-TOKEN")
        );
        let refused = br#"{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1}}"#;
        let Outcome::Refused(why) = outcome(400, refused) else { panic!() };
        assert_eq!(why, "Meta answered HTTP 400, code 1: Error validating client secret.");
        assert!(matches!(outcome(200, b"<html>"), Outcome::Refused(_)));
        assert!(matches!(outcome(200, br#"{"access_token":""}"#), Outcome::Refused(_)));
    }

    /// The URLs carry what each endpoint needs, encoded; Facebook's is versioned.
    #[test]
    fn request_urls() {
        let s = Settings::from_value(
            json!({"access_token": "T+K", "api_base_url": "http://127.0.0.1:9/", "api_version": "v24.0"}),
        )
        .unwrap();
        assert_eq!(
            url(&s, &Method::InstagramRefresh),
            "http://127.0.0.1:9/refresh_access_token?grant_type=ig_refresh_token&access_token=T%2BK"
        );
        let fb = Method::FacebookExchange { client_id: "1".into(), client_secret: "s&x".into() };
        assert_eq!(
            url(&s, &fb),
            "http://127.0.0.1:9/v24.0/oauth/access_token?grant_type=fb_exchange_token&client_id=1&client_secret=s%26x&fb_exchange_token=T%2BK"
        );
    }
}
