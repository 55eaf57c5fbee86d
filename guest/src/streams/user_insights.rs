//! `user_insights`: daily account metrics, one record per account and day (incremental on
//! `date`, per account).
//!
//! Owns the declaration and the three phases of the read, each one group of operations over
//! all accounts: time series in 30-day windows (on a first sync only daily reach probes each
//! window), the other periods for windows that had data, then the `total_value` metrics per
//! day; then the records and the cursor of each account. It must not ask demographics.

use super::StreamDef;
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
    schema: include_str!("../../../schemas/user_insights.json"),
    parent: Some("users"),
    fields: None,
};

const STREAM: &str = USER_INSIGHTS.name;
const TOTALS: &str = "user_insights/total_value";
/// One planned time-series request: window index, since, until, index in the table's
/// `user_series`, metrics.
type Planned = (usize, DateTime<Utc>, DateTime<Utc>, usize, Vec<&'static str>);

/// The window index of the recent-only metrics' own window (see `series`).
const RECENT: usize = usize::MAX;

/// One operation: a time-series metric set for one period and window, or one day's totals.
#[derive(Clone)]
enum Op {
    Series {
        account: usize,
        window: usize,
        period: &'static str,
        suffix: &'static str,
        metrics: Vec<&'static str>,
        since: i64,
        until: i64,
        /// A window of recent-only metrics that Meta's refusal already moved one day on.
        moved: bool,
    },
    Totals {
        account: usize,
        /// The day's `end_time` (its record's `date`).
        day: DateTime<Utc>,
        /// Where the day starts: the `since` that makes the window hold this day alone.
        since: DateTime<Utc>,
        /// Metrics Meta refused for this day only.
        without: Vec<&'static str>,
    },
}

impl Op {
    /// The same operation without `metric` (Meta refused it for this window only).
    fn without(mut self, metric: &'static str) -> Op {
        match &mut self {
            Op::Series { metrics, .. } => metrics.retain(|m| *m != metric),
            Op::Totals { without, .. } => without.push(metric),
        }
        self
    }
}

/// The family.
pub struct UserInsights {
    cursors: AccountCursors,
    starts: Vec<DateTime<Utc>>,
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
        let mut cursors = AccountCursors::parse(STREAM, "date", state.get(STREAM))?;
        cursors.drop_future(STREAM, now);
        let earliest = config.insights_start(now);
        let starts = accounts
            .iter()
            .map(|a| match (selection.is_incremental(STREAM), cursors.get(&a.ig_id)) {
                (true, Some(cursor)) => (cursor - Duration::days(config.insights_lookback_days)).max(earliest),
                _ => earliest,
            })
            .collect();
        Ok(UserInsights {
            cursors,
            starts,
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
            let (scope, wanted) = match &op {
                Op::Series { period, metrics, .. } => (format!("user_insights/{period}"), metrics.clone()),
                Op::Totals { without, .. } => (
                    TOTALS.to_string(),
                    cx.table.user_totals.iter().copied().filter(|m| !without.contains(m)).collect(),
                ),
            };
            let metrics = cx.policy.active(&scope, &wanted);
            if metrics.is_empty() {
                continue;
            }
            let joined = metrics.join(",");
            let url = match &op {
                Op::Series { account, period, since, until, .. } => cx.client.relative_url(
                    &format!("{}/insights", cx.accounts[*account].ig_id),
                    &[
                        ("metric", joined.as_str()),
                        ("period", period),
                        ("since", &since.to_string()),
                        ("until", &until.to_string()),
                    ],
                ),
                Op::Totals { account, day, since, .. } => cx.client.relative_url(
                    &format!("{}/insights", cx.accounts[*account].ig_id),
                    &[
                        ("metric", joined.as_str()),
                        ("metric_type", "total_value"),
                        ("period", "day"),
                        ("since", &since.timestamp().to_string()),
                        ("until", &day.timestamp().to_string()),
                    ],
                ),
            };
            group.push((self.next_tag, url));
            self.asked.insert(self.next_tag, (op, metrics, rounds));
            self.next_tag += 1;
        }
        // The first two phases lead to the next one: ask them ahead of insights that only
        // yield records.
        if self.phase < 2 { cx.edge_ops(group) } else { cx.ops(group) }
    }

    /// Phase 1: every window's first request (with more than one window, a first sync, the
    /// other periods wait until the window is known to have data). Metrics Meta serves only
    /// for the last 30 days ask in the windows that start inside that range; where the
    /// account's windows start before it, they get a window of their own over the range
    /// ([`RECENT`]), so the other metrics keep their windows.
    fn series(&mut self, cx: &mut Cx<'_>) -> Vec<(Op, u32)> {
        let recent_from = self.recent_from;
        let recent_only = |m: &&'static str| cx.table.recent_only.contains(m);
        let mut first = Vec::new();
        for (account, start) in self.starts.iter().enumerate() {
            let windows = days::windows(*start, cx.now, SERIES_WINDOW_DAYS);
            let probe = windows.len() > 1;
            let mut planned: Vec<Planned> = Vec::new();
            for (window, (since, until)) in windows.into_iter().enumerate() {
                for (i, req) in cx.table.user_series.iter().enumerate() {
                    let metrics = req.metrics.iter().copied().filter(|m| since >= recent_from || !recent_only(m));
                    planned.push((window, since, until, i, metrics.collect()));
                }
            }
            if *start < recent_from {
                let until = (recent_from + Duration::days(SERIES_WINDOW_DAYS)).min(cx.now);
                for (i, req) in cx.table.user_series.iter().enumerate() {
                    planned.push((
                        RECENT,
                        recent_from,
                        until,
                        i,
                        req.metrics.iter().copied().filter(recent_only).collect(),
                    ));
                }
            }
            for (window, since, until, i, metrics) in planned.into_iter().filter(|p| !p.4.is_empty()) {
                let req = &cx.table.user_series[i];
                let op = Op::Series {
                    account,
                    window,
                    period: req.period,
                    suffix: req.column_suffix,
                    metrics,
                    since: since.timestamp(),
                    until: until.timestamp(),
                    moved: false,
                };
                if probe && i > 0 { self.deferred.push(op) } else { first.push((op, 0)) }
            }
        }
        first
    }

    /// All phases are done: one record per account and day with data, then the cursor.
    fn emit_records(&mut self, cx: &mut Cx<'_>) {
        for (a, account_days) in std::mem::take(&mut self.days).into_iter().enumerate() {
            let mut emitted = 0u64;
            for (date, mut record) in account_days {
                if record.is_empty() || date > cx.now {
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
        &[USER_INSIGHTS.name]
    }

    fn start(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let first = self.series(cx);
        self.ask(cx, first);
        self.after_answers(cx)
    }

    fn on_answer(&mut self, cx: &mut Cx<'_>, tag: u64, answer: std::result::Result<Value, ApiError>) -> Result<()> {
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
        while self.asked.is_empty() && self.phase < 3 {
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
                    let mut totals: Vec<(Op, u32)> = Vec::new();
                    for (account, d) in self.days.iter().enumerate() {
                        let mut previous = None;
                        for day in d.keys().copied().filter(|day| *day <= now) {
                            totals.push((
                                Op::Totals { account, day, since: day_start(day, previous), without: Vec::new() },
                                0,
                            ));
                            previous = Some(day);
                        }
                    }
                    self.ask(cx, totals);
                }
                _ => self.emit_records(cx),
            }
        }
        Ok(())
    }
}
