//! The public things a user watches: `competitor_usernames` (business discovery),
//! `competitor_media_limit` and `hashtags` (hashtag search).
//!
//! Owns parsing and validating those config fields (each error names its field); `config`
//! calls it. It must not check Meta's hashtag budget (that needs the state, see
//! `parts::hashtag_budget`) nor do I/O.

use crate::error::{ConnectorError, Result};
use serde_json::{Map, Value};

/// Posts read per competitor when `competitor_media_limit` is not set.
pub const DEFAULT_COMPETITOR_MEDIA_LIMIT: u32 = 100;
/// Meta serves at most this many posts of an account (the 10,000 newest).
pub const MAX_COMPETITOR_MEDIA_LIMIT: u32 = 10_000;
/// Longest Instagram username.
const MAX_USERNAME: usize = 30;
/// Longest hashtag Meta accepts in a search.
const MAX_HASHTAG: usize = 100;

/// The validated lists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WatchLists {
    /// Lowercase usernames without `@`, each once, in config order.
    pub competitor_usernames: Vec<String>,
    pub competitor_media_limit: u32,
    /// Lowercase hashtag names without `#`, each once, in config order.
    pub hashtags: Vec<String>,
}

fn field_error(field: &str, problem: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::config(format!("Invalid configuration: `{field}` {problem}"))
}

/// A list of strings, trimmed, lowercased, stripped of `prefix`, empty entries dropped,
/// duplicates dropped; each entry checked by `valid`.
fn names(
    obj: &Map<String, Value>,
    field: &str,
    prefix: char,
    valid: impl Fn(&str) -> std::result::Result<(), String>,
) -> Result<Vec<String>> {
    let items = match obj.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(field_error(field, "must be an array of strings")),
    };
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let Value::String(raw) = item else {
            return Err(field_error(field, format!("must hold strings, got {item}")));
        };
        // Checked as written: lower-casing may add combining marks (`İ` becomes `i̇`).
        let written = raw.trim().trim_start_matches(prefix);
        if written.is_empty() {
            continue;
        }
        valid(written).map_err(|why| {
            let shown: String = raw.chars().take(60).collect();
            let more = if raw.chars().count() > 60 { "…" } else { "" };
            field_error(field, format!("holds {shown:?}{more}, which {why}"))
        })?;
        let name = written.to_lowercase();
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    Ok(out)
}

fn username_rule(name: &str) -> std::result::Result<(), String> {
    if name.chars().count() > MAX_USERNAME {
        return Err(format!("is longer than {MAX_USERNAME} characters (an Instagram username is not)"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        return Err("is not an Instagram username (letters, digits, `.` and `_` only)".into());
    }
    Ok(())
}

fn hashtag_rule(name: &str) -> std::result::Result<(), String> {
    if name.chars().count() > MAX_HASHTAG {
        return Err(format!("is longer than {MAX_HASHTAG} characters"));
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err("is not a hashtag (letters, digits and `_` only; Meta does not search emojis or spaces)".into());
    }
    Ok(())
}

impl WatchLists {
    pub fn parse(obj: &Map<String, Value>) -> Result<WatchLists> {
        let field = "competitor_media_limit";
        let competitor_media_limit = match obj.get(field) {
            None | Some(Value::Null) => DEFAULT_COMPETITOR_MEDIA_LIMIT,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (1..=MAX_COMPETITOR_MEDIA_LIMIT as u64).contains(&v) => v as u32,
                _ => {
                    return Err(field_error(
                        field,
                        format!("must be a whole number from 1 to {MAX_COMPETITOR_MEDIA_LIMIT}, got {n}"),
                    ));
                }
            },
            Some(other) => return Err(field_error(field, format!("must be an integer, got {other}"))),
        };
        Ok(WatchLists {
            competitor_usernames: names(obj, "competitor_usernames", '@', username_rule)?,
            competitor_media_limit,
            hashtags: names(obj, "hashtags", '#', hashtag_rule)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<WatchLists> {
        WatchLists::parse(serde_json::from_str::<Value>(json).unwrap().as_object().unwrap())
    }

    /// Names are normalised and deduplicated; the limit has a default.
    #[test]
    fn normalised() {
        let w = parse(
            r##"{"competitor_usernames":["@Rival_Roasters"," rival_roasters ",""],"hashtags":["#Sunset","café"]}"##,
        )
        .unwrap();
        assert_eq!(w.competitor_usernames, ["rival_roasters"]);
        assert_eq!(w.hashtags, ["sunset", "café"]);
        let turkish = parse(r##"{"hashtags":["İstanbul","#Çay","straße"]}"##).unwrap();
        assert_eq!(turkish.hashtags, ["i\u{307}stanbul", "çay", "straße"]);
        assert_eq!(w.competitor_media_limit, DEFAULT_COMPETITOR_MEDIA_LIMIT);
        assert_eq!(parse("{}").unwrap().hashtags, Vec::<String>::new());
    }

    /// Each bad value names its field.
    #[test]
    fn bad_values_name_the_field() {
        for (json, field) in [
            (r#"{"competitor_usernames":"rival"}"#, "competitor_usernames"),
            (r#"{"competitor_usernames":["no spaces"]}"#, "competitor_usernames"),
            (r#"{"competitor_usernames":[3]}"#, "competitor_usernames"),
            (r#"{"hashtags":["two words"]}"#, "hashtags"),
            (r#"{"hashtags":["🔥"]}"#, "hashtags"),
            (r#"{"competitor_media_limit":0}"#, "competitor_media_limit"),
            (r#"{"competitor_media_limit":"5"}"#, "competitor_media_limit"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.message.contains(field), "{json}: {}", e.message);
        }
        let huge = format!(r#"{{"hashtags":["{} x"]}}"#, "a".repeat(100_000));
        assert!(parse(&huge).unwrap_err().message.len() < 400, "a huge value is not repeated in full");
    }
}
