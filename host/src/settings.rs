//! The host's view of the user's config file: the secret and the network origin.
//!
//! Owns reading the config file, taking the access token out (the guest gets the config
//! without it) and deriving the allow-listed origin from `api_base_url`. Everything else in
//! the config is the guest's to validate.

use crate::network::Origin;
use crate::protocol::Failure;
use serde_json::Value;
use std::path::Path;

/// Default Graph API host (kept equal to the guest's default).
pub const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";
/// Default host with Instagram Login (`login: instagram`).
pub const INSTAGRAM_API_BASE_URL: &str = "https://graph.instagram.com";

/// Fields that are secrets or only meaningful to the platform's OAuth flow.
const HOST_ONLY_FIELDS: &[&str] = &["access_token", "client_id", "client_secret"];

/// A config file split into what the host keeps and what the guest sees.
#[derive(Debug, Clone)]
pub struct Settings {
    pub token: String,
    pub origin: Origin,
    /// The config JSON without secrets.
    pub guest_config: String,
    /// Cap on the total time a read waits on rate limits.
    pub max_rate_limit_wait: std::time::Duration,
    /// Usage percentage from which requests are spaced out.
    pub usage_slowdown_percent: f64,
}

/// Read a JSON file named by a CLI flag; failures are `config_error`s naming the file.
pub fn read_json_file(path: &Path, what: &str) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("Could not read the {what} file {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::config(format!("The {what} file {} is not valid JSON: {e}", path.display())))
}

/// The connection specification the config must satisfy (also what `spec` prints).
const SPEC_SCHEMA: &str = include_str!("../../schemas/spec.json");

/// Check the config against `schemas/spec.json`; the first violations name their fields.
fn validate_against_spec(config: &Value) -> Result<(), Failure> {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(SPEC_SCHEMA).expect("spec.json is valid JSON");
        jsonschema::validator_for(&schema).expect("spec.json is a valid JSON schema")
    });
    let problems: Vec<String> = validator
        .iter_errors(config)
        .take(3)
        .map(|e| {
            let path = e.instance_path.to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            // Never echo the token's value.
            let detail = if field.starts_with("access_token") {
                "is not a valid token string".to_string()
            } else {
                e.to_string()
            };
            if field.is_empty() { detail } else { format!("`{field}`: {detail}") }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::config(format!("Invalid configuration: {}", problems.join("; "))))
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, Failure> {
        Settings::from_value(read_json_file(path, "config")?)
    }

    pub fn from_value(value: Value) -> Result<Settings, Failure> {
        validate_against_spec(&value)?;
        let Value::Object(mut obj) = value else {
            return Err(Failure::config("The configuration must be a JSON object"));
        };
        let token = match obj.get("access_token") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) => return Err(Failure::config("Invalid configuration: `access_token` is empty")),
            Some(Value::Null) | None => {
                return Err(Failure::config(
                    "Invalid configuration: `access_token` is required (a Facebook or Instagram access token)",
                ));
            }
            Some(_) => return Err(Failure::config("Invalid configuration: `access_token` must be a string")),
        };
        // The allow-list follows the login kind's default host (as the guest's default does).
        let default_base = match obj.get("login").and_then(Value::as_str) {
            Some("instagram") => INSTAGRAM_API_BASE_URL,
            _ => DEFAULT_API_BASE_URL,
        };
        let base = match obj.get("api_base_url") {
            None | Some(Value::Null) => default_base.to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => default_base.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(Failure::config("Invalid configuration: `api_base_url` must be a string")),
        };
        let origin = Origin::of_url(&base).filter(|o| o.scheme == "https" || o.scheme == "http").ok_or_else(|| {
            Failure::config(format!("Invalid configuration: `api_base_url` must be an http(s) URL, got {base:?}"))
        })?;
        let number = |field: &str, default: f64, min: f64, max: f64| -> Result<f64, Failure> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(v) if (min..=max).contains(&v) => Ok(v),
                    _ => Err(Failure::config(format!(
                        "Invalid configuration: `{field}` must be a number from {min} to {max}"
                    ))),
                },
                Some(_) => Err(Failure::config(format!("Invalid configuration: `{field}` must be a number"))),
            }
        };
        let max_wait_minutes = number("rate_limit_max_wait_minutes", 60.0, 0.0, 1440.0)?;
        let usage_slowdown_percent = number("usage_slowdown_percent", 75.0, 1.0, 95.0)?;
        for field in HOST_ONLY_FIELDS {
            obj.remove(*field);
        }
        Ok(Settings {
            token,
            origin,
            guest_config: Value::Object(obj).to_string(),
            max_rate_limit_wait: std::time::Duration::from_secs_f64(max_wait_minutes * 60.0),
            usage_slowdown_percent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The token never reaches the guest's config; the origin follows `api_base_url`.
    #[test]
    fn token_is_kept_by_the_host() {
        let s = Settings::from_value(json!({"access_token": "T0KEN", "api_base_url": "http://127.0.0.1:9/"})).unwrap();
        assert_eq!(s.token, "T0KEN");
        assert!(!s.guest_config.contains("T0KEN"));
        assert_eq!(s.origin.to_string(), "http://127.0.0.1:9");
        let d = Settings::from_value(json!({"access_token": "T0KEN"})).unwrap();
        assert_eq!(d.origin.to_string(), "https://graph.facebook.com:443");
        let ig = Settings::from_value(json!({"access_token": "T0KEN", "login": "instagram"})).unwrap();
        assert_eq!(ig.origin.to_string(), "https://graph.instagram.com:443");
    }

    /// Each bad token or URL names the field.
    #[test]
    fn bad_settings() {
        for (v, field) in [
            (json!({}), "access_token"),
            (json!({"access_token": ""}), "access_token"),
            (json!({"access_token": 5}), "access_token"),
            (json!({"access_token": "t", "api_base_url": "ftp://x"}), "api_base_url"),
            (json!({"access_token": "t", "api_base_url": "nope"}), "api_base_url"),
            (json!([]), "object"),
        ] {
            assert!(Settings::from_value(v).unwrap_err().message.contains(field));
        }
    }
}
