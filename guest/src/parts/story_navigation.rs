//! The story metrics Meta serves with a breakdown (`navigation` by
//! `story_navigation_action_type`), and their merge into the `story_insights` record.
//!
//! Meta serves a breakdown only on a request naming that one metric
//! (`{story-id}/insights?metric=navigation&breakdown=story_navigation_action_type`); the answer
//! is `data[0].total_value` = `{value, breakdowns:[{dimension_keys, results:[{dimension_values:
//! [action], value}]}]}`. This module asks that operation for each story, and holds a story's
//! record until both its main insights (from `object_insights`, in hold mode) and its breakdown
//! are answered, then emits one record: the metric's total under its own name (`navigation`)
//! and the parts under `navigation_breakdown` (`{tap_forward, tap_back, tap_exit,
//! swipe_forward}`). A breakdown Meta refuses (code 1 "An unknown error has occurred.", how Meta
//! answers a breakdown it does not serve) is dropped for the read with one warning, and the
//! plain metric is asked instead: the record carries the total without its parts. Actions
//! spelled in upper case (`TAP_FORWARD`, some captures) are emitted in lower case, as the docs
//! spell them. It must not page the stories edge.

use crate::emit;
use crate::engine::Cx;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::refusals;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Tags of breakdown operations start here (above `object_insights::TAG_BASE`'s range).
pub const TAG_BASE: u64 = 1 << 41;

const SCOPE: &str = "STORY";

/// What is known of one story so far.
#[derive(Default)]
struct Pending {
    /// `Some(None)`: main insights skipped.
    main: Option<Option<Map<String, Value>>>,
    /// Breakdown columns; `Some(empty)` once answered, skipped or not asked.
    parts: Option<Map<String, Value>>,
}

/// The breakdown operations of `story_insights` in flight.
pub struct StoryBreakdowns {
    stream: &'static str,
    pending: BTreeMap<String, Pending>,
    /// (story, account, metric, breakdown or `None` for the plain metric, rounds).
    asked: BTreeMap<u64, (String, usize, &'static str, Option<&'static str>, u32)>,
    retry: Vec<(String, usize, u32)>,
    refused: Vec<&'static str>,
    next_tag: u64,
}

/// `{"data":[{"name":"navigation","total_value":{"value":9,"breakdowns":[{"results":[…]}]}}]}`
/// → `{"navigation": 9, "navigation_breakdown": {"tap_forward": 4, …}}`.
pub fn breakdown_columns(metric: &str, body: &Value) -> std::result::Result<Map<String, Value>, String> {
    let data = body.get("data").and_then(Value::as_array).ok_or("no `data` array")?;
    let mut out = Map::new();
    let Some(item) = data.iter().find(|d| d.get("name").and_then(Value::as_str) == Some(metric)) else {
        return Ok(out); // Meta answers an empty set when it has no data yet.
    };
    let total = item.pointer("/total_value/value").or_else(|| item.pointer("/values/0/value")).cloned();
    let mut parts = Map::new();
    for b in item.pointer("/total_value/breakdowns").and_then(Value::as_array).into_iter().flatten() {
        for r in b.get("results").and_then(Value::as_array).into_iter().flatten() {
            let key = r
                .pointer("/dimension_values/0")
                .and_then(Value::as_str)
                .ok_or("a result without `dimension_values`")?;
            // Some captures spell the actions in upper case (`TAP_FORWARD`); the docs and the
            // records use lower case.
            parts.insert(key.to_ascii_lowercase(), r.get("value").cloned().unwrap_or(Value::Null));
        }
    }
    out.insert(metric.to_string(), total.unwrap_or(Value::Null));
    out.insert(format!("{metric}_breakdown"), Value::Object(parts));
    Ok(out)
}

impl StoryBreakdowns {
    pub fn new(stream: &'static str) -> Self {
        StoryBreakdowns {
            stream,
            pending: BTreeMap::new(),
            asked: BTreeMap::new(),
            retry: Vec::new(),
            refused: Vec::new(),
            next_tag: TAG_BASE,
        }
    }

    pub fn owns(tag: u64) -> bool {
        tag >= TAG_BASE
    }

    /// Ask the breakdowns of these stories (id, account); their records wait for them.
    pub fn ask(&mut self, cx: &mut Cx<'_>, stories: Vec<(String, usize)>) {
        self.ask_rounds(cx, stories.into_iter().map(|(id, a)| (id, a, 0)).collect());
    }

    fn ask_rounds(&mut self, cx: &mut Cx<'_>, stories: Vec<(String, usize, u32)>) {
        let mut ops: BTreeMap<usize, Vec<(u64, String)>> = BTreeMap::new();
        for (id, a, rounds) in stories {
            let entry = self.pending.entry(id.clone()).or_default();
            let wanted: Vec<(&'static str, &'static str)> = cx
                .table
                .story_breakdowns
                .iter()
                .copied()
                .filter(|(m, _)| !cx.policy.active(SCOPE, &[*m]).is_empty())
                .collect();
            let Some(&(metric, breakdown)) = wanted.first() else {
                entry.parts.get_or_insert_with(Map::new);
                continue;
            };
            // A breakdown Meta refused: the plain metric instead.
            let breakdown = Some(breakdown).filter(|_| !self.refused.contains(&metric));
            let mut query = vec![("metric", metric)];
            query.extend(breakdown.map(|b| ("breakdown", b)));
            let url = cx.client.relative_url(&format!("{id}/insights"), &query);
            let tag = self.next_tag;
            self.next_tag += 1;
            ops.entry(a).or_default().push((tag, url));
            self.asked.insert(tag, (id, a, metric, breakdown, rounds));
        }
        for (a, group) in ops {
            cx.ops_of(a, group);
        }
    }

    /// The main insights of a story are settled (`None`: skipped).
    pub fn main_settled(&mut self, id: String, record: Option<Map<String, Value>>) {
        self.pending.entry(id).or_default().main = Some(record);
    }

    pub fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let Some((id, a, metric, breakdown, rounds)) = self.asked.remove(&tag) else {
            return Err(ConnectorError::system(format!("an answer for an unknown {} operation", self.stream)));
        };
        let parts = match answer {
            Ok(body) => {
                let mut columns = breakdown_columns(metric, &body).map_err(|detail| {
                    ConnectorError::system(format!(
                        "The {metric} breakdown of story {id} is not what Meta documents: {detail}"
                    ))
                    .with_internal(body.to_string())
                    .in_stream(self.stream)
                })?;
                if breakdown.is_none() {
                    columns.remove(&format!("{metric}_breakdown"));
                }
                columns
            }
            Err(err) => {
                if let (Some(b), true) = (breakdown, err.graph().is_some_and(refusals::is_breakdown_refusal)) {
                    // Meta does not serve this breakdown (code 1 "An unknown error has
                    // occurred."): the plain metric, for this story and the next ones.
                    if !self.refused.contains(&metric) {
                        self.refused.push(metric);
                        emit::warn(&format!(
                            "Meta refused the `{b}` breakdown of `{metric}` for stories ({}); story_insights carry `{metric}` without it",
                            err.graph().map(|g| g.message.as_str()).unwrap_or("")
                        ));
                    }
                    self.retry.push((id, a, rounds + 1));
                    return Ok(());
                } else {
                    let doing = format!("reading the {metric} breakdown of story {id}");
                    match ops::on_op_error(
                        cx.policy,
                        err,
                        SCOPE,
                        &[metric],
                        rounds,
                        |e| ops::skip_reason(true, e),
                        &doing,
                    ) {
                        // Refused for this story: it goes out without the breakdown.
                        OpFailure::RetryWithout(_) => Map::new(),
                        OpFailure::Retry if rounds + 1 >= MAX_INSIGHT_ROUNDS => {
                            return Err(ConnectorError::system(format!(
                                "Meta kept rejecting the {metric} breakdown of story {id}"
                            ))
                            .in_stream(self.stream));
                        }
                        OpFailure::Retry => {
                            self.retry.push((id, a, rounds + 1));
                            return Ok(());
                        }
                        // The main insights request says why (and warns) for the same story.
                        OpFailure::Skip(_) => Map::new(),
                        OpFailure::Fail(e) => return Err(e.in_stream(self.stream)),
                    }
                }
            }
        };
        self.pending.entry(id).or_default().parts = Some(parts);
        Ok(())
    }

    /// Re-ask operations Meta did not run, and emit every story whose parts are all in.
    pub fn flush(&mut self, cx: &mut Cx<'_>) {
        let retry = std::mem::take(&mut self.retry);
        self.ask_rounds(cx, retry);
        let ready: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.main.is_some() && p.parts.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for id in ready {
            let p = self.pending.remove(&id).expect("listed above");
            if let (Some(Some(mut record)), Some(parts)) = (p.main, p.parts) {
                record.extend(parts);
                cx.record(self.stream, record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Meta's breakdown shape becomes the total and a map of action → count.
    #[test]
    fn navigation_breakdown_flattens() {
        let body = json!({"data": [{"name": "navigation", "period": "lifetime", "values": [{"value": 9}],
            "total_value": {"value": 9, "breakdowns": [{"dimension_keys": ["story_navigation_action_type"],
                "results": [{"dimension_values": ["tap_forward"], "value": 5}, {"dimension_values": ["tap_exit"], "value": 4}]}]}}]});
        let cols = breakdown_columns("navigation", &body).unwrap();
        assert_eq!(cols["navigation"], 9);
        assert_eq!(cols["navigation_breakdown"], json!({"tap_forward": 5, "tap_exit": 4}));
        assert!(breakdown_columns("navigation", &json!({"data": []})).unwrap().is_empty());
        assert!(breakdown_columns("navigation", &json!({})).is_err());
        let upper = body.to_string().replace("tap_forward", "TAP_FORWARD").replace("tap_exit", "TAP_EXIT");
        assert_eq!(breakdown_columns("navigation", &serde_json::from_str(&upper).unwrap()).unwrap(), cols);
    }
}
