//! Renewing the access token at the start of a read, so long-lived tokens do not expire, and
//! completing a login: the Airbyte platform's OAuth flow (`advanced_auth` in the spec) leaves a
//! short-lived token in the config, which the first `check` or `read` exchanges for a
//! long-lived one.
//!
//! Owns the decision (renewal on, a way to renew, and due: never renewed by us, or renewed
//! `RENEW_AFTER_DAYS` or more ago as `access_token_renewed_at` records; `check` only completes
//! a login, i.e. exchanges a token we never renewed), the request to Meta
//! (`refresh_access_token` with `ig_refresh_token`, or `access_token` with `ig_exchange_token`
//! and the app secret for a token we never renewed, for Instagram Login; `oauth/access_token`
//! with `fb_exchange_token`, `client_id` and `client_secret` for Facebook Login), and handing
//! the result back: the new token is registered as a secret before anything else is printed,
//! the updated config goes out in the one CONTROL `CONNECTOR_CONFIG` message, and the command
//! continues with settings built from that config. A renewed token is handed over only once
//! it is shown to work: a token shape (printable ASCII, at most `MAX_TOKEN_BYTES`) and one cheap
//! call with it (`me?fields=id`). A refusal, a network failure or an unusable new token is a
//! WARN and the command continues with the old token. It must never fail a command, renew more than
//! once per command, or print a token anywhere but that CONTROL message (see `protocol`).

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

/// Longest token accepted from a renewal. Meta's tokens are a few hundred characters; this
/// leaves room for longer formats while refusing an answer that is not a token at all.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Why `token` cannot be an access token, if it cannot.
fn token_shape_problem(token: &str) -> Option<String> {
    if token.is_empty() {
        return Some("it is empty".into());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Some(format!("it is {} bytes long (a Meta token is a few hundred)", token.len()));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("it holds characters no token has (control characters, spaces or non-ASCII)".into());
    }
    None
}

/// How the token can be renewed.
enum Method {
    InstagramRefresh,
    /// A short-lived token (Business Login for Instagram's code exchange) for a 60-day one.
    InstagramExchange {
        client_secret: String,
    },
    FacebookExchange {
        client_id: String,
        client_secret: String,
    },
}

/// Which command asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// The start of a read: renew when due.
    Read,
    /// `check`: only complete a login, i.e. exchange a token we never renewed (the platform's
    /// OAuth flow leaves a short-lived one) for a long-lived one, so the platform stores the
    /// long-lived token as soon as the source is set up.
    Check,
}

/// What a renewal attempt came to.
enum Outcome {
    Renewed { token: String, expires_in: Option<i64> },
    Refused(String),
}

fn text<'a>(config: &'a Value, field: &str) -> Option<&'a str> {
    config.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The ways to renew this config's token, in the order to try them (a refused exchange falls
/// back to a refresh); none when renewal is off or impossible (Facebook Login without the
/// app's id and secret), or when `check` has no login to complete.
fn methods(config: &Value, moment: Moment) -> Vec<Method> {
    if config.get(OPTION_FIELD).and_then(Value::as_bool) == Some(false) {
        return Vec::new();
    }
    let never_renewed = text(config, RENEWED_AT_FIELD).is_none();
    let secret = text(config, "client_secret").map(str::to_string);
    match text(config, "login") {
        Some("instagram") => {
            let exchange =
                secret.filter(|_| never_renewed).map(|client_secret| Method::InstagramExchange { client_secret });
            let refresh = (moment == Moment::Read).then_some(Method::InstagramRefresh);
            exchange.into_iter().chain(refresh).collect()
        }
        _ => match (text(config, "client_id"), secret) {
            (Some(client_id), Some(client_secret)) if moment == Moment::Read || never_renewed => {
                vec![Method::FacebookExchange { client_id: client_id.to_string(), client_secret }]
            }
            _ => Vec::new(),
        },
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
        Method::InstagramExchange { client_secret } => {
            query
                .append_pair("grant_type", "ig_exchange_token")
                .append_pair("client_secret", client_secret)
                .append_pair("access_token", &settings.token);
            format!("{}/access_token?{}", settings.api_base_url, query.finish())
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

/// Renew the token of `settings` if renewal is on and due (at `moment`). On success, emits the
/// CONTROL message and returns the settings of the updated config; otherwise `None` (keep
/// going with the old token). `discover` never calls this.
pub async fn renew(output: &Output, settings: &Settings, env: &RunEnv, moment: Moment) -> Option<Settings> {
    let methods = methods(&settings.config, moment);
    if methods.is_empty() {
        return None;
    }
    // Library callers may not have registered the config's secrets yet (the CLI has): the
    // request URL carries the token and the app secret, so mask them before anything prints.
    output.add_secret(&settings.token);
    for method in &methods {
        if let Method::FacebookExchange { client_secret, .. } | Method::InstagramExchange { client_secret } = method {
            output.add_secret(client_secret);
        }
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
    let mut renewed = None;
    for (i, method) in methods.iter().enumerate() {
        let uri: http::Uri = url(settings, method).parse().ok()?;
        let what = match method {
            Method::InstagramRefresh => "refresh the Instagram access token",
            Method::InstagramExchange { .. } => "exchange the Instagram access token for a long-lived one",
            Method::FacebookExchange { .. } => "exchange the Facebook access token for a new long-lived one",
        };
        let outcome = match limiter.send_host_get(&settings.origin, uri, None, output, &budget).await {
            Ok((status, body)) => outcome(status, &body),
            Err(why) => Outcome::Refused(format!("no answer from Meta ({why})")),
        };
        match outcome {
            Outcome::Renewed { token, expires_in } => {
                renewed = Some((token, expires_in, what));
                break;
            }
            Outcome::Refused(why) if i + 1 < methods.len() => {
                output.log("INFO", &format!("Could not {what} ({why}); trying a refresh instead."));
            }
            Outcome::Refused(why) => {
                let next = match moment {
                    Moment::Read => "the read continues with the current token, and the next read tries again",
                    Moment::Check => "the check continues with the current token, and the next read tries again",
                };
                output.log(
                    "WARN",
                    &format!("Could not {what} ({why}); {next}. Set `{OPTION_FIELD}` to false to stop renewing."),
                );
            }
        }
    }
    let (token, expires_in, what) = renewed?;
    // Before anything else is printed: the new token is a secret like the old one (a token
    // too long to be one is never echoed, so it need not be registered).
    if token.len() <= MAX_TOKEN_BYTES {
        output.add_secret(&token);
    }
    let keep = match moment {
        Moment::Read => "the read continues with the current token",
        Moment::Check => "the check continues with the current token",
    };
    if let Some(why) = token_shape_problem(&token) {
        output.log("WARN", &format!("The token Meta returned when asked to {what} is not usable ({why}); {keep}."));
        return None;
    }
    if let Err(why) = works(settings, &limiter, output, &budget, &token).await {
        output.log("WARN", &format!("The token Meta returned when asked to {what} does not work ({why}); {keep}."));
        return None;
    }
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
            "Renewed the access token{valid}; the updated config (new token, `{RENEWED_AT_FIELD}`) is in the CONTROL message for the platform to store, and the rest of this command uses the new token"
        ),
    );
    Some(renewed)
}

/// One cheap call with `token` (`me?fields=id`, signed when the config holds the app secret):
/// `Ok` when Meta answers it with the token's node.
async fn works(
    settings: &Settings,
    limiter: &crate::network::Limiter,
    output: &Output,
    budget: &std::sync::Arc<WaitBudget>,
    token: &str,
) -> Result<(), String> {
    let version = text(&settings.config, "api_version")
        .or_else(|| settings::spec_default("api_version").and_then(Value::as_str))
        .unwrap_or("v25.0");
    let mut uri: http::Uri = format!("{}/{version}/me?fields=id", settings.api_base_url)
        .parse()
        .map_err(|_| "the check's URL is not valid".to_string())?;
    if let Some(secret) = settings.app_secret() {
        uri = crate::network::signed_for(&uri, secret, token);
    }
    let (status, body) = limiter.send_host_get(&settings.origin, uri, Some(token), output, budget).await?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let id = json.as_ref().and_then(|j| j.get("id")).is_some_and(|v| v.is_string() || v.is_number());
    if status == 200 && id {
        return Ok(());
    }
    let message = json.as_ref().and_then(|j| j.pointer("/error/message")).and_then(Value::as_str);
    Err(format!("Meta answered a call with it with HTTP {status}: {}", message.unwrap_or("no id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Renewal needs a way to renew and is off with the option; `check` only completes a login
    /// (a token we never renewed, exchanged with the app secret).
    #[test]
    fn when_renewal_applies() {
        let kinds = |config: Value, moment| {
            methods(&config, moment)
                .iter()
                .map(|m| match m {
                    Method::InstagramRefresh => "refresh",
                    Method::InstagramExchange { .. } => "ig-exchange",
                    Method::FacebookExchange { .. } => "fb-exchange",
                })
                .collect::<Vec<_>>()
        };
        let renewed = json!("2026-01-01T00:00:00Z");
        for (config, read, check) in [
            (json!({"login": "instagram"}), vec!["refresh"], vec![]),
            (json!({"login": "instagram", OPTION_FIELD: false}), vec![], vec![]),
            (json!({"login": "instagram", "client_secret": "s"}), vec!["ig-exchange", "refresh"], vec!["ig-exchange"]),
            (json!({"login": "instagram", "client_secret": "s", RENEWED_AT_FIELD: renewed}), vec!["refresh"], vec![]),
            (json!({}), vec![], vec![]),
            (json!({"client_id": "1"}), vec![], vec![]),
            (json!({"client_id": "1", "client_secret": "s"}), vec!["fb-exchange"], vec!["fb-exchange"]),
            (json!({"client_id": "1", "client_secret": "s", RENEWED_AT_FIELD: renewed}), vec!["fb-exchange"], vec![]),
            (json!({"client_id": "1", "client_secret": "s", OPTION_FIELD: false}), vec![], vec![]),
        ] {
            assert_eq!(kinds(config.clone(), Moment::Read), read, "read {config}");
            assert_eq!(kinds(config.clone(), Moment::Check), check, "check {config}");
        }
    }

    /// Meta's answers: a token, or its error named by code and message.
    /// Only a printable token of a sensible length passes the shape check.
    #[test]
    fn token_shapes() {
        assert_eq!(token_shape_problem("EAAGm0PX4ZCpsBA-x_y.z"), None);
        assert!(token_shape_problem("").is_some());
        assert!(token_shape_problem("EAA\u{7}bad").unwrap().contains("control"));
        assert!(token_shape_problem("EAA bad").is_some());
        assert!(token_shape_problem("EAA\nbad").is_some());
        assert!(token_shape_problem(&"A".repeat(8 << 20)).unwrap().contains("bytes long"));
    }

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
        assert_eq!(
            url(&s, &Method::InstagramExchange { client_secret: "s&x".into() }),
            "http://127.0.0.1:9/access_token?grant_type=ig_exchange_token&client_secret=s%26x&access_token=T%2BK"
        );
        let fb = Method::FacebookExchange { client_id: "1".into(), client_secret: "s&x".into() };
        assert_eq!(
            url(&s, &fb),
            "http://127.0.0.1:9/v24.0/oauth/access_token?grant_type=fb_exchange_token&client_id=1&client_secret=s%26x&fb_exchange_token=T%2BK"
        );
    }
}
