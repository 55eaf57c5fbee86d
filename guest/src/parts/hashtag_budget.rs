//! Meta's hashtag search budget: an Instagram account may search at most [`BUDGET`] unique
//! hashtags in [`WINDOW_DAYS`] rolling days. Hashtag ids are static and global, so each
//! hashtag is searched once and its id kept in the `hashtag_media` state with when and through
//! which account it was searched; the budget survives across syncs through that state.
//!
//! Owns the state format (`{"hashtags": {"<name>": {"id", "searched_at", "account"}}}`), the
//! plan of a read (which hashtags are known, which must be searched) and the `config_error`
//! naming the hashtags a config asks beyond the budget. It must not send requests.

use crate::error::{ConnectorError, Result};
use crate::transform::{format_timestamp, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Unique hashtags an account may search in [`WINDOW_DAYS`] days.
pub const BUDGET: usize = 30;
pub const WINDOW_DAYS: i64 = 7;

/// One searched hashtag.
#[derive(Debug, Clone, PartialEq)]
pub struct Searched {
    pub id: String,
    pub searched_at: DateTime<Utc>,
    /// The IG account whose budget the search used.
    pub account: String,
}

/// Every hashtag id this connection has found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashtagIds {
    known: BTreeMap<String, Searched>,
}

impl HashtagIds {
    /// Read the `hashtag_media` state (absent or Airbyte's no-cursor marker: nothing known).
    pub fn parse(stream: &str, state: Option<&Value>) -> Result<HashtagIds> {
        let bad = |what: String| {
            ConnectorError::config(format!("The state of stream `{stream}` is malformed: {what}")).in_stream(stream)
        };
        let mut known = BTreeMap::new();
        let Some(state) = state else { return Ok(HashtagIds::default()) };
        let Value::Object(obj) = state else { return Err(bad(format!("expected an object, got {state}"))) };
        let Some(tags) = obj.get("hashtags") else { return Ok(HashtagIds::default()) };
        let Value::Object(tags) = tags else { return Err(bad("`hashtags` is not an object".into())) };
        for (name, entry) in tags {
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(id), Some(at), Some(account)) = (text("id"), text("searched_at"), text("account")) else {
                return Err(bad(format!("hashtag `{name}` needs `id`, `searched_at` and `account` strings")));
            };
            let searched_at = parse_timestamp(&at)
                .ok_or_else(|| bad(format!("hashtag `{name}` has `searched_at` = {at:?}, which is not a timestamp")))?;
            known.insert(name.clone(), Searched { id, searched_at, account });
        }
        Ok(HashtagIds { known })
    }

    pub fn id_of(&self, name: &str) -> Option<&str> {
        self.known.get(name).map(|s| s.id.as_str())
    }

    /// Hashtags `account` searched in the window before `now`.
    pub fn used(&self, account: &str, now: DateTime<Utc>) -> usize {
        let since = now - Duration::days(WINDOW_DAYS);
        self.known.values().filter(|s| s.account == account && s.searched_at > since).count()
    }

    /// The hashtags of `wanted` that must be searched through `account` at `now`; a
    /// `config_error` naming the ones past the budget.
    pub fn plan(&self, wanted: &[String], account: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
        let new: Vec<String> = wanted.iter().filter(|n| !self.known.contains_key(*n)).cloned().collect();
        let used = self.used(account, now);
        let room = BUDGET.saturating_sub(used);
        if new.len() > room {
            // Named in full up to a screenful; a list of thousands is summed up.
            const NAMED: usize = 20;
            let mut extra: Vec<String> = new[room..].iter().take(NAMED).map(|n| format!("#{n}")).collect();
            if new.len() - room > NAMED {
                extra.push(format!("and {} more", new.len() - room - NAMED));
            }
            let free_on = self
                .known
                .values()
                .filter(|s| s.account == account && s.searched_at > now - Duration::days(WINDOW_DAYS))
                .map(|s| s.searched_at + Duration::days(WINDOW_DAYS))
                .min()
                .map(|t| format!("; the oldest search leaves the window at {}", format_timestamp(t)))
                .unwrap_or_default();
            return Err(ConnectorError::config(format!(
                "Invalid configuration: `hashtags` asks for more hashtags than Meta lets account {account} search: at most {BUDGET} unique hashtags in {WINDOW_DAYS} days, {used} already searched in that window and {} new in the config. These cannot be searched now: {}. Remove them from `hashtags` or add them later{free_on}.",
                new.len(),
                extra.join(", ")
            )));
        }
        Ok(new)
    }

    /// A search of `name` through `account` found `id` at `now`.
    pub fn found(&mut self, name: &str, id: String, account: &str, now: DateTime<Utc>) {
        self.known.insert(name.to_string(), Searched { id, searched_at: now, account: account.to_string() });
    }

    /// The state to emit: every id still useful (in the config, or still counting against a
    /// budget at `now`).
    pub fn to_state(&self, wanted: &[String], now: DateTime<Utc>) -> Value {
        let since = now - Duration::days(WINDOW_DAYS);
        let mut tags = Map::new();
        for (name, s) in &self.known {
            if wanted.contains(name) || s.searched_at > since {
                tags.insert(
                    name.clone(),
                    json!({"id": s.id, "searched_at": format_timestamp(s.searched_at), "account": s.account}),
                );
            }
        }
        json!({ "hashtags": tags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-01T12:00:00Z".parse().unwrap()
    }

    fn names(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    /// Known hashtags are not searched again; the state round-trips.
    #[test]
    fn known_ids_are_kept() {
        let mut ids = HashtagIds::default();
        ids.found("sunset", "1784".into(), "1", now());
        let back = HashtagIds::parse("hashtag_media", Some(&ids.to_state(&["sunset".into()], now()))).unwrap();
        assert_eq!(back, ids);
        assert!(back.plan(&["sunset".into()], "1", now()).unwrap().is_empty());
        assert_eq!(back.plan(&["sunset".into(), "coffee".into()], "1", now()).unwrap(), ["coffee"]);
        let marker = json!({"__ab_no_cursor_state_message": true});
        assert_eq!(HashtagIds::parse("hashtag_media", Some(&marker)).unwrap(), HashtagIds::default());
    }

    /// Past the budget, the error names exactly the extra hashtags; old searches free room.
    #[test]
    fn budget() {
        let mut ids = HashtagIds::default();
        for n in names(28, "old") {
            ids.found(&n, "1".into(), "A", now() - Duration::days(2));
        }
        let wanted = names(4, "new");
        let e = ids.plan(&wanted, "A", now()).unwrap_err();
        assert!(e.message.contains("#new2, #new3") && !e.message.contains("#new1"), "{}", e.message);
        assert!(e.message.contains("`hashtags`"));
        assert_eq!(ids.plan(&wanted, "B", now()).unwrap().len(), 4, "another account has its own budget");
        let later = now() + Duration::days(6);
        assert_eq!(ids.plan(&wanted, "A", later).unwrap().len(), 4, "searches older than 7 days no longer count");
        assert!(HashtagIds::parse("h", Some(&json!({"hashtags": {"x": {"id": "1"}}}))).is_err());
    }
}
