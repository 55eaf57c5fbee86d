//! Answers of the wrong shape are errors or named warnings, never an empty success.
//!
//! Owns the checks every stream makes of an answer's frame: an insights or edge answer must
//! carry a `data` array (an empty one is Meta's "nothing yet"); an item inside it that lacks
//! what a record needs is skipped with one warning naming the stream, the object and how many
//! items. It must not decide what a stream does with the items (the stream modules do).

use crate::emit;
use crate::engine::bad_data;
use crate::error::ConnectorError;
use serde_json::Value;

/// The `data` array of `body`, or a `system_error` of `stream` naming `what` was answered.
pub fn data_array<'a>(body: &'a Value, stream: &str, what: &str) -> Result<&'a [Value], ConnectorError> {
    match body.get("data") {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(bad_data(stream, &format!("{what} without a `data` array"), body)),
    }
}

/// One warning for `skipped` items of `what` that lack what a record needs (none when zero).
pub fn warn_skipped(stream: &str, what: &str, skipped: usize, lacking: &str) {
    if skipped > 0 {
        emit::warn(&format!(
            "{stream}: {skipped} item(s) of {what} have no {lacking} and were skipped (Meta's answer is not in the documented shape)"
        ));
    }
}

/// An insights result's `dimension_values` (or any such list) as strings: strings as they
/// are, other values as JSON.
pub fn strings(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `data` must be an array; an empty one is fine.
    #[test]
    fn data_must_be_an_array() {
        assert_eq!(data_array(&json!({"data": []}), "s", "x").unwrap().len(), 0);
        for body in [json!({}), json!({"data": {}}), json!({"data": null}), json!([1])] {
            let e = data_array(&body, "user_insights", "an insights answer").unwrap_err();
            assert_eq!(e.stream.as_deref(), Some("user_insights"));
            assert!(e.message.contains("an insights answer without a `data` array"), "{}", e.message);
        }
    }
}
