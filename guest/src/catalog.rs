//! Streams as declared to Airbyte, and the configured catalog: which streams to read and how.
//!
//! Owns the shape of a stream declaration ([`StreamDef`]: the stream modules declare theirs)
//! and its CATALOG entry, and the rules for a valid configured catalog (declared streams,
//! supported sync modes, no duplicates). It must accept exactly what `discover` advertises,
//! and must not import the stream modules (the declarations are handed in).

use crate::error::{ConnectorError, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One stream as declared to Airbyte.
#[derive(Debug)]
pub struct StreamDef {
    pub name: &'static str,
    pub primary_key: &'static [&'static str],
    /// Source-defined cursor; `Some` means the stream supports incremental sync.
    pub cursor_field: Option<&'static str>,
    pub schema: &'static str,
    /// The stream whose objects this one is about (its parent edge), if any.
    pub parent: Option<&'static str>,
    /// Graph fields asked for this stream's objects (for edges), if any.
    pub fields: Option<&'static str>,
}

impl StreamDef {
    pub fn supports_incremental(&self) -> bool {
        self.cursor_field.is_some()
    }

    /// This stream's AirbyteStream entry for the CATALOG.
    pub fn catalog_entry(&self) -> Value {
        let schema: Value =
            serde_json::from_str(self.schema).expect("stream schemas are valid JSON (checked by tests)");
        let modes: Vec<&str> =
            if self.supports_incremental() { vec!["full_refresh", "incremental"] } else { vec!["full_refresh"] };
        let mut entry = json!({
            "name": self.name,
            "json_schema": schema,
            "supported_sync_modes": modes,
            "source_defined_primary_key": self.primary_key.iter().map(|k| vec![*k]).collect::<Vec<_>>(),
            "is_resumable": self.supports_incremental(),
        });
        if let Some(cursor) = self.cursor_field {
            entry["source_defined_cursor"] = json!(true);
            entry["default_cursor_field"] = json!([cursor]);
        }
        entry
    }
}

/// How a stream is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    FullRefresh,
    Incremental,
}

/// The streams selected for a read.
#[derive(Debug, Default)]
pub struct Selection {
    modes: BTreeMap<&'static str, SyncMode>,
    /// Things worth telling the user about the catalog (logged by `read`).
    pub notes: Vec<String>,
}

impl Selection {
    /// The configured catalog `json`, against the `declared` streams.
    pub fn parse(json: &str, declared: &[&'static StreamDef]) -> Result<Selection> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| ConnectorError::config(format!("The configured catalog is not valid JSON: {e}")))?;
        let Some(entries) = value.get("streams").and_then(Value::as_array) else {
            return Err(ConnectorError::config("The configured catalog must be an object with a `streams` array"));
        };
        let mut modes = BTreeMap::new();
        let mut notes = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let name = entry
                .pointer("/stream/name")
                .and_then(Value::as_str)
                .ok_or_else(|| ConnectorError::config(format!("Catalog entry {i} has no `stream.name`")))?;
            let def = declared.iter().find(|s| s.name == name).ok_or_else(|| {
                let known: Vec<&str> = declared.iter().map(|s| s.name).collect();
                ConnectorError::config(format!(
                    "The catalog asks for stream `{name}`, which this connector does not have (streams: {})",
                    known.join(", ")
                ))
            })?;
            let mode = match entry.get("sync_mode").and_then(Value::as_str) {
                Some("full_refresh") => SyncMode::FullRefresh,
                Some("incremental") if def.supports_incremental() => SyncMode::Incremental,
                // As Airbyte's CDK does (and PyAirbyte relies on): a stream without a cursor
                // asked for incremental is read in full.
                Some("incremental") => {
                    notes.push(format!("Stream `{name}` has no cursor, so it is read in full (full_refresh) although the catalog asks for incremental"));
                    SyncMode::FullRefresh
                }
                other => {
                    return Err(ConnectorError::config(format!(
                        "Stream `{name}` has an unknown sync_mode {other:?} (expected full_refresh or incremental)"
                    )));
                }
            };
            if modes.insert(def.name, mode).is_some() {
                return Err(ConnectorError::config(format!("The catalog lists stream `{name}` twice")));
            }
        }
        Ok(Selection { modes, notes })
    }

    pub fn is_selected(&self, stream: &str) -> bool {
        self.modes.contains_key(stream)
    }

    pub fn mode(&self, stream: &str) -> Option<SyncMode> {
        self.modes.get(stream).copied()
    }

    pub fn is_incremental(&self, stream: &str) -> bool {
        self.mode(stream) == Some(SyncMode::Incremental)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.modes.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(entries: &str) -> String {
        format!(r#"{{"streams":[{entries}]}}"#)
    }

    /// Valid entries are accepted; each kind of bad entry is refused with its reason.
    #[test]
    fn catalog_rules() {
        let ok = Selection::parse(
            &cat(r#"{"stream":{"name":"media"},"sync_mode":"incremental","destination_sync_mode":"append"}"#),
            crate::streams::STREAMS,
        )
        .unwrap();
        assert!(ok.is_incremental("media"));
        let users =
            Selection::parse(&cat(r#"{"stream":{"name":"users"},"sync_mode":"incremental"}"#), crate::streams::STREAMS)
                .unwrap();
        assert_eq!(users.mode("users"), Some(SyncMode::FullRefresh));
        assert_eq!(users.notes.len(), 1);
        for (json, needle) in [
            (cat(r#"{"stream":{"name":"Api"},"sync_mode":"full_refresh"}"#), "does not have"),
            (cat(r#"{"stream":{"name":"users"},"sync_mode":"sometimes"}"#), "unknown sync_mode"),
            (
                cat(
                    r#"{"stream":{"name":"users"},"sync_mode":"full_refresh"},{"stream":{"name":"users"},"sync_mode":"full_refresh"}"#,
                ),
                "twice",
            ),
            ("{}".to_string(), "`streams` array"),
            ("nope".to_string(), "not valid JSON"),
        ] {
            let e = Selection::parse(&json, crate::streams::STREAMS).unwrap_err();
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
    }
}
