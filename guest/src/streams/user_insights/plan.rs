//! The operations of the `user_insights` family: what one request asks (a time-series metric
//! set for one period and window, or one day's `total_value` metrics), its URL, and the plan
//! of the time series over an account's history. It must not send requests nor read answers
//! (the family in `mod.rs` does).

use super::{STREAM, TOTALS};
use crate::days;
use crate::engine::Cx;
use crate::metrics::SERIES_WINDOW_DAYS;
use chrono::{DateTime, Duration, Utc};

/// One planned time-series request: window index, since, until, index in the table's
/// `user_series`, metrics.
type Planned = (usize, DateTime<Utc>, DateTime<Utc>, usize, Vec<&'static str>);

/// The window index of the recent-only metrics' own window (see `series`).
pub const RECENT: usize = usize::MAX;

/// One operation: a time-series metric set for one period and window, or one day's totals.
#[derive(Clone)]
pub enum Op {
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
    pub fn without(mut self, metric: &'static str) -> Op {
        match &mut self {
            Op::Series { metrics, .. } => metrics.retain(|m| *m != metric),
            Op::Totals { without, .. } => without.push(metric),
        }
        self
    }

    /// Its URL and the metrics it asks (those of the table, minus what Meta refused), or
    /// `None` when nothing is left to ask.
    pub fn request(&self, cx: &Cx<'_>) -> Option<(String, Vec<&'static str>)> {
        let (scope, wanted) = match self {
            Op::Series { period, metrics, .. } => (format!("{STREAM}/{period}"), metrics.clone()),
            Op::Totals { without, .. } => {
                (TOTALS.to_string(), cx.table.user_totals.iter().copied().filter(|m| !without.contains(m)).collect())
            }
        };
        let metrics = cx.policy.active(&scope, &wanted);
        if metrics.is_empty() {
            return None;
        }
        let joined = metrics.join(",");
        let url = match self {
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
        Some((url, metrics))
    }
}

/// The time series of every account from its start (`starts`): each window's first request,
/// and (with more than one window, a first sync) the other periods, which wait until the
/// window is known to have data. Metrics Meta serves only for the last 30 days (from
/// `recent_from`) ask in the windows that start inside that range; where the account's windows
/// start before it, they get a window of their own over the range ([`RECENT`]), so the other
/// metrics keep their windows. Without `full` (only `user_insights_breakdowns` wants the
/// days), the daily probes alone. Returns (first, deferred).
pub fn plan_series(
    cx: &Cx<'_>,
    starts: &[DateTime<Utc>],
    recent_from: DateTime<Utc>,
    full: bool,
) -> (Vec<Op>, Vec<Op>) {
    let recent_only = |m: &&'static str| cx.table.recent_only.contains(m);
    let (mut first, mut deferred) = (Vec::new(), Vec::new());
    for (account, start) in starts.iter().enumerate() {
        let windows = days::windows(*start, cx.now, SERIES_WINDOW_DAYS);
        let probe = windows.len() > 1;
        let mut planned: Vec<Planned> = Vec::new();
        for (window, (since, until)) in windows.into_iter().enumerate() {
            for (i, req) in cx.table.user_series.iter().enumerate().take(if full { usize::MAX } else { 1 }) {
                let metrics = req.metrics.iter().copied().filter(|m| (since >= recent_from && full) || !recent_only(m));
                planned.push((window, since, until, i, metrics.collect()));
            }
        }
        if *start < recent_from && full {
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
            if probe && i > 0 { deferred.push(op) } else { first.push(op) }
        }
    }
    (first, deferred)
}
