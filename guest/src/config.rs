//! The connector configuration: parsing, defaults and semantic validation.
//!
//! Owns every rule about what a valid config is (beyond the JSON schema in `schemas/spec.json`,
//! which the host also enforces). The access token is not here: our host keeps it and adds it
//! to allowed requests; a host that leaves it in the config gets it sent by `auth`.

use crate::error::{ConnectorError, Result};
use crate::metrics::DEFAULT_API_VERSION;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Default Graph API host (Facebook Login).
pub const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";
/// Default host with Instagram Login.
pub const INSTAGRAM_API_BASE_URL: &str = "https://graph.instagram.com";

/// How the token was obtained, which decides where accounts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Facebook Login for Business: accounts are the Instagram accounts linked to the Pages
    /// the token can see (`me/accounts`).
    Facebook,
    /// Business Login for Instagram: an Instagram user token on graph.instagram.com; the
    /// account is `me` (no Facebook Page).
    Instagram,
}
/// How far back Meta keeps account insights (about two years; one day of margin).
pub const MAX_HISTORY_DAYS: i64 = 729;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Earliest data the user wants; `None` = as far back as the API allows.
    pub start_date: Option<DateTime<Utc>>,
    /// Only these Instagram account ids (`None` = every account the token can see).
    pub account_ids: Option<Vec<String>>,
    /// Graph API version, e.g. `v25.0`.
    pub api_version: String,
    /// Scheme + host (+ port) of the Graph API, no trailing slash.
    pub api_base_url: String,
    /// Days of `user_insights` re-read on each incremental sync.
    pub insights_lookback_days: i64,
    /// Days of `media` re-read before the cursor on each incremental sync.
    pub media_lookback_days: i64,
    /// Requests in flight at once (Airbyte's `num_workers`).
    pub num_workers: usize,
    pub login: Login,
    /// Competitors and hashtags to read (business discovery, hashtag search).
    pub watch: crate::watch_lists::WatchLists,
}

fn field_error(field: &str, problem: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::config(format!("Invalid configuration: `{field}` {problem}"))
}

impl Config {
    /// Parse and validate `json`; `now` is the current time (for `start_date` checks).
    pub fn parse(json: &str, now: DateTime<Utc>) -> Result<Config> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| ConnectorError::config(format!("The configuration is not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(ConnectorError::config("The configuration must be a JSON object"));
        };
        let string = |field: &str| -> Result<Option<String>> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
                Some(other) => Err(field_error(field, format!("must be a string, got {}", kind(other)))),
            }
        };
        let integer = |field: &str, default: i64, max: i64| -> Result<i64> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(v) if (0..=max).contains(&v) => Ok(v),
                    _ => Err(field_error(field, format!("must be a whole number from 0 to {max}, got {n}"))),
                },
                Some(other) => Err(field_error(field, format!("must be an integer, got {}", kind(other)))),
            }
        };

        let start_date = match string("start_date")? {
            None => None,
            Some(s) => {
                let t = DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| field_error("start_date", format!("must look like 2024-01-25T00:00:00Z, got {s:?}")))?
                    .with_timezone(&Utc);
                if t > now {
                    return Err(field_error(
                        "start_date",
                        format!("cannot be in the future ({s} is after now, {})", now.format("%Y-%m-%dT%H:%M:%SZ")),
                    ));
                }
                Some(t)
            }
        };

        let account_ids = match obj.get("account_ids") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut ids = Vec::new();
                for item in items {
                    let id = match item {
                        Value::String(s) => s.trim().to_string(),
                        Value::Number(n) if n.is_u64() => n.to_string(),
                        other => {
                            return Err(field_error(
                                "account_ids",
                                format!("must hold id strings, got {}", kind(other)),
                            ));
                        }
                    };
                    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                        return Err(field_error(
                            "account_ids",
                            format!("must hold numeric Instagram account ids, got {id:?}"),
                        ));
                    }
                    ids.push(id);
                }
                if ids.is_empty() { None } else { Some(ids) }
            }
            Some(other) => return Err(field_error("account_ids", format!("must be an array, got {}", kind(other)))),
        };

        let api_version = string("api_version")?.unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        if !valid_version(&api_version) {
            return Err(field_error("api_version", format!("must look like v25.0, got {api_version:?}")));
        }

        let login = match string("login")?.as_deref() {
            None | Some("facebook") => Login::Facebook,
            Some("instagram") => Login::Instagram,
            Some(other) => {
                return Err(field_error("login", format!("must be \"facebook\" or \"instagram\", got {other:?}")));
            }
        };
        let default_base = if login == Login::Instagram { INSTAGRAM_API_BASE_URL } else { DEFAULT_API_BASE_URL };
        let api_base_url = normalize_base_url(&string("api_base_url")?.unwrap_or_else(|| default_base.into()))?;

        Ok(Config {
            start_date,
            account_ids,
            api_version,
            api_base_url,
            insights_lookback_days: integer("insights_lookback_days", 2, 28)?,
            media_lookback_days: integer("media_lookback_days", 7, 90)?,
            num_workers: integer("num_workers", 4, 40)?.max(1) as usize,
            login,
            watch: crate::watch_lists::WatchLists::parse(&obj)?,
        })
    }

    /// The earliest instant `user_insights` may ask for: `start_date`, clamped to the API's
    /// ~2-year limit (also the default).
    pub fn insights_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let limit = now - Duration::days(MAX_HISTORY_DAYS);
        match self.start_date {
            Some(s) if s > limit => s,
            _ => limit,
        }
    }

    /// The major version number (`v25.0` → 25).
    pub fn version_major(&self) -> u32 {
        self.api_version[1..].split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn valid_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else { return false };
    let mut parts = rest.split('.');
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    !a.is_empty()
        && !b.is_empty()
        && a.len() <= 3
        && a.chars().all(|c| c.is_ascii_digit())
        && b.chars().all(|c| c.is_ascii_digit())
}

/// Accept `scheme://host[:port][/prefix][/]` (a gateway may serve the Graph API under a path
/// prefix); reject queries, fragments, non-HTTP schemes and a path naming an API version (that
/// belongs in `api_version`).
fn normalize_base_url(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw).map_err(|e| field_error("api_base_url", format!("is not a URL ({e}): {raw:?}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(field_error("api_base_url", format!("must use http or https, got {:?}", url.scheme())));
    }
    if url.host_str().is_none() {
        return Err(field_error("api_base_url", "must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(field_error("api_base_url", format!("must not have a query or fragment, got {raw:?}")));
    }
    let is_version = |s: &str| {
        s.strip_prefix('v').is_some_and(|n| {
            !n.is_empty() && n.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
    };
    if url.path_segments().into_iter().flatten().any(is_version) {
        return Err(field_error(
            "api_base_url",
            format!("must not name an API version (set `api_version` instead), got {raw:?}"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-01T12:00:00Z".parse().unwrap()
    }

    /// An empty object gets every default.
    #[test]
    fn defaults() {
        let c = Config::parse("{}", now()).unwrap();
        assert_eq!(c.api_version, DEFAULT_API_VERSION);
        assert_eq!(c.api_base_url, "https://graph.facebook.com");
        assert_eq!(c.insights_lookback_days, 2);
        assert_eq!(c.media_lookback_days, 7);
        assert_eq!(c.insights_start(now()), now() - Duration::days(MAX_HISTORY_DAYS));
        assert_eq!(c.login, Login::Facebook);
        let ig = Config::parse(r#"{"login":"instagram"}"#, now()).unwrap();
        assert_eq!(ig.api_base_url, INSTAGRAM_API_BASE_URL);
        // A gateway's path prefix is kept (without the trailing slash).
        let gw = Config::parse(r#"{"api_base_url":"https://gw.example.com/meta/graph/"}"#, now()).unwrap();
        assert_eq!(gw.api_base_url, "https://gw.example.com/meta/graph");
    }

    /// Each bad field is named in the error.
    #[test]
    fn bad_fields_are_named() {
        for (json, field) in [
            (r#"{"start_date":"2026-13-01"}"#, "start_date"),
            (r#"{"start_date":"2027-01-01T00:00:00Z"}"#, "start_date"),
            (r#"{"api_version":"25"}"#, "api_version"),
            (r#"{"api_base_url":"ftp://x"}"#, "api_base_url"),
            (r#"{"api_base_url":"https://x/v1"}"#, "api_base_url"),
            (r#"{"api_base_url":"https://x/meta/v25.0/"}"#, "api_base_url"),
            (r#"{"api_base_url":"https://x/?a=1"}"#, "api_base_url"),
            (r#"{"account_ids":["abc"]}"#, "account_ids"),
            (r#"{"insights_lookback_days":99}"#, "insights_lookback_days"),
            (r#"{"media_lookback_days":"7"}"#, "media_lookback_days"),
            (r#"{"login":"myspace"}"#, "login"),
        ] {
            let e = Config::parse(json, now()).unwrap_err();
            assert!(e.message.contains(field), "{json}: {}", e.message);
        }
        assert!(Config::parse("[]", now()).is_err());
        assert!(Config::parse("{", now()).is_err());
    }

    /// A start date older than the API's limit is clamped, a recent one is kept.
    #[test]
    fn insights_start_is_clamped() {
        let c = Config::parse(r#"{"start_date":"2020-01-01T00:00:00Z"}"#, now()).unwrap();
        assert_eq!(c.insights_start(now()), now() - Duration::days(MAX_HISTORY_DAYS));
        let c = Config::parse(r#"{"start_date":"2026-10-01T00:00:00Z"}"#, now()).unwrap();
        assert_eq!(c.insights_start(now()).to_rfc3339(), "2026-10-01T00:00:00+00:00");
    }
}
