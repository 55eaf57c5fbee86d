//! `user_lifetime_insights`: audience demographics of every account, one record per account,
//! breakdown, metric, timeframe and day read, keeping every dimension.
//!
//! Owns the declaration, the operations (one per account, breakdown and timeframe Meta keeps,
//! `this_week` and `this_month`; all accounts in one group) and the record shape: each record
//! carries the UTC day it was read (`date`), which with the timeframe is in its primary key,
//! so append + dedup keeps one snapshot per day (the audience's history). A breakdown Meta does
//! not serve for a metric (code 1 "An unknown error has occurred.") is asked again per metric,
//! and the metric that is still refused is left out of that breakdown with one warning. It must
//! not ask time series (see `user_insights`).

use super::StreamDef;
use crate::emit;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::engine::{Cx, Family, shape};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::refusals;
use crate::state;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const USER_LIFETIME_INSIGHTS: StreamDef = StreamDef {
    name: "user_lifetime_insights",
    primary_key: &["business_account_id", "breakdown", "metric", "timeframe", "date"],
    cursor_field: None,
    schema: include_str!("../../../schemas/user_lifetime_insights.json"),
    parent: Some("users"),
    fields: None,
};

const SCOPE: &str = "demographics";
const STREAM: &str = USER_LIFETIME_INSIGHTS.name;

/// The family: operations in flight by tag.
#[derive(Default)]
pub struct Demographics {
    asked: BTreeMap<u64, (Pending, Vec<&'static str>)>,
    retry: Vec<Pending>,
    /// (account, breakdown, metric) Meta refused for that account only.
    without: Vec<(usize, &'static str, &'static str)>,
    /// (metric, breakdown) Meta does not serve (code 1 on that metric alone).
    refused: BTreeSet<(&'static str, &'static str)>,
    /// Accounts whose demographics Meta declined (one warning each).
    declined: BTreeSet<usize>,
    next_tag: u64,
}

/// One operation to ask: account, breakdown, timeframe, rounds so far, and the one metric it
/// asks when Meta refused the breakdown for the metrics together.
#[derive(Clone, Copy)]
struct Pending {
    a: usize,
    breakdown: &'static str,
    timeframe: &'static str,
    rounds: u32,
    only: Option<&'static str>,
}

impl Demographics {
    fn ask(&mut self, cx: &mut Cx<'_>, pending: Vec<Pending>) {
        let mut group = Vec::new();
        for op in pending {
            let Pending { a, breakdown, timeframe, only, .. } = op;
            let mut metrics = cx.policy.active(SCOPE, cx.table.demographics);
            metrics.retain(|m| {
                !self.without.contains(&(a, breakdown, *m))
                    && !self.refused.contains(&(*m, breakdown))
                    && only.is_none_or(|o| o == *m)
            });
            if metrics.is_empty() {
                continue;
            }
            let joined = metrics.join(",");
            let url = cx.client.relative_url(
                &format!("{}/insights", cx.accounts[a].ig_id),
                &[
                    ("metric", joined.as_str()),
                    ("period", "lifetime"),
                    ("metric_type", "total_value"),
                    ("breakdown", breakdown),
                    ("timeframe", timeframe),
                ],
            );
            group.push((self.next_tag, url));
            self.asked.insert(self.next_tag, (op, metrics.clone()));
            self.next_tag += 1;
        }
        cx.ops(group);
    }
}

impl Family for Demographics {
    fn streams(&self) -> &'static [&'static str] {
        &[USER_LIFETIME_INSIGHTS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let mut pending = Vec::new();
        for a in 0..cx.accounts.len() {
            for breakdown in cx.table.breakdowns {
                for timeframe in cx.table.demographics_timeframes {
                    pending.push(Pending { a, breakdown, timeframe, rounds: 0, only: None });
                }
            }
        }
        self.ask(cx, pending);
        Ok(())
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let (op, metrics) = self
            .asked
            .remove(&tag)
            .ok_or_else(|| ConnectorError::system("an answer for an unknown demographics operation"))?;
        let Pending { a, breakdown, timeframe, rounds, .. } = op;
        let account = cx.accounts[a].ig_id.clone();
        match answer {
            Ok(body) => {
                let what = format!("the audience demographics of {account} by `{breakdown}` ({timeframe})");
                let mut skipped = 0;
                for item in shape::data_array(&body, STREAM, &format!("an answer for {what}"))? {
                    match demographic_record(item, breakdown, timeframe) {
                        Some(mut record) => {
                            record.insert("date".into(), json!(cx.now.format("%Y-%m-%d").to_string()));
                            cx.enrich(&mut record, a);
                            cx.record(STREAM, record);
                        }
                        None => skipped += 1,
                    }
                }
                shape::warn_skipped(STREAM, &what, skipped, "`name` or `total_value.breakdowns`");
            }
            // Meta does not serve this breakdown for (one of) the metrics (code 1 "An unknown
            // error has occurred."): each metric alone, and a metric still refused alone is
            // left out of that breakdown for the read (there is no demographics metric without
            // a breakdown to fall back to).
            Err(err) if err.graph().is_some_and(refusals::is_breakdown_refusal) => {
                if let [metric] = metrics.as_slice() {
                    if self.refused.insert((metric, breakdown)) {
                        emit::warn(&format!(
                            "Meta does not serve `{metric}` by `{breakdown}` ({}); user_lifetime_insights go on without it",
                            err.graph().map(|g| g.message.as_str()).unwrap_or("")
                        ));
                    }
                } else {
                    self.retry.extend(metrics.iter().map(|m| Pending { rounds: rounds + 1, only: Some(*m), ..op }));
                }
            }
            Err(err) => {
                let doing = format!("reading audience demographics of {account} by {breakdown} ({timeframe})");
                let failure =
                    ops::on_op_error(cx.policy, err, SCOPE, &metrics, rounds, ops::no_insights_for_account, &doing);
                match failure {
                    OpFailure::Retry | OpFailure::RetryWithout(_) if rounds + 1 < MAX_INSIGHT_ROUNDS => {
                        // Demographics are asked together: a metric Meta refuses for one
                        // account's breakdown is left out of that account's breakdown only.
                        if let OpFailure::RetryWithout(m) = failure {
                            self.without.push((a, breakdown, m));
                        }
                        let only = Some(metrics[0]).filter(|_| metrics.len() == 1);
                        self.retry.push(Pending { rounds: rounds + 1, only, ..op })
                    }
                    OpFailure::Retry | OpFailure::RetryWithout(_) => {}
                    OpFailure::Skip(reason) => {
                        if self.declined.insert(a) {
                            emit::warn(&format!(
                                "No audience demographics for account {account} by {breakdown} ({timeframe}), nor by any other breakdown or timeframe Meta declines the same way: {reason}"
                            ))
                        }
                    }
                    OpFailure::Fail(e) => return Err(e.in_stream(STREAM)),
                }
            }
        }
        Ok(())
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let retry = std::mem::take(&mut self.retry);
        self.ask(cx, retry);
        if self.asked.is_empty() {
            cx.checkpoint(STREAM, state::no_cursor_state());
        }
        Ok(())
    }
}

/// One `user_lifetime_insights` record from one demographics metric, keeping every dimension.
///
/// Meta's reference example carries the timeframe as the first dimension (`dimension_keys:
/// ["timeframe","country"]`, values `["LAST_90_DAYS","AR"]`), another capture only the
/// breakdown's keys: both give the same record, the timeframe (lower case) in `timeframe` and
/// the breakdown's dimensions in `dimension_keys`, `value` and `results`.
pub fn demographic_record(item: &Value, breakdown: &str, timeframe: &str) -> Option<Map<String, Value>> {
    let metric = item.get("name")?.as_str()?;
    let first = item.pointer("/total_value/breakdowns/0")?;
    let mut keys: Vec<String> = match first.get("dimension_keys") {
        Some(k) if k.is_array() => shape::strings(Some(k)),
        _ => breakdown.split(',').map(str::to_string).collect(),
    };
    let mut rows: Vec<(Vec<String>, Value)> = Vec::new();
    for r in first.get("results").and_then(Value::as_array).into_iter().flatten() {
        let dims = shape::strings(r.get("dimension_values"));
        rows.push((dims, r.get("value").cloned().unwrap_or(Value::Null)));
    }
    let mut timeframe = timeframe.to_string();
    if keys.first().is_some_and(|k| k == "timeframe") {
        let frames: BTreeSet<String> = rows.iter().filter_map(|(d, _)| d.first().map(|f| f.to_lowercase())).collect();
        // One timeframe throughout (what was asked): it goes to `timeframe`.
        if frames.len() <= 1 && rows.iter().all(|(d, _)| !d.is_empty()) {
            timeframe = frames.into_iter().next().unwrap_or(timeframe);
            keys.remove(0);
            rows.iter_mut().for_each(|(d, _)| {
                d.remove(0);
            });
        }
    }
    let mut value = Map::new();
    let mut results = Vec::new();
    for (dims, v) in rows {
        value.insert(dims.join(","), v.clone());
        results.push(json!({"dimension_values": dims, "value": v}));
    }
    let mut record = Map::new();
    record.insert("breakdown".into(), json!(breakdown));
    record.insert("metric".into(), json!(metric));
    record.insert("timeframe".into(), json!(timeframe));
    record.insert("dimension_keys".into(), json!(keys));
    record.insert("value".into(), Value::Object(value));
    record.insert("results".into(), Value::Array(results));
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `age,gender` keeps both dimensions; no two buckets collapse.
    #[test]
    fn demographics_keep_every_dimension() {
        let item = json!({"name": "follower_demographics", "total_value": {"breakdowns": [{
        "dimension_keys": ["age", "gender"],
        "results": [
            {"dimension_values": ["18-24", "F"], "value": 5},
            {"dimension_values": ["18-24", "M"], "value": 7},
        ]}]}});
        let r = demographic_record(&item, "age,gender", "this_month").unwrap();
        assert_eq!(r["value"], json!({"18-24,F": 5, "18-24,M": 7}));
        assert_eq!(r["results"].as_array().unwrap().len(), 2);
        assert_eq!(r["dimension_keys"], json!(["age", "gender"]));
    }

    /// The timeframe as first dimension (Meta's example) and the breakdown alone (another
    /// capture) give the same record.
    #[test]
    fn timeframe_dimension_is_the_timeframe() {
        let with = json!({"name": "engaged_audience_demographics", "total_value": {"breakdowns": [{
            "dimension_keys": ["timeframe", "country"],
            "results": [{"dimension_values": ["THIS_MONTH", "AR"], "value": 1},
                        {"dimension_values": ["THIS_MONTH", "US"], "value": 7}]}]}});
        let without = json!({"name": "engaged_audience_demographics", "total_value": {"breakdowns": [{
            "dimension_keys": ["country"],
            "results": [{"dimension_values": ["AR"], "value": 1}, {"dimension_values": ["US"], "value": 7}]}]}});
        let a = demographic_record(&with, "country", "this_month").unwrap();
        assert_eq!(a, demographic_record(&without, "country", "this_month").unwrap());
        assert_eq!(a["value"], json!({"AR": 1, "US": 7}));
        assert_eq!(a["dimension_keys"], json!(["country"]));
        let ninety = with.to_string().replace("THIS_MONTH", "LAST_90_DAYS");
        let b = demographic_record(&serde_json::from_str(&ninety).unwrap(), "country", "this_month").unwrap();
        assert_eq!(b["timeframe"], "last_90_days");
    }
}
