//! Incoming and outgoing stream state.
//!
//! Owns the state formats the connector accepts: an array of Airbyte STATE messages (STREAM or
//! LEGACY), a legacy `{stream: state}` object, and per stream both Airbyte's per-partition
//! shape `{"states":[{"partition":{"business_account_id"},"cursor":{"date"}}]}` (which is also
//! what this connector emits) and the older `{"<ig_user_id>": {"date": …}}`. Malformed state is
//! a `config_error`, never a silent reset.

use crate::error::{ConnectorError, Result};
use crate::transform::{format_timestamp, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Split the `--state` input into each stream's own state object.
pub fn parse_input(json: Option<&str>) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    let Some(json) = json else { return Ok(out) };
    if json.trim().is_empty() {
        return Ok(out);
    }
    let value: Value =
        serde_json::from_str(json).map_err(|e| ConnectorError::config(format!("The state is not valid JSON: {e}")))?;
    match value {
        Value::Null => {}
        Value::Array(messages) => {
            for (i, message) in messages.into_iter().enumerate() {
                // Accept whole AirbyteMessages ({"type":"STATE","state":{…}}) as well.
                let message = match message.get("state") {
                    Some(inner) if message.get("type").and_then(Value::as_str) == Some("STATE") => inner.clone(),
                    _ => message,
                };
                match message.get("type").and_then(Value::as_str) {
                    Some("STREAM") => {
                        let name = message
                            .pointer("/stream/stream_descriptor/name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                ConnectorError::config(format!(
                                    "State message {i} has no `stream.stream_descriptor.name`"
                                ))
                            })?;
                        match message.pointer("/stream/stream_state") {
                            None | Some(Value::Null) => {}
                            Some(s) => {
                                out.insert(name.to_string(), s.clone());
                            }
                        }
                    }
                    Some("LEGACY") | None if message.get("data").is_some() => {
                        legacy_object(&message["data"], &mut out)?
                    }
                    Some("GLOBAL") => {
                        return Err(ConnectorError::config(
                            "The state holds a GLOBAL state message; this connector keeps per-stream state only (reset the connection or pass per-stream state)",
                        ));
                    }
                    other => {
                        return Err(ConnectorError::config(format!(
                            "State message {i} has an unknown type {other:?} (expected STREAM or LEGACY)"
                        )));
                    }
                }
            }
        }
        Value::Object(_) => legacy_object(&value, &mut out)?,
        other => {
            return Err(ConnectorError::config(format!(
                "The state must be a JSON array of state messages, got {}",
                if other.is_string() { "a string" } else { "a scalar" }
            )));
        }
    }
    Ok(out)
}

fn legacy_object(value: &Value, out: &mut BTreeMap<String, Value>) -> Result<()> {
    let Value::Object(map) = value else {
        return Err(ConnectorError::config("A legacy state must be an object of stream name to state"));
    };
    for (k, v) in map {
        out.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// One cursor per Instagram account, for one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountCursors {
    cursors: BTreeMap<String, DateTime<Utc>>,
}

impl AccountCursors {
    /// Read a stream's state; `key` is the cursor field (`date`, `timestamp`).
    pub fn parse(stream: &str, key: &str, state: Option<&Value>) -> Result<AccountCursors> {
        let mut cursors = BTreeMap::new();
        let bad = |what: String| {
            ConnectorError::config(format!("The state of stream `{stream}` is malformed: {what}")).in_stream(stream)
        };
        let Some(state) = state else { return Ok(AccountCursors::default()) };
        let Value::Object(obj) = state else {
            return Err(bad(format!("expected an object, got {state}")));
        };
        let parse_cursor = |v: Option<&Value>, whose: &str| -> Result<DateTime<Utc>> {
            let text = v.and_then(Value::as_str).ok_or_else(|| bad(format!("{whose} has no `{key}` string")))?;
            parse_timestamp(text)
                .ok_or_else(|| bad(format!("{whose} has `{key}` = {text:?}, which is not a timestamp")))
        };
        if let Some(states) = obj.get("states") {
            let Value::Array(states) = states else { return Err(bad("`states` is not an array".into())) };
            for (i, entry) in states.iter().enumerate() {
                let id = entry
                    .pointer("/partition/business_account_id")
                    .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())))
                    .ok_or_else(|| bad(format!("states[{i}] has no `partition.business_account_id`")))?;
                let t = parse_cursor(entry.get("cursor").and_then(|c| c.get(key)), &format!("states[{i}].cursor"))?;
                cursors.insert(id, t);
            }
            return Ok(AccountCursors { cursors });
        }
        for (k, v) in obj {
            if k.chars().all(|c| c.is_ascii_digit()) && !k.is_empty() {
                // Legacy: {"<ig_user_id>": {"date": "…"}}
                cursors.insert(k.clone(), parse_cursor(v.get(key), &format!("account {k}"))?);
            } else if k == "__ab_no_cursor_state_message"
                || k == "use_global_cursor"
                || k == "lookback_window"
                || k == "parent_state"
                || k == "state"
            {
                // Markers of Airbyte's formats that carry no per-account cursor.
            } else {
                return Err(bad(format!("unexpected key `{k}`")));
            }
        }
        Ok(AccountCursors { cursors })
    }

    pub fn get(&self, account: &str) -> Option<DateTime<Utc>> {
        self.cursors.get(account).copied()
    }

    /// Where each of `accounts` (IG user ids) starts: on an incremental read with a cursor,
    /// `lookback` before it (not before `earliest`); otherwise `earliest`.
    pub fn starts<'a>(
        &self,
        accounts: impl IntoIterator<Item = &'a str>,
        incremental: bool,
        lookback: chrono::Duration,
        earliest: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        accounts
            .into_iter()
            .map(|a| match (incremental, self.get(a)) {
                (true, Some(cursor)) => (cursor - lookback).max(earliest),
                _ => earliest,
            })
            .collect()
    }

    /// An account-insights stream's cursors (key `date`, those after `now` dropped) and where
    /// each of `accounts` starts: on an incremental read `insights_lookback_days` before its
    /// cursor, else (and never before) the config's insights start.
    pub fn account_insights(
        stream: &str,
        state: Option<&Value>,
        selection: &crate::catalog::Selection,
        config: &crate::config::Config,
        accounts: &[crate::accounts::Account],
        now: DateTime<Utc>,
    ) -> Result<(AccountCursors, Vec<DateTime<Utc>>)> {
        let mut cursors = AccountCursors::parse(stream, "date", state)?;
        cursors.drop_future(stream, now);
        let starts = cursors.starts(
            accounts.iter().map(|a| a.ig_id.as_str()),
            selection.is_incremental(stream),
            chrono::Duration::days(config.insights_lookback_days),
            config.insights_start(now),
        );
        Ok((cursors, starts))
    }

    /// Cursors after `now` cannot come from a real read (a clock or state mix-up): each is
    /// reported with a WARN naming the stream and account, and dropped, so that account is
    /// read as on a first sync (from `start_date` or the default history).
    pub fn drop_future(&mut self, stream: &str, now: DateTime<Utc>) {
        self.cursors.retain(|account, cursor| {
            let future = *cursor > now;
            if future {
                crate::emit::warn(&format!(
                    "The state cursor of stream `{stream}` for account {account} ({}) is in the future; reading that account from start_date as on a first sync instead",
                    format_timestamp(*cursor)
                ));
            }
            !future
        });
    }

    /// Move an account's cursor forward (never back).
    pub fn advance(&mut self, account: &str, to: DateTime<Utc>) {
        let entry = self.cursors.entry(account.to_string()).or_insert(to);
        if to > *entry {
            *entry = to;
        }
    }

    /// The state this connector emits: Airbyte's per-partition shape.
    pub fn to_state(&self, key: &str) -> Value {
        self.to_state_with(key, "", &BTreeMap::new())
    }

    /// [`to_state`](Self::to_state), each account's cursor also carrying `lists[account]`
    /// under `list_key` (see [`parse_lists`]).
    pub fn to_state_with(&self, key: &str, list_key: &str, lists: &BTreeMap<String, Vec<String>>) -> Value {
        let states: Vec<Value> = self
            .cursors
            .iter()
            .map(|(id, t)| {
                let mut cursor = Map::new();
                cursor.insert(key.to_string(), Value::String(format_timestamp(*t)));
                if let Some(list) = lists.get(id) {
                    cursor.insert(list_key.to_string(), json!(list));
                }
                json!({"partition": {"business_account_id": id}, "cursor": cursor})
            })
            .collect();
        json!({ "states": states })
    }
}

/// A list of strings kept beside each account's cursor in the per-partition state
/// (`states[i].cursor.{key}`, e.g. the ids `tagged_media` saw first); accounts without one, or
/// a state in another shape, have none. A list that is not strings is a `config_error`.
pub fn parse_lists(stream: &str, key: &str, state: Option<&Value>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    let Some(states) = state.and_then(|s| s.get("states")).and_then(Value::as_array) else { return Ok(out) };
    for entry in states {
        let (Some(id), Some(list)) = (
            entry.pointer("/partition/business_account_id").and_then(Value::as_str),
            entry.get("cursor").and_then(|c| c.get(key)),
        ) else {
            continue;
        };
        let items: Option<Vec<String>> =
            list.as_array().and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
        let items = items.ok_or_else(|| {
            ConnectorError::config(format!(
                "The state of stream `{stream}` is malformed: account {id} has `{key}` = {list}, which is not a list of ids"
            ))
            .in_stream(stream)
        })?;
        out.insert(id.to_string(), items);
    }
    Ok(out)
}

/// The state of a full-refresh stream (Airbyte's marker of "nothing to resume").
pub fn no_cursor_state() -> Value {
    json!({"__ab_no_cursor_state_message": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every accepted container format yields the per-stream states.
    #[test]
    fn containers() {
        assert!(parse_input(Some("[]")).unwrap().is_empty());
        assert!(parse_input(None).unwrap().is_empty());
        let arr = r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"user_insights"},"stream_state":{"1":{"date":"2026-10-01T07:00:00+00:00"}}}}]"#;
        assert!(parse_input(Some(arr)).unwrap().contains_key("user_insights"));
        let legacy = r#"{"user_insights":{"1":{"date":"2026-10-01T07:00:00+0000"}}}"#;
        assert!(parse_input(Some(legacy)).unwrap().contains_key("user_insights"));
        for bad in ["[1]", "\"x\"", "{", r#"[{"type":"GLOBAL","global":{}}]"#, r#"[{"type":"STREAM","stream":{}}]"#] {
            assert!(parse_input(Some(bad)).is_err(), "{bad}");
        }
    }

    /// Airbyte's per-partition and legacy cursor shapes both parse; ours round-trips.
    #[test]
    fn cursor_formats() {
        let per_partition: Value = serde_json::from_str(
            r#"{"use_global_cursor":false,"states":[{"partition":{"business_account_id":"17841"},"cursor":{"date":"2026-10-01T07:00:00+00:00"}}],"state":{"date":"2026-10-01T07:00:00+00:00"},"lookback_window":1}"#,
        )
        .unwrap();
        let c = AccountCursors::parse("user_insights", "date", Some(&per_partition)).unwrap();
        assert_eq!(format_timestamp(c.get("17841").unwrap()), "2026-10-01T07:00:00+00:00");
        let legacy: Value = serde_json::from_str(r#"{"17841":{"date":"2026-10-01T07:00:00+0000"}}"#).unwrap();
        assert_eq!(AccountCursors::parse("user_insights", "date", Some(&legacy)).unwrap(), c);
        let back = AccountCursors::parse("user_insights", "date", Some(&c.to_state("date"))).unwrap();
        assert_eq!(back, c);
    }

    /// Malformed cursors are refused, naming the stream.
    #[test]
    fn malformed_cursors() {
        for bad in [
            r#"{"states":{}}"#,
            r#"{"states":[{"cursor":{"date":"x"}}]}"#,
            r#"{"123":{"date":"soon"}}"#,
            r#"{"weird":1}"#,
            "5",
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            let e = AccountCursors::parse("user_insights", "date", Some(&v)).unwrap_err();
            assert!(e.message.contains("user_insights"), "{bad}");
        }
    }

    /// Lists beside the cursors round-trip; a list that is not of strings is refused.
    #[test]
    fn lists_beside_cursors() {
        let mut c = AccountCursors::default();
        c.advance("1", parse_timestamp("2026-10-02T00:00:00Z").unwrap());
        let lists = BTreeMap::from([("1".to_string(), vec!["a".to_string(), "b".to_string()])]);
        let state = c.to_state_with("timestamp", "recent_ids", &lists);
        assert_eq!(parse_lists("s", "recent_ids", Some(&state)).unwrap(), lists);
        assert_eq!(AccountCursors::parse("s", "timestamp", Some(&state)).unwrap(), c);
        let bad: Value = serde_json::from_str(
            r#"{"states":[{"partition":{"business_account_id":"1"},"cursor":{"timestamp":"2026-10-02T00:00:00Z","recent_ids":[1]}}]}"#,
        )
        .unwrap();
        assert!(parse_lists("s", "recent_ids", Some(&bad)).unwrap_err().message.contains("recent_ids"));
    }

    /// Cursors only move forward.
    #[test]
    fn advance_is_monotonic() {
        let mut c = AccountCursors::default();
        let t1 = parse_timestamp("2026-10-02T00:00:00Z").unwrap();
        let t0 = parse_timestamp("2026-10-01T00:00:00Z").unwrap();
        c.advance("1", t1);
        c.advance("1", t0);
        assert_eq!(c.get("1"), Some(t1));
    }
}
