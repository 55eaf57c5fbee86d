//! `user_insights`: daily account metrics, one record per account and day (incremental on
//! `date`, per account); the family also serves `user_insights_breakdowns`.
//!
//! Owns the declaration and the three phases of the read, each one group of operations over
//! all accounts: time series in 30-day windows (on a first sync only daily reach probes each
//! window), the other periods for windows that had data, then the `total_value` metrics per
//! day (and the breakdowns of `user_insights_breakdowns` for the days that stream reads, from
//! the days the time series found); then the records and the cursor of each account. With
//! only `user_insights_breakdowns` selected, the time series are the daily reach probes alone.
//! It must not ask demographics.

mod plan;

use super::StreamDef;
use super::user_insights_breakdowns::{AccountBreakdowns, USER_INSIGHTS_BREAKDOWNS};
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::Config;
use crate::days::{self, day_start};
use crate::emit;
use crate::engine::ops::{self, MAX_INSIGHT_ROUNDS, OpFailure};
use crate::engine::{Cx, Family, shape};
use crate::error::{ConnectorError, Result};
use crate::graph::ApiError;
use crate::metrics::{RECENT_ONLY_DAYS, SERIES_WINDOW_DAYS};
use crate::refusals;
use crate::state::AccountCursors;
use crate::transform::{format_timestamp, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const USER_INSIGHTS: StreamDef = StreamDef {
    name: "user_insights",
    primary_key: &["business_account_id", "date"],
    cursor_field: Some("date"),
    schema: include_str!("../../../../schemas/user_insights.json"),
    parent: Some("users"),
    fields: None,
};

use plan::{Op, RECENT};

const STREAM: &str = USER_INSIGHTS.name;
const TOTALS: &str = "user_insights/total_value";
/// The family.
pub struct UserInsights {
    cursors: AccountCursors,
    /// Per account: `user_insights` reads days after this.
    starts: Vec<DateTime<Utc>>,
    /// Per account: the time series start here (the earlier of the two streams' starts).
    series_starts: Vec<DateTime<Utc>>,
    /// `user_insights_breakdowns`, when selected.
    breakdowns: Option<AccountBreakdowns>,
    days: Vec<BTreeMap<DateTime<Utc>, Map<String, Value>>>,
    with_data: BTreeSet<(usize, usize)>,
    /// Where the range of recent-only metrics starts (see `days::recent_since`).
    recent_from: DateTime<Utc>,
    deferred: Vec<Op>,
    phase: u8,
    asked: BTreeMap<u64, (Op, Vec<&'static str>, u32)>,
    retry: Vec<(Op, u32)>,
    next_tag: u64,
}

impl UserInsights {
    pub fn new(
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let (cursors, starts) =
            AccountCursors::account_insights(STREAM, state.get(STREAM), selection, config, accounts, now)?;
        let breakdowns = selection
            .is_selected(USER_INSIGHTS_BREAKDOWNS.name)
            .then(|| AccountBreakdowns::new(selection, config, state, accounts, now))
            .transpose()?;
        let series_starts = (0..accounts.len())
            .map(|a| {
                let own = selection.is_selected(STREAM).then_some(starts[a]);
                let theirs = breakdowns.as_ref().map(|b| b.starts[a]);
                [own, theirs].into_iter().flatten().min().unwrap_or(starts[a])
            })
            .collect();
        Ok(UserInsights {
            cursors,
            starts,
            series_starts,
            breakdowns,
            days: vec![BTreeMap::new(); accounts.len()],
            with_data: BTreeSet::new(),
            recent_from: days::recent_since(now, RECENT_ONLY_DAYS),
            deferred: Vec::new(),
            phase: 0,
            asked: BTreeMap::new(),
            retry: Vec::new(),
            next_tag: 0,
        })
    }

    fn ask(&mut self, cx: &mut Cx<'_>, ops: Vec<(Op, u32)>) {
        let mut group = Vec::new();
        for (op, rounds) in ops {
            let Some((url, metrics)) = op.request(cx) else { continue };
            group.push((self.next_tag, url));
            self.asked.insert(self.next_tag, (op, metrics, rounds));
            self.next_tag += 1;
        }
        // The first two phases lead to the next one: ask them ahead of insights that only
        // yield records.
        if self.phase < 2 { cx.edge_ops(group) } else { cx.ops(group) }
    }

    /// Phase 1: every window's first request; the other periods wait in `deferred` (see
    /// `plan::plan_series`).
    fn series(&mut self, cx: &mut Cx<'_>) -> Vec<(Op, u32)> {
        let (first, deferred) = plan::plan_series(cx, &self.series_starts, self.recent_from, cx.wants(STREAM));
        self.deferred = deferred;
        first.into_iter().map(|op| (op, 0)).collect()
    }

    /// All phases are done: one record per account and day with data, then the cursor (and
    /// the same for `user_insights_breakdowns`).
    fn emit_records(&mut self, cx: &mut Cx<'_>) {
        let days = std::mem::take(&mut self.days);
        if let Some(b) = self.breakdowns.as_mut() {
            b.emit(cx);
        }
        if !cx.wants(STREAM) {
            return;
        }
        for (a, account_days) in days.into_iter().enumerate() {
            let mut emitted = 0u64;
            for (date, mut record) in account_days {
                if record.is_empty() || date > cx.now || date <= self.starts[a] {
                    continue;
                }
                record.insert("date".into(), Value::String(format_timestamp(date)));
                cx.enrich(&mut record, a);
                cx.record(STREAM, record);
                self.cursors.advance(&cx.accounts[a].ig_id, date);
                emitted += 1;
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

impl Family for UserInsights {
    fn streams(&self) -> &'static [&'static str] {
        &[USER_INSIGHTS.name, USER_INSIGHTS_BREAKDOWNS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let first = self.series(cx);
        self.ask(cx, first);
        self.after_answers(cx)
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
        if AccountBreakdowns::owns(tag) {
            return match self.breakdowns.as_mut() {
                Some(b) => b.on_answer(cx, tag, answer),
                None => Err(ConnectorError::system("an answer for an unknown user_insights operation")),
            };
        }
        let (op, metrics, rounds) = self
            .asked
            .remove(&tag)
            .ok_or_else(|| ConnectorError::system("an answer for an unknown user_insights operation"))?;
        match (answer, &op) {
            (Ok(body), Op::Series { account, window, suffix, .. }) => {
                let what = format!("the account insights of {}", cx.accounts[*account].ig_id);
                let mut skipped = 0;
                for item in shape::data_array(&body, STREAM, &format!("an answer for {what}"))? {
                    let (Some(name), Some(values)) =
                        (item.get("name").and_then(Value::as_str), item.get("values").and_then(Value::as_array))
                    else {
                        skipped += 1;
                        continue;
                    };
                    for v in values {
                        let (Some(end), Some(value)) =
                            (v.get("end_time").and_then(Value::as_str).and_then(parse_timestamp), v.get("value"))
                        else {
                            continue;
                        };
                        if value.is_null() {
                            continue;
                        }
                        self.days[*account].entry(end).or_default().insert(format!("{name}{suffix}"), value.clone());
                        self.with_data.insert((*account, *window));
                        if end > self.recent_from {
                            self.with_data.insert((*account, RECENT));
                        }
                    }
                }
                shape::warn_skipped(STREAM, &what, skipped, "`name` or `values`");
            }
            (Ok(body), Op::Totals { account, day, .. }) => {
                let what = format!("the daily totals of {}", cx.accounts[*account].ig_id);
                let items = shape::data_array(&body, STREAM, &format!("an answer for {what}"))?;
                let record = self.days[*account].entry(*day).or_default();
                for item in items {
                    if let (Some(name), Some(value)) = (
                        item.get("name").and_then(Value::as_str),
                        item.pointer("/total_value/value").filter(|v| !v.is_null()),
                    ) {
                        record.insert(name.to_string(), value.clone());
                    }
                }
            }
            (Err(err), Op::Series { account, window: RECENT, moved: false, .. })
                if err.graph().is_some_and(refusals::is_recent_only_refusal) =>
            {
                // The range starts a day later than estimated (see `days::recent_since`).
                emit::info(&format!(
                    "Meta refused {} of account {} this far back; asking again from a day later",
                    metrics.join(","),
                    cx.accounts[*account].ig_id,
                ));
                let mut later = op.clone();
                if let Op::Series { since, until, moved, .. } = &mut later {
                    *since += Duration::days(1).num_seconds();
                    *until = (*since + Duration::days(SERIES_WINDOW_DAYS).num_seconds()).min(cx.now.timestamp());
                    *moved = true;
                }
                self.retry.push((later, rounds + 1));
            }
            (Err(err), _) => {
                let (scope, doing, what) = match &op {
                    Op::Series { account, period, .. } => (
                        format!("user_insights/{period}"),
                        format!("reading account insights ({period}) of {}", cx.accounts[*account].ig_id),
                        format!(
                            "No {period} insights ({}) for account {}",
                            metrics.join(","),
                            cx.accounts[*account].ig_id
                        ),
                    ),
                    Op::Totals { account, day, .. } => (
                        TOTALS.to_string(),
                        format!("reading daily account totals of {}", cx.accounts[*account].ig_id),
                        format!(
                            "No daily totals for account {} on {}",
                            cx.accounts[*account].ig_id,
                            format_timestamp(*day)
                        ),
                    ),
                };
                match ops::on_op_error(cx.policy, err, &scope, &metrics, rounds, ops::no_insights_for_account, &doing) {
                    OpFailure::Retry if rounds + 1 < MAX_INSIGHT_ROUNDS => self.retry.push((op, rounds + 1)),
                    OpFailure::RetryWithout(metric) if rounds + 1 < MAX_INSIGHT_ROUNDS => {
                        self.retry.push((op.without(metric), rounds + 1))
                    }
                    OpFailure::Retry | OpFailure::RetryWithout(_) => {}
                    OpFailure::Skip(reason) => emit::warn(&format!("{what}: {reason}")),
                    OpFailure::Fail(e) => return Err(e.in_stream(STREAM)),
                }
            }
        }
        Ok(())
    }

    fn after_answers(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let retry = std::mem::take(&mut self.retry);
        self.ask(cx, retry);
        if let Some(b) = self.breakdowns.as_mut() {
            b.flush_retries(cx);
        }
        while self.asked.is_empty() && self.breakdowns.as_ref().is_none_or(AccountBreakdowns::idle) && self.phase < 3 {
            self.phase += 1;
            match self.phase {
                1 => {
                    let with_data = &self.with_data;
                    let rest: Vec<(Op, u32)> = std::mem::take(&mut self.deferred)
                        .into_iter()
                        .filter(|op| matches!(op, Op::Series { account, window, .. } if with_data.contains(&(*account, *window))))
                        .map(|op| (op, 0))
                        .collect();
                    self.ask(cx, rest);
                }
                2 => {
                    let now = cx.now;
                    let full = cx.wants(STREAM);
                    let mut totals: Vec<(Op, u32)> = Vec::new();
                    let mut days = Vec::new();
                    for (account, d) in self.days.iter().enumerate() {
                        let mut previous = None;
                        for day in d.keys().copied().filter(|day| *day <= now) {
                            let since = day_start(day, previous);
                            if full && day > self.starts[account] {
                                totals.push((Op::Totals { account, day, since, without: Vec::new() }, 0));
                            }
                            days.push((account, day, since));
                            previous = Some(day);
                        }
                    }
                    self.ask(cx, totals);
                    if let Some(b) = self.breakdowns.as_mut() {
                        b.ask_days(cx, &days);
                    }
                }
                _ => self.emit_records(cx),
            }
        }
        Ok(())
    }
}
