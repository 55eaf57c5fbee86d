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

/// Fields that are secrets, only meaningful to the platform's OAuth flow, or the host's token
/// renewal (see `renewal`).
const HOST_ONLY_FIELDS: &[&str] =
    &["access_token", "client_id", "client_secret", crate::renewal::OPTION_FIELD, crate::renewal::RENEWED_AT_FIELD];

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
    /// The whole config as given (secrets included), the base of the updated config a token
    /// renewal hands back to the platform. Never printed.
    pub config: Value,
    /// `api_base_url` as configured (or the login kind's default), without a trailing slash.
    pub api_base_url: String,
}

impl Settings {
    /// The app secret (`client_secret`), when the config holds one: the host signs every call
    /// with `appsecret_proof` (see `network`).
    pub fn app_secret(&self) -> Option<&str> {
        self.config.get("client_secret").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    }
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

fn spec() -> &'static Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(SPEC_SCHEMA).expect("spec.json is valid JSON"))
}

/// The `default` the spec gives a top-level config field (the one place defaults live).
pub fn spec_default(field: &str) -> Option<&'static Value> {
    spec().get("properties")?.get(field)?.get("default")
}

/// The names of every `airbyte_secret` field of the spec (at any depth), plus `access_token`.
fn secret_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        fn walk(schema: &Value, out: &mut Vec<String>) {
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    if prop.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
                        out.push(name.clone());
                    }
                    walk(prop, out);
                }
            }
            for key in ["items", "oneOf", "anyOf", "allOf"] {
                match schema.get(key) {
                    Some(Value::Array(list)) => list.iter().for_each(|s| walk(s, out)),
                    Some(one @ Value::Object(_)) => walk(one, out),
                    _ => {}
                }
            }
        }
        let mut out = vec!["access_token".to_string()];
        walk(spec(), &mut out);
        out.sort();
        out.dedup();
        out
    })
}

/// The config without anything secret or bound to the user's network: without the token, the
/// app's id and secret, every other `airbyte_secret` field, the renewal fields and
/// `api_base_url` (what a recording keeps, see `recording`).
pub fn shareable(config: &Value) -> Value {
    let mut out = config.clone();
    if let Value::Object(o) = &mut out {
        o.retain(|k, _| !HOST_ONLY_FIELDS.contains(&k.as_str()) && !secret_fields().contains(k) && k != "api_base_url");
    }
    out
}

/// Shorter values are not treated as secrets (no Meta credential is this short).
const MIN_SECRET_CHARS: usize = 6;

/// Every value in a config document that may be a secret, whatever the document's shape:
/// all strings and numbers under an `airbyte_secret` field name at any depth (also inside
/// arrays, or a config that is an array of objects), and the document itself when it is a
/// bare string or number (someone pasted a token where the config belongs). Found before
/// any validation message is built, so no message can print them.
pub fn secrets_in(config: &Value) -> Vec<String> {
    fn all_scalars(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| all_scalars(x, out)),
            Value::Object(o) => o.values().for_each(|x| all_scalars(x, out)),
            _ => {}
        }
    }
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    if secret_fields().iter().any(|f| f == k) {
                        all_scalars(x, out);
                    } else {
                        walk(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match config {
        Value::String(_) | Value::Number(_) => all_scalars(config, &mut out),
        _ => walk(config, &mut out),
    }
    // The trimmed form is what the host uses as the token.
    let trimmed: Vec<String> = out.iter().map(|s| s.trim().to_string()).filter(|t| !out.contains(t)).collect();
    out.extend(trimmed);
    // Too short to be a credential, and replacing it could mangle unrelated output.
    out.retain(|s| s.chars().count() >= MIN_SECRET_CHARS);
    out
}

/// The JSON type of a value, for messages that must not quote the value itself.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a schema violation means, in words that never include the offending value (only the
/// rule from the spec and the JSON type of what was given).
fn describe_violation(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let got = json_type(&e.instance);
    match &e.kind {
        K::Type { kind } => {
            let want = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            format!("must be of type {want}, got {got}")
        }
        K::Required { property } => format!("is missing the required field {property}"),
        K::Enum { options } => format!("must be one of {options}"),
        K::Constant { expected_value } => format!("must be {expected_value}"),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::ExclusiveMinimum { limit } => format!("must be more than {limit}"),
        K::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        K::MinLength { limit } => format!("must be at least {limit} characters long"),
        K::MaxLength { limit } => format!("must be at most {limit} characters long"),
        K::MinItems { limit } => format!("must have at least {limit} items"),
        K::MaxItems { limit } => format!("must have at most {limit} items"),
        K::UniqueItems => "must not repeat an item".to_string(),
        K::Pattern { pattern } => format!("does not match the pattern {pattern}"),
        K::Format { format } => format!("is not a valid {format}"),
        K::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        K::AdditionalProperties { unexpected } => {
            format!("has fields the specification does not allow: {}", unexpected.join(", "))
        }
        _ => format!("does not match the connector specification (got {got})"),
    }
}

/// Check the config against `schemas/spec.json`; the first violations name their fields and
/// the rule, never the value given.
fn validate_against_spec(config: &Value) -> Result<(), Failure> {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator =
        VALIDATOR.get_or_init(|| jsonschema::validator_for(spec()).expect("spec.json is a valid JSON schema"));
    let problems: Vec<String> = validator
        .iter_errors(config)
        .take(3)
        .map(|e| {
            let path = e.instance_path.to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            let detail = describe_violation(&e);
            if field.is_empty() { format!("the configuration {detail}") } else { format!("`{field}` {detail}") }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::config(format!("Invalid configuration: {}", problems.join("; "))))
    }
}

impl Settings {
    /// Read and check a config file; every secret in it (whatever its shape) is registered
    /// with `output` first, so no message about the file can print one.
    pub fn load(path: &Path, output: &crate::protocol::Output) -> Result<Settings, Failure> {
        let value = read_json_file(path, "config")?;
        Settings::from_value_for(value, output)
    }

    /// `from_value`, registering the document's secrets with `output` first.
    pub fn from_value_for(value: Value, output: &crate::protocol::Output) -> Result<Settings, Failure> {
        for secret in secrets_in(&value) {
            output.add_secret(&secret);
        }
        Settings::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Settings, Failure> {
        validate_against_spec(&value)?;
        let config = value.clone();
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
        let origin = base_origin(&base)?;
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
            config,
            api_base_url: base.trim_end_matches('/').to_string(),
        })
    }
}

/// The allow-listed origin of `api_base_url`: an http(s) URL with a host and no credentials
/// (the host sends the token itself; `user:password@` would be sent to nobody and only fail
/// later as an unreachable host). Messages never echo the URL's userinfo.
fn base_origin(base: &str) -> Result<Origin, Failure> {
    let parsed = url::Url::parse(base).map_err(|e| {
        Failure::config(format!(
            "Invalid configuration: `api_base_url` is not a URL ({e}); use e.g. https://graph.facebook.com"
        ))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Failure::config(
            "Invalid configuration: `api_base_url` must not contain a user name or password (user:password@host); the connector sends `access_token` itself",
        ));
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Failure::config(format!(
            "Invalid configuration: `api_base_url` must be an http or https URL, not {}:",
            parsed.scheme()
        )));
    }
    Origin::of_url(base).ok_or_else(|| Failure::config("Invalid configuration: `api_base_url` has no host"))
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
            (json!({"access_token": "t", "api_base_url": "http://user:pw@127.0.0.1:9"}), "user name or password"),
            (json!([]), "object"),
        ] {
            let m = Settings::from_value(v).unwrap_err().message;
            assert!(m.contains(field), "{m}");
            assert!(!m.contains("pw@"), "{m}");
        }
    }

    /// Secrets are found in any shape of document, and no validation message quotes a value.
    #[test]
    fn secrets_whatever_the_shape() {
        let s = "EAAB-secret-token";
        for doc in [
            json!([{"access_token": s}]),
            json!(s),
            json!({"nested": {"access_token": [s]}}),
            json!({"access_token": "ok", "client_secret": {"x": s}}),
            json!({"access_token": "ok", "client_id": [1, s]}),
        ] {
            assert!(secrets_in(&doc).iter().any(|x| x == s), "{doc}");
            if let Err(f) = Settings::from_value(doc.clone()) {
                assert!(!f.message.contains(s), "{}", f.message);
            }
        }
        assert!(secrets_in(&json!({"access_token": " padded "})).contains(&"padded".to_string()));
        assert!(secret_fields().contains(&"client_secret".to_string()));
        let m =
            Settings::from_value(json!({"access_token": "abc", "num_workers": "sixteen-workers"})).unwrap_err().message;
        assert!(m.contains("`num_workers` must be of type integer, got a string") && !m.contains("sixteen"), "{m}");
    }
}
