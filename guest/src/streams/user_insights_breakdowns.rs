//! `user_insights_breakdowns`: the daily account metrics Meta breaks down, one record per
//! account, day, metric, breakdown and value (`views` by `follower_type` and by
//! `media_product_type`, the interactions by `media_product_type`, `follows_and_unfollows` by
//! `follow_type`, `profile_links_taps` by `contact_button_type`: the table's
//! `user_breakdowns`), incremental on `date` per account, like `user_insights`.
//!
//! Owns the declaration and this stream's part of the `user_insights` family: given the days
//! the family's time series found (Meta's Pacific days, see `days`), one operation per
//! account, day and breakdown (`metric_type=total_value&period=day&breakdown=…`, the day alone
//! as `user_insights` asks its totals), the records, their cursor and checkpoint. A breakdown
//! Meta does not serve for the metrics asked together (code 1) is asked per metric, and the
//! metric still refused is left out with one warning. It must not ask time series (the
//! family's `user_insights` module does).

use super::StreamDef;
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::emit;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::engine::{Cx, shape};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::refusals;
use crate::state::AccountCursors;
use crate::transform::format_timestamp;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const USER_INSIGHTS_BREAKDOWNS: StreamDef = StreamDef {
    name: "user_insights_breakdowns",
    primary_key: &["business_account_id", "date", "metric", "breakdown", "dimension_value"],
    cursor_field: Some("date"),
    schema: include_str!("../../../schemas/user_insights_breakdowns.json"),
    parent: Some("users"),
    fields: None,
};

const STREAM: &str = USER_INSIGHTS_BREAKDOWNS.name;
/// Tags of these operations start here (the family's own are below).
const TAG_BASE: u64 = 1 << 40;

/// One operation: the metrics of one breakdown for one account and day.
#[derive(Clone)]
struct Op {
    account: usize,
    /// The day's `end_time` (its records' `date`).
    day: DateTime<Utc>,
    /// Where the day starts (see `days::day_start`).
    since: DateTime<Utc>,
    breakdown: &'static str,
    metrics: Vec<&'static str>,
    rounds: u32,
}

/// The records of each (account, day).
type DayRecords = BTreeMap<(usize, DateTime<Utc>), Vec<Map<String, Value>>>;

/// This stream's operations, records and cursors.
pub struct AccountBreakdowns {
    cursors: AccountCursors,
    /// Per account: the stream reads days after this.
    pub starts: Vec<DateTime<Utc>>,
    asked: BTreeMap<u64, Op>,
    retry: Vec<Op>,
    records: DayRecords,
    /// (metric, breakdown) Meta does not serve.
    refused: BTreeSet<(&'static str, &'static str)>,
    /// (account, breakdown) Meta declined (one warning each).
    declined: BTreeSet<(usize, &'static str)>,
    next_tag: u64,
}

impl AccountBreakdowns {
    pub fn new(
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let (cursors, starts) =
            AccountCursors::account_insights(STREAM, state.get(STREAM), selection, config, accounts, now)?;
        Ok(AccountBreakdowns {
            cursors,
            starts,
            asked: BTreeMap::new(),
            retry: Vec::new(),
            records: BTreeMap::new(),
            refused: BTreeSet::new(),
            declined: BTreeSet::new(),
            next_tag: TAG_BASE,
        })
    }

    pub fn owns(tag: u64) -> bool {
        tag >= TAG_BASE
    }

    /// Nothing asked and unanswered.
    pub fn idle(&self) -> bool {
        self.asked.is_empty() && self.retry.is_empty()
    }

    /// Ask the breakdowns of these days, as (account, day's end, day's start); days this
    /// stream does not read (before its start, or in the future) are left out.
    pub fn ask_days(&mut self, cx: &mut Cx<'_>, days: &[(usize, DateTime<Utc>, DateTime<Utc>)]) {
        let mut ops = Vec::new();
        for &(account, day, since) in days {
            if day <= self.starts[account] || day > cx.now {
                continue;
            }
            for (breakdown, metrics) in cx.table.user_breakdowns {
                ops.push(Op { account, day, since, breakdown, metrics: metrics.to_vec(), rounds: 0 });
            }
        }
        self.ask(cx, ops);
    }

    fn ask(&mut self, cx: &mut Cx<'_>, ops: Vec<Op>) {
        if !cx.wants(STREAM) {
            return;
        }
        let mut group = Vec::new();
        for mut op in ops {
            let scope = format!("{STREAM}/{}", op.breakdown);
            op.metrics = cx.policy.active(&scope, &op.metrics);
            op.metrics.retain(|m| !self.refused.contains(&(*m, op.breakdown)));
            if op.metrics.is_empty() {
                continue;
            }
            let joined = op.metrics.join(",");
            let url = cx.client.relative_url(
                &format!("{}/insights", cx.accounts[op.account].ig_id),
                &[
                    ("metric", joined.as_str()),
                    ("metric_type", "total_value"),
                    ("period", "day"),
                    ("breakdown", op.breakdown),
                    ("since", &op.since.timestamp().to_string()),
                    ("until", &op.day.timestamp().to_string()),
                ],
            );
            group.push((self.next_tag, url));
            self.asked.insert(self.next_tag, op);
            self.next_tag += 1;
        }
        cx.ops(group);
    }

    pub fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        let op = self
            .asked
            .remove(&tag)
            .ok_or_else(|| ConnectorError::system(format!("an answer for an unknown {STREAM} operation")))?;
        let account = cx.accounts[op.account].ig_id.clone();
        let on = format_timestamp(op.day);
        match answer {
            Ok(body) => {
                let what = format!("the daily totals of {account} by `{}` on {on}", op.breakdown);
                let mut skipped = 0;
                let records = self.records.entry((op.account, op.day)).or_default();
                for item in shape::data_array(&body, STREAM, &format!("an answer for {what}"))? {
                    match breakdown_records(item) {
                        Some(rows) => {
                            for (metric, dimension_value, value) in rows {
                                let mut record = Map::new();
                                record.insert("date".into(), json!(on));
                                record.insert("metric".into(), json!(metric));
                                record.insert("breakdown".into(), json!(op.breakdown));
                                record.insert("dimension_value".into(), json!(dimension_value));
                                record.insert("value".into(), value);
                                cx.enrich(&mut record, op.account);
                                records.push(record);
                            }
                        }
                        None => skipped += 1,
                    }
                }
                shape::warn_skipped(STREAM, &what, skipped, "`name` or `total_value`");
            }
            // Meta does not serve this breakdown for (one of) the metrics (code 1): each
            // metric alone, and a metric still refused alone is left out for the read.
            Err(err) if err.graph().is_some_and(refusals::is_breakdown_refusal) => {
                if let [metric] = op.metrics.as_slice() {
                    if self.refused.insert((metric, op.breakdown)) {
                        emit::warn(&format!(
                            "Meta does not serve `{metric}` by `{}` ({}); {STREAM} go on without it",
                            op.breakdown,
                            err.graph().map(|g| g.message.as_str()).unwrap_or("")
                        ));
                    }
                } else {
                    for m in &op.metrics {
                        self.retry.push(Op { metrics: vec![*m], rounds: op.rounds + 1, ..op.clone() });
                    }
                }
            }
            Err(err) => {
                let scope = format!("{STREAM}/{}", op.breakdown);
                let doing = format!("reading daily account totals of {account} by {}", op.breakdown);
                match ops::on_op_error(
                    cx.policy,
                    err,
                    &scope,
                    &op.metrics,
                    op.rounds,
                    ops::no_insights_for_account,
                    &doing,
                ) {
                    OpFailure::Retry | OpFailure::RetryWithout(_) if op.rounds + 1 >= MAX_INSIGHT_ROUNDS => {
                        return Err(ConnectorError::system(format!(
                            "Meta kept rejecting the daily totals of {account} by {} on {on}",
                            op.breakdown
                        ))
                        .in_stream(STREAM));
                    }
                    OpFailure::Retry => self.retry.push(Op { rounds: op.rounds + 1, ..op }),
                    OpFailure::RetryWithout(metric) => {
                        let metrics = op.metrics.iter().copied().filter(|m| *m != metric).collect();
                        self.retry.push(Op { metrics, rounds: op.rounds + 1, ..op });
                    }
                    OpFailure::Skip(reason) => {
                        if self.declined.insert((op.account, op.breakdown)) {
                            emit::warn(&format!(
                                "No daily totals of account {account} by {} on {on} (nor on any other day Meta declines the same way): {reason}",
                                op.breakdown
                            ));
                        }
                    }
                    OpFailure::Fail(e) => return Err(e.in_stream(STREAM)),
                }
            }
        }
        Ok(())
    }

    /// Ask again, together, the operations that asked for a retry.
    pub fn flush_retries(&mut self, cx: &mut Cx<'_>) {
        let retry = std::mem::take(&mut self.retry);
        self.ask(cx, retry);
    }

    /// Every operation is done: the records of each account, oldest day first, then its
    /// cursor (the last day with records).
    pub fn emit(&mut self, cx: &mut Cx<'_>) {
        if !cx.wants(STREAM) {
            return;
        }
        let mut records = std::mem::take(&mut self.records);
        for a in 0..cx.accounts.len() {
            let days: Vec<(usize, DateTime<Utc>)> = records.keys().filter(|(x, _)| *x == a).copied().collect();
            let mut emitted = 0u64;
            for key in days {
                let list = records.remove(&key).unwrap_or_default();
                if list.is_empty() {
                    continue;
                }
                for record in list {
                    cx.record(STREAM, record);
                    emitted += 1;
                }
                self.cursors.advance(&cx.accounts[a].ig_id, key.1);
            }
            if emitted == 0 {
                emit::info(&format!(
                    "No new {STREAM} for account {} since {}",
                    cx.accounts[a].ig_id,
                    format_timestamp(self.starts[a])
                ));
            }
            cx.checkpoint(STREAM, self.cursors.to_state("date"));
        }
    }
}

/// The rows of one breakdown answer item: `{"name":"views","total_value":{"value":9,
/// "breakdowns":[{"dimension_keys":["follower_type"],"results":[{"dimension_values":
/// ["FOLLOWER"],"value":4}, …]}]}}` → `(views, FOLLOWER, 4), …`; `None` without a name. A
/// metric Meta has no data for (no `breakdowns`) gives no row. Several dimension values are
/// joined with `,`.
pub fn breakdown_records(item: &Value) -> Option<Vec<(String, String, Value)>> {
    let metric = item.get("name")?.as_str()?.to_string();
    let mut rows = Vec::new();
    for b in item.pointer("/total_value/breakdowns").and_then(Value::as_array).into_iter().flatten() {
        for r in b.get("results").and_then(Value::as_array).into_iter().flatten() {
            let dims = shape::strings(r.get("dimension_values"));
            rows.push((metric.clone(), dims.join(","), r.get("value").cloned().unwrap_or(Value::Null)));
        }
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meta's breakdown shape gives one row per dimension value; no breakdown, no rows.
    #[test]
    fn rows_of_a_breakdown() {
        let item = json!({"name": "views", "period": "day", "total_value": {"value": 9, "breakdowns": [{
            "dimension_keys": ["follower_type"],
            "results": [{"dimension_values": ["FOLLOWER"], "value": 4}, {"dimension_values": ["NON_FOLLOWER"], "value": 5}]}]}});
        let rows = breakdown_records(&item).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], ("views".into(), "NON_FOLLOWER".into(), json!(5)));
        assert!(breakdown_records(&json!({"name": "views", "total_value": {"value": 0}})).unwrap().is_empty());
        assert!(breakdown_records(&json!({"total_value": {}})).is_none());
    }
}
