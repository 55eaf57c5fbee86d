//! The metrics of single objects Meta serves with a breakdown (story `navigation` by
//! `story_navigation_action_type`, `profile_activity` of feed posts and stories by
//! `action_type`; the table's `object_breakdowns`), and their merge into the object's
//! insights record.
//!
//! Meta serves a breakdown only on a request naming that one metric
//! (`{id}/insights?metric=profile_activity&breakdown=action_type`); the answer is
//! `data[0].total_value` = `{value, breakdowns:[{dimension_keys, results:[{dimension_values:
//! [action], value}]}]}`. This module asks that operation for each object and breakdown of
//! its kind, and holds the object's record until its main insights (from `object_insights`,
//! in hold mode) and every breakdown are answered, then emits one record: each metric's total
//! under its own name (`profile_activity`) and the parts under `{metric}_breakdown`
//! (`{bio_link_clicked, call, …}`). Actions are emitted in lower case whichever case Meta
//! answers (the docs spell navigation `tap_forward` and profile activity `BIO_LINK_CLICKED`;
//! captures show the other case of each). A breakdown Meta refuses (code 1 "An unknown error
//! has occurred.", how Meta answers a breakdown it does not serve) is dropped for the read
//! with one warning and the plain metric asked instead: the record carries the total without
//! its parts. It must not page the edges.

use crate::emit;
use crate::engine::Cx;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::metrics::MediaKind;
use crate::refusals;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Tags of breakdown operations start here (above `object_insights::TAG_BASE`'s range).
pub const TAG_BASE: u64 = 1 << 41;

/// What is known of one object so far.
#[derive(Default)]
struct Pending {
    account: usize,
    /// `Some(None)`: main insights skipped.
    main: Option<Option<Map<String, Value>>>,
    /// Breakdown operations not answered for good yet.
    outstanding: usize,
    /// Breakdown columns answered so far.
    parts: Map<String, Value>,
}

/// One breakdown operation: object, account, kind, metric, the breakdown (`None` once Meta
/// refused it: the plain metric), rounds so far.
#[derive(Clone)]
struct Asked {
    id: String,
    account: usize,
    kind: MediaKind,
    metric: &'static str,
    breakdown: Option<&'static str>,
    rounds: u32,
    /// Of those rounds, answered "Unsupported get request" (100/33), which comes and goes.
    unsupported: u32,
}

/// The breakdown operations of one insights stream in flight.
pub struct ObjectBreakdowns {
    stream: &'static str,
    story: bool,
    pending: BTreeMap<String, Pending>,
    asked: BTreeMap<u64, Asked>,
    retry: Vec<Asked>,
    /// Metrics whose breakdown Meta refused during this read.
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
            // Captures and the docs disagree on the case (`TAP_FORWARD`, `bio_link_clicked`):
            // the records use lower case.
            parts.insert(key.to_ascii_lowercase(), r.get("value").cloned().unwrap_or(Value::Null));
        }
    }
    out.insert(metric.to_string(), total.unwrap_or(Value::Null));
    out.insert(format!("{metric}_breakdown"), Value::Object(parts));
    Ok(out)
}

impl ObjectBreakdowns {
    /// `story`: the objects are stories (how "no insights" answers are read).
    pub fn new(stream: &'static str, story: bool) -> Self {
        ObjectBreakdowns {
            stream,
            story,
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

    /// Objects of account `a` whose record is not emitted (or dropped) yet.
    pub fn pending(&self, a: usize) -> usize {
        self.pending.values().filter(|p| p.account == a).count()
    }

    /// Ask the breakdowns of these objects (id, account, kind); their records wait for them.
    pub fn ask(&mut self, cx: &mut Cx<'_>, objects: Vec<(String, usize, MediaKind)>) {
        let mut asked = Vec::new();
        for (id, account, kind) in objects {
            let entry = self.pending.entry(id.clone()).or_default();
            entry.account = account;
            for b in cx.table.object_breakdowns_of(kind) {
                entry.outstanding += 1;
                asked.push(Asked {
                    id: id.clone(),
                    account,
                    kind,
                    metric: b.metric,
                    breakdown: Some(b.breakdown),
                    rounds: 0,
                    unsupported: 0,
                });
            }
        }
        self.ask_ops(cx, asked);
    }

    fn ask_ops(&mut self, cx: &mut Cx<'_>, asked: Vec<Asked>) {
        let mut ops: BTreeMap<usize, Vec<(u64, String)>> = BTreeMap::new();
        for mut op in asked {
            // A metric Meta retired for the kind: nothing to ask.
            if cx.policy.active(op.kind.name(), &[op.metric]).is_empty() {
                self.settle(&op.id, Map::new());
                continue;
            }
            // A breakdown Meta refused: the plain metric instead.
            if self.refused.contains(&op.metric) {
                op.breakdown = None;
            }
            let mut query = vec![("metric", op.metric)];
            query.extend(op.breakdown.map(|b| ("breakdown", b)));
            let url = cx.client.relative_url(&format!("{}/insights", op.id), &query);
            let tag = self.next_tag;
            self.next_tag += 1;
            ops.entry(op.account).or_default().push((tag, url));
            self.asked.insert(tag, op);
        }
        for (a, group) in ops {
            cx.ops_of(a, group);
        }
    }

    /// One breakdown of `id` is in for good (`columns` may be empty).
    fn settle(&mut self, id: &str, columns: Map<String, Value>) {
        if let Some(p) = self.pending.get_mut(id) {
            p.outstanding = p.outstanding.saturating_sub(1);
            p.parts.extend(columns);
        }
    }

    /// The main insights of an object are settled (`None`: skipped).
    pub fn main_settled(&mut self, id: String, record: Option<Map<String, Value>>) {
        self.pending.entry(id).or_default().main = Some(record);
    }

    pub fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let Some(op) = self.asked.remove(&tag) else {
            return Err(ConnectorError::system(format!("an answer for an unknown {} operation", self.stream)));
        };
        let (id, metric) = (op.id.clone(), op.metric);
        let columns = match answer {
            Ok(body) => {
                let mut columns = breakdown_columns(metric, &body).map_err(|detail| {
                    ConnectorError::system(format!(
                        "The {metric} breakdown of {id} is not what Meta documents: {detail}"
                    ))
                    .with_internal(body.to_string())
                    .in_stream(self.stream)
                })?;
                if op.breakdown.is_none() {
                    columns.remove(&format!("{metric}_breakdown"));
                }
                columns
            }
            Err(err) => {
                if let (Some(b), true) = (op.breakdown, err.graph().is_some_and(refusals::is_breakdown_refusal)) {
                    // Meta does not serve this breakdown (code 1 "An unknown error has
                    // occurred."): the plain metric, for this object and the next ones.
                    if !self.refused.contains(&metric) {
                        self.refused.push(metric);
                        emit::warn(&format!(
                            "Meta refused the `{b}` breakdown of `{metric}` ({}); {} carry `{metric}` without it",
                            err.graph().map(|g| g.message.as_str()).unwrap_or(""),
                            self.stream
                        ));
                    }
                    self.retry.push(Asked { rounds: op.rounds + 1, ..op });
                    return Ok(());
                }
                let doing = format!("reading the {metric} breakdown of {id}");
                let story = self.story;
                let unsupported = op.unsupported + u32::from(ops::is_unsupported_get(&err));
                match ops::on_op_error(
                    cx.policy,
                    err,
                    op.kind.name(),
                    &[metric],
                    op.unsupported,
                    |e| ops::skip_reason(story, e),
                    &doing,
                ) {
                    // Refused for this object: it goes out without the breakdown.
                    OpFailure::RetryWithout(_) => Map::new(),
                    OpFailure::Retry if op.rounds + 1 >= MAX_INSIGHT_ROUNDS => {
                        return Err(ConnectorError::system(format!(
                            "Meta kept rejecting the {metric} breakdown of {id}"
                        ))
                        .in_stream(self.stream));
                    }
                    OpFailure::Retry => {
                        self.retry.push(Asked { rounds: op.rounds + 1, unsupported, ..op });
                        return Ok(());
                    }
                    // The main insights request says why (and warns) for the same object.
                    OpFailure::Skip(_) => Map::new(),
                    OpFailure::Fail(e) => return Err(e.in_stream(self.stream)),
                }
            }
        };
        self.settle(&id, columns);
        Ok(())
    }

    /// Re-ask operations Meta did not run, and emit every object whose parts are all in.
    pub fn flush(&mut self, cx: &mut Cx<'_>) {
        let retry = std::mem::take(&mut self.retry);
        self.ask_ops(cx, retry);
        let ready: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.main.is_some() && p.outstanding == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for id in ready {
            let p = self.pending.remove(&id).expect("listed above");
            if let Some(Some(mut record)) = p.main {
                record.extend(p.parts);
                cx.record(self.stream, record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Meta's breakdown shape becomes the total and a map of action → count, in lower case
    /// whichever case Meta answers.
    #[test]
    fn breakdowns_flatten() {
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
        let activity = json!({"data": [{"name": "profile_activity", "total_value": {"value": 3, "breakdowns": [{
            "dimension_keys": ["action_type"],
            "results": [{"dimension_values": ["BIO_LINK_CLICKED"], "value": 2}, {"dimension_values": ["OTHER"], "value": 1}]}]}}]});
        let cols = breakdown_columns("profile_activity", &activity).unwrap();
        assert_eq!(cols["profile_activity_breakdown"], json!({"bio_link_clicked": 2, "other": 1}));
    }
}
