//! Fault injection and the rate-limit usage model.
//!
//! [`FaultPlan`] is the declarative, cloneable description handed to the
//! server; [`FaultState`] is its runtime counterpart (attempt counters, usage
//! gauges) living inside a running server.
//!
//! Determinism: whether a call is throttled, fails transiently or is slowed
//! depends only on a hash of (seed, method, normalised path, sorted parameters
//! without `access_token`, body) and on how many times that same call was
//! seen before — never on arrival order among different calls. With the
//! default `failing_attempts = 1` a selected call fails on its first attempt
//! and succeeds when retried, so the same calls fail on every run whatever
//! the client's concurrency.
//!
//! Each plain request and each batch operation is one "call". A batch envelope
//! is never selected by the fractions (its composition may vary between runs);
//! only [`FaultPlan::force_error`] can fail it.
//!
//! Usage model: every call adds `app_percent_per_call` to the app gauge
//! (`X-App-Usage`) and, for calls about an IG user or its objects,
//! `account_percent_per_call` to that account's gauge
//! (`X-Business-Use-Case-Usage`). When a gauge reaches 100 % the next
//! `throttle_calls` calls on it fail (code 4 for the app gauge, 80002 for an
//! account) with `estimated_time_to_regain_access = regain_minutes`; then the
//! gauge resets to 0. Unlike the fractions this depends on call order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::graph_error::GraphError;
use crate::stable_hash::{hash_parts, unit_interval};

/// Select a fraction of calls, deterministically from `seed`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FractionFault {
    /// 0.0 ..= 1.0.
    pub fraction: f64,
    pub seed: u64,
}

/// Delay a fraction of calls by `delay` (on every attempt).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowFault {
    pub fraction: f64,
    pub seed: u64,
    pub delay: Duration,
}

/// How usage headers grow and when the usage gauges throttle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageModel {
    /// Percent of the app's allowance used by each call (`X-App-Usage`).
    pub app_percent_per_call: f64,
    /// Percent of an IG account's allowance used by each call about it.
    pub account_percent_per_call: f64,
    /// Calls refused once a gauge reaches 100 % (0: never throttle, cap at 100).
    pub throttle_calls: u32,
    /// `estimated_time_to_regain_access` (minutes) reported while throttled.
    pub regain_minutes: u32,
    /// A gauge idle for this long (real time) drops back to 0 %, as Meta's rolling window
    /// recovers when a client pauses. `None`: usage never recovers by itself.
    pub recover_after: Option<std::time::Duration>,
    /// Meta's app-level limit as it works: a rolling window of real time holding at most
    /// `calls` calls. Replaces `app_percent_per_call` (see [`AppBudget`]).
    pub app_budget: Option<AppBudget>,
    /// `X-App-Usage` held at this figure whatever we send, as when other users of the same
    /// app use it (Meta's figure is app-wide). At 100 % or more every call is refused with
    /// code 4 and a regain time of `regain_minutes`, as Meta does while the app is over.
    /// Replaces `app_percent_per_call` and `app_budget`.
    pub app_held_percent: Option<f64>,
}

/// The app-level rate limit as Meta applies it: every call (each batch operation counts) is
/// counted in a rolling window (Meta: one hour; tests shorten it) and `X-App-Usage` reports the
/// calls in the window as a share of `calls`. A call arriving while the window already holds
/// `calls` calls is refused with code 4 (and still counted, as Meta counts refused calls), so a
/// client that keeps sending past 100 % stays throttled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AppBudget {
    pub calls: u32,
    pub window: Duration,
}

/// What an app budget saw: the highest usage any call brought the window to, and how many
/// calls it refused.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AppBudgetReport {
    pub peak_percent: f64,
    pub refused: u64,
    pub calls: u64,
}

impl Default for UsageModel {
    /// Tiny growth (0.001 % per call, so 100 000 calls to reach 100 %) and
    /// no throttling: normal tests and repeated benchmark runs stay near 0 %.
    fn default() -> Self {
        UsageModel {
            app_percent_per_call: 0.001,
            account_percent_per_call: 0.001,
            throttle_calls: 0,
            regain_minutes: 1,
            recover_after: None,
            app_budget: None,
            app_held_percent: None,
        }
    }
}

/// The path a forced error names to match batch envelopes only (no request path has it).
pub const BATCH_ENVELOPE: &str = "(batch)";

/// A fixed answer for calls whose version-less path starts with a prefix.
#[derive(Clone, Debug, PartialEq)]
pub struct ForcedError {
    /// Matched against the path without version, e.g. `/me/accounts` or
    /// `/17841400000000001/insights`. `/` matches everything.
    pub path_prefix: String,
    pub status: u16,
    /// Raw body; served as JSON when it starts with `{`, otherwise as HTML.
    pub body: String,
    /// Only the first `times` matching calls (all when `None`).
    pub times: Option<u32>,
}

/// Deterministic fault injection. Build with the constructors and combine
/// with [`combine`](Self::combine) or the `with_*` / `force_*` methods.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// Rate-limit errors (codes 4/17/32/613/80002, `is_transient: true`).
    pub throttle: Option<FractionFault>,
    /// Transient failures: HTTP 500 code 1, HTTP 503 code 2, or HTTP 503 HTML.
    pub transient: Option<FractionFault>,
    /// "Please reduce the amount of data you're asking for" (HTTP 500, code 1) for calls that
    /// ask for more than one item of an edge (a `limit` above 1, at the top or nested): the
    /// answer Meta gives when a page would be too large or too costly to build. A smaller
    /// page is a different call, selected on its own.
    pub reduce_data: Option<FractionFault>,
    pub slow: Option<SlowFault>,
    /// How many attempts of a selected call fail before it succeeds
    /// (default 1; `u32::MAX`: always).
    pub failing_attempts: u32,
    /// `estimated_time_to_regain_access` (minutes) on injected throttling.
    pub throttle_regain_minutes: u32,
    pub usage: UsageModel,
    pub forced: Vec<ForcedError>,
    /// A broken `paging.next` on every IG user's media edge (see [`PagingCycle`]).
    pub paging_cycle: Option<PagingCycle>,
    /// The media edge refuses time-based paging (`since`/`until`) with code 100.
    pub refuse_time_paging: bool,
    /// Successful answers under a path replaced by a huge body (see [`crate::huge_body`]).
    pub huge_answer: Option<crate::HugeAnswer>,
}

/// Ways a server's `paging.next` can repeat itself, applied to the IG user media edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingCycle {
    /// Page 1 links to URL A, A to URL B, B back to A (each a real next page otherwise).
    Alternating,
    /// From page 2 on, `next` is a fresh URL (an extra parameter) that returns the same page
    /// with the same cursors.
    RepeatedPage,
    /// From page 2 on, `next` is exactly the URL of the page itself.
    SelfLink,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

impl FaultPlan {
    /// No faults; tiny usage growth, no usage throttling.
    pub fn none() -> Self {
        FaultPlan {
            throttle: None,
            transient: None,
            reduce_data: None,
            slow: None,
            failing_attempts: 1,
            throttle_regain_minutes: 1,
            usage: UsageModel::default(),
            forced: Vec::new(),
            paging_cycle: None,
            refuse_time_paging: false,
            huge_answer: None,
        }
    }

    /// A broken media-edge `paging.next`.
    pub fn paging_cycle(cycle: PagingCycle) -> Self {
        FaultPlan { paging_cycle: Some(cycle), ..FaultPlan::none() }
    }

    /// The media edge refuses `since`/`until`.
    pub fn refuse_time_paging() -> Self {
        FaultPlan { refuse_time_paging: true, ..FaultPlan::none() }
    }

    /// Successful answers under `path_prefix` (version-less) become a body of `bytes` bytes,
    /// streamed lazily; its length is announced (`Content-Length`) when `announce_length`.
    pub fn huge_answer(path_prefix: &str, bytes: u64, announce_length: bool) -> Self {
        let huge = crate::HugeAnswer { path_prefix: path_prefix.into(), bytes, announce_length };
        FaultPlan { huge_answer: Some(huge), ..FaultPlan::none() }
    }

    /// Throttle `fraction` of calls (first attempt only by default).
    pub fn throttle(fraction: f64, seed: u64) -> Self {
        FaultPlan { throttle: Some(FractionFault { fraction, seed }), ..FaultPlan::none() }
    }

    /// Fail `fraction` of calls transiently (first attempt only by default).
    pub fn transient(fraction: f64, seed: u64) -> Self {
        FaultPlan { transient: Some(FractionFault { fraction, seed }), ..FaultPlan::none() }
    }

    /// Answer `fraction` of the calls asking for several items with code 1 "Please reduce
    /// the amount of data…" (first attempt only by default).
    pub fn reduce_data(fraction: f64, seed: u64) -> Self {
        FaultPlan { reduce_data: Some(FractionFault { fraction, seed }), ..FaultPlan::none() }
    }

    /// Delay `fraction` of calls by `delay`.
    pub fn slow(fraction: f64, seed: u64, delay: Duration) -> Self {
        FaultPlan { slow: Some(SlowFault { fraction, seed, delay }), ..FaultPlan::none() }
    }

    /// The app-level limit as a rolling window of `calls` calls per `window` (real time).
    pub fn app_budget(calls: u32, window: Duration) -> Self {
        FaultPlan {
            usage: UsageModel { app_budget: Some(AppBudget { calls, window }), ..UsageModel::default() },
            ..FaultPlan::none()
        }
    }

    /// `X-App-Usage` held at `percent` by the app's other users (see
    /// [`UsageModel::app_held_percent`]).
    pub fn app_usage_held(percent: f64, regain_minutes: u32) -> Self {
        FaultPlan {
            usage: UsageModel { app_held_percent: Some(percent), regain_minutes, ..UsageModel::default() },
            ..FaultPlan::none()
        }
    }

    /// Usage headers climbing by `account_percent_per_call` per call on each IG
    /// account; at 100 % the next `throttle_calls` calls on that account get
    /// 80002, then the gauge resets.
    pub fn usage_climb(account_percent_per_call: f64, throttle_calls: u32) -> Self {
        FaultPlan {
            usage: UsageModel { account_percent_per_call, throttle_calls, regain_minutes: 1, ..UsageModel::default() },
            ..FaultPlan::none()
        }
    }

    /// Merges two plans: `other`'s faults win where both set one; forced
    /// errors are concatenated (this plan's first); numeric settings are taken
    /// from `other` when it differs from the default.
    pub fn combine(mut self, other: FaultPlan) -> Self {
        let default = FaultPlan::none();
        self.throttle = other.throttle.or(self.throttle);
        self.transient = other.transient.or(self.transient);
        self.reduce_data = other.reduce_data.or(self.reduce_data);
        self.slow = other.slow.or(self.slow);
        if other.failing_attempts != default.failing_attempts {
            self.failing_attempts = other.failing_attempts;
        }
        if other.throttle_regain_minutes != default.throttle_regain_minutes {
            self.throttle_regain_minutes = other.throttle_regain_minutes;
        }
        if other.usage != default.usage {
            self.usage = other.usage;
        }
        self.forced.extend(other.forced);
        self.paging_cycle = other.paging_cycle.or(self.paging_cycle);
        self.refuse_time_paging |= other.refuse_time_paging;
        self.huge_answer = other.huge_answer.or(self.huge_answer);
        self
    }

    pub fn with_failing_attempts(mut self, attempts: u32) -> Self {
        self.failing_attempts = attempts;
        self
    }

    pub fn with_usage(mut self, usage: UsageModel) -> Self {
        self.usage = usage;
        self
    }

    pub fn with_throttle_regain_minutes(mut self, minutes: u32) -> Self {
        self.throttle_regain_minutes = minutes;
        self
    }

    /// Answer every call under `path_prefix` (version-less) with `status` and `body`.
    pub fn force_error(mut self, path_prefix: &str, status: u16, body: impl Into<String>) -> Self {
        self.forced.push(ForcedError { path_prefix: path_prefix.into(), status, body: body.into(), times: None });
        self
    }

    /// Like [`force_error`](Self::force_error), for the first `times` matching calls only.
    pub fn force_error_times(mut self, path_prefix: &str, status: u16, body: impl Into<String>, times: u32) -> Self {
        self.forced.push(ForcedError {
            path_prefix: path_prefix.into(),
            status,
            body: body.into(),
            times: Some(times),
        });
        self
    }

    /// Answer every batch request (the envelope, `POST /`) with `status` and `body`; plain
    /// requests are untouched.
    pub fn force_batch_error(self, status: u16, body: impl Into<String>) -> Self {
        self.force_error(BATCH_ENVELOPE, status, body)
    }

    /// Force a Graph error (rendered with a trace id) under `path_prefix`.
    pub fn force_graph_error(self, path_prefix: &str, error: &GraphError) -> Self {
        let body = error.to_body(&crate::graph_error::fbtrace_id(path_prefix)).to_string();
        self.force_error(path_prefix, error.http_status, body)
    }
}

/// What the fault layer decided for one call.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallVerdict {
    /// Extra delay before answering.
    pub delay: Duration,
    pub failure: Option<InjectedFailure>,
    pub usage: UsageSnapshot,
}

#[derive(Clone, Debug)]
pub(crate) enum InjectedFailure {
    Graph(GraphError),
    Raw { status: u16, body: String },
}

/// Usage numbers for the response headers.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct UsageSnapshot {
    pub app: UsageNumbers,
    /// (IG user id, numbers) for calls about an IG account.
    pub account: Option<(String, UsageNumbers)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UsageNumbers {
    pub call_count: u32,
    pub total_cputime: u32,
    pub total_time: u32,
    pub estimated_time_to_regain_access: u32,
}

impl UsageNumbers {
    pub(crate) fn from_percent(percent: f64) -> Self {
        let call_count = percent.floor().clamp(0.0, 100.0) as u32;
        UsageNumbers {
            call_count,
            total_cputime: call_count * 2 / 5,
            total_time: call_count * 3 / 5,
            estimated_time_to_regain_access: 0,
        }
    }

    /// Like [`from_percent`](Self::from_percent), but past 100 % as Meta reports an exceeded
    /// app limit (CPU and time shares stay below the call count).
    pub(crate) fn over_percent(percent: f64) -> Self {
        let call_count = percent.floor().clamp(0.0, 1000.0) as u32;
        UsageNumbers {
            call_count,
            total_cputime: call_count / 10,
            total_time: call_count / 10,
            estimated_time_to_regain_access: 0,
        }
    }

    pub(crate) fn exhausted(regain_minutes: u32) -> Self {
        UsageNumbers {
            call_count: 100,
            total_cputime: 40,
            total_time: 60,
            estimated_time_to_regain_access: regain_minutes,
        }
    }
}

#[derive(Default)]
struct Gauge {
    calls: u64,
    throttled_remaining: u32,
    last_call: Option<std::time::Instant>,
}

#[derive(Default)]
struct Counters {
    /// Attempts seen per call key hash.
    attempts: HashMap<u64, u32>,
    forced_hits: Vec<u32>,
    app: Gauge,
    accounts: HashMap<String, Gauge>,
    /// Arrival times of the calls in the app budget's window, oldest first.
    app_window: std::collections::VecDeque<std::time::Instant>,
    app_report: AppBudgetReport,
}

/// Runtime state of a [`FaultPlan`] inside a running server.
pub(crate) struct FaultState {
    plan: FaultPlan,
    counters: Mutex<Counters>,
}

impl FaultState {
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    pub fn new(plan: FaultPlan) -> Self {
        let forced = plan.forced.len();
        FaultState { plan, counters: Mutex::new(Counters { forced_hits: vec![0; forced], ..Counters::default() }) }
    }

    /// A forced error for a path, counting the hit. Used for batch envelopes.
    pub fn forced_for(&self, versionless_path: &str) -> Option<InjectedFailure> {
        let mut counters = self.counters.lock().unwrap();
        self.take_forced(&mut counters, versionless_path)
    }

    fn take_forced(&self, counters: &mut Counters, versionless_path: &str) -> Option<InjectedFailure> {
        for (i, forced) in self.plan.forced.iter().enumerate() {
            if versionless_path.starts_with(&forced.path_prefix) {
                let hits = &mut counters.forced_hits[i];
                if forced.times.is_some_and(|t| *hits >= t) {
                    continue;
                }
                *hits += 1;
                return Some(InjectedFailure::Raw { status: forced.status, body: forced.body.clone() });
            }
        }
        None
    }

    /// Decides the fate of one call and accounts its usage.
    /// `key` is the call's canonical identity ([`crate::request::GraphCall::key`]); `many`:
    /// the call asks for more than one item of an edge ([`crate::request::GraphCall::asks_many`]).
    pub fn on_call(&self, key: &str, versionless_path: &str, ig_user: Option<&str>, many: bool) -> CallVerdict {
        let key_hash = hash_parts(["call", key]);
        let selected = |fault: &Option<FractionFault>, salt: &str| {
            fault.is_some_and(|f| unit_interval(hash_parts([salt, &f.seed.to_string(), key])) < f.fraction)
        };
        let mut verdict = CallVerdict::default();
        if let Some(slow) = &self.plan.slow
            && unit_interval(hash_parts(["slow", &slow.seed.to_string(), key])) < slow.fraction
        {
            verdict.delay = slow.delay;
        }

        let mut counters = self.counters.lock().unwrap();
        let attempt = {
            let seen = counters.attempts.entry(key_hash).or_insert(0);
            let attempt = *seen;
            *seen = seen.saturating_add(1);
            attempt
        };
        verdict.usage = self.account_usage(&mut counters, ig_user);

        if let Some(forced) = self.take_forced(&mut counters, versionless_path) {
            verdict.failure = Some(forced);
            return verdict;
        }
        // Usage-model throttling (order dependent, see module docs).
        if self.plan.usage.app_held_percent.is_some_and(|p| p >= 100.0) {
            verdict.failure = Some(InjectedFailure::Graph(GraphError::throttled(4)));
            return verdict;
        }
        if let Some(budget) = self.plan.usage.app_budget
            && counters.app_window.len() > budget.calls as usize
        {
            counters.app_report.refused += 1;
            verdict.failure = Some(InjectedFailure::Graph(GraphError::throttled(4)));
            return verdict;
        }
        if verdict.usage.app.estimated_time_to_regain_access > 0 && verdict.usage.app.call_count >= 100 {
            verdict.failure = Some(InjectedFailure::Graph(GraphError::throttled(4)));
            return verdict;
        }
        if let Some((_, numbers)) = &verdict.usage.account
            && numbers.call_count >= 100
            && numbers.estimated_time_to_regain_access > 0
        {
            verdict.failure = Some(InjectedFailure::Graph(GraphError::throttled(80002)));
            return verdict;
        }

        if attempt >= self.plan.failing_attempts {
            return verdict;
        }
        if selected(&self.plan.throttle, "throttle") {
            let choice = hash_parts(["throttle-code", key]);
            let code = match ig_user {
                Some(_) => [80002, 4, 17, 613][(choice % 4) as usize],
                None => [4, 17, 32, 613][(choice % 4) as usize],
            };
            let regain = self.plan.throttle_regain_minutes.max(1);
            if code == 80002 {
                if let Some((_, numbers)) = &mut verdict.usage.account {
                    *numbers = UsageNumbers::exhausted(regain);
                }
            } else {
                verdict.usage.app = UsageNumbers::exhausted(regain);
            }
            verdict.failure = Some(InjectedFailure::Graph(GraphError::throttled(code)));
        } else if many && selected(&self.plan.reduce_data, "reduce-data") {
            verdict.failure = Some(InjectedFailure::Graph(GraphError::reduce_data()));
        } else if selected(&self.plan.transient, "transient") {
            verdict.failure = Some(match hash_parts(["transient-kind", key]) % 3 {
                0 => InjectedFailure::Graph(GraphError::unknown_error()),
                1 => InjectedFailure::Graph(GraphError::service_unavailable()),
                _ => {
                    InjectedFailure::Raw { status: 503, body: crate::graph_error::SERVICE_UNAVAILABLE_HTML.to_string() }
                }
            });
        }
        verdict
    }

    /// Advances the gauges for one call and returns the numbers to report.
    fn account_usage(&self, counters: &mut Counters, ig_user: Option<&str>) -> UsageSnapshot {
        let model = self.plan.usage;
        let app = match model.app_budget {
            _ if model.app_held_percent.is_some() => held(model),
            Some(budget) => {
                let now = std::time::Instant::now();
                prune_window(&mut counters.app_window, budget.window, now);
                counters.app_window.push_back(now);
                let percent = window_percent(&counters.app_window, budget);
                counters.app_report.peak_percent = counters.app_report.peak_percent.max(percent);
                counters.app_report.calls += 1;
                UsageNumbers::over_percent(percent)
            }
            None => advance(&mut counters.app, model.app_percent_per_call, &model),
        };
        let account = ig_user.map(|id| {
            let gauge = counters.accounts.entry(id.to_string()).or_default();
            (id.to_string(), advance(gauge, model.account_percent_per_call, &model))
        });
        UsageSnapshot { app, account }
    }

    /// Current gauges without counting a call (for batch envelopes).
    pub fn peek_usage(&self, ig_users: &[String]) -> (UsageNumbers, Vec<(String, UsageNumbers)>) {
        let model = self.plan.usage;
        let mut counters = self.counters.lock().unwrap();
        if let Some(budget) = model.app_budget {
            prune_window(&mut counters.app_window, budget.window, std::time::Instant::now());
        }
        let numbers = |g: Option<&Gauge>, pct: f64| match g {
            Some(g) if g.throttled_remaining > 0 => UsageNumbers::exhausted(model.regain_minutes),
            Some(g) => UsageNumbers::from_percent(g.calls as f64 * pct),
            None => UsageNumbers::default(),
        };
        let app = match model.app_budget {
            _ if model.app_held_percent.is_some() => held(model),
            Some(budget) => UsageNumbers::over_percent(window_percent(&counters.app_window, budget)),
            None => numbers(Some(&counters.app), model.app_percent_per_call),
        };
        let accounts = ig_users
            .iter()
            .map(|id| (id.clone(), numbers(counters.accounts.get(id), model.account_percent_per_call)))
            .collect();
        (app, accounts)
    }
}

/// What the app budget saw so far.
impl FaultState {
    pub fn app_budget_report(&self) -> AppBudgetReport {
        self.counters.lock().unwrap().app_report
    }
}

/// The app gauge held by other users: the figure, with a regain time once at 100 %.
fn held(model: UsageModel) -> UsageNumbers {
    let percent = model.app_held_percent.unwrap_or_default();
    if percent >= 100.0 {
        UsageNumbers::exhausted(model.regain_minutes.max(1))
    } else {
        UsageNumbers::from_percent(percent)
    }
}

fn prune_window(window: &mut std::collections::VecDeque<std::time::Instant>, span: Duration, now: std::time::Instant) {
    while window.front().is_some_and(|t| now.duration_since(*t) >= span) {
        window.pop_front();
    }
}

fn window_percent(window: &std::collections::VecDeque<std::time::Instant>, budget: AppBudget) -> f64 {
    window.len() as f64 * 100.0 / budget.calls.max(1) as f64
}

/// One call on a gauge: returns the numbers after it; at 100 % the gauge enters
/// its throttled phase (the returned numbers then carry a regain time).
fn advance(gauge: &mut Gauge, percent_per_call: f64, model: &UsageModel) -> UsageNumbers {
    let now = std::time::Instant::now();
    if let (Some(idle), Some(last)) = (model.recover_after, gauge.last_call)
        && now.duration_since(last) >= idle
    {
        gauge.calls = 0;
        gauge.throttled_remaining = 0;
    }
    gauge.last_call = Some(now);
    if gauge.throttled_remaining > 0 {
        gauge.throttled_remaining -= 1;
        if gauge.throttled_remaining == 0 {
            gauge.calls = 0;
        }
        return UsageNumbers::exhausted(model.regain_minutes.max(1));
    }
    gauge.calls += 1;
    let percent = gauge.calls as f64 * percent_per_call;
    if percent >= 100.0 && model.throttle_calls > 0 {
        // This call is the first of the `throttle_calls` refused ones.
        gauge.throttled_remaining = model.throttle_calls - 1;
        gauge.calls = 0;
        return UsageNumbers::exhausted(model.regain_minutes.max(1));
    }
    UsageNumbers::from_percent(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_selection_depends_only_on_key_and_attempt() {
        let state = FaultState::new(FaultPlan::transient(0.5, 7));
        let keys: Vec<String> = (0..200).map(|i| format!("GET /v24.0/{i}?\n")).collect();
        let first: Vec<bool> = keys.iter().map(|k| state.on_call(k, "/x", None, false).failure.is_some()).collect();
        let failed = first.iter().filter(|f| **f).count();
        assert!((60..140).contains(&failed), "about half should fail, got {failed}");
        // Second attempts all succeed.
        assert!(keys.iter().all(|k| state.on_call(k, "/x", None, false).failure.is_none()));
        // A fresh state, visiting keys in reverse order, selects the same keys.
        let again = FaultState::new(FaultPlan::transient(0.5, 7));
        let mut reversed: Vec<bool> =
            keys.iter().rev().map(|k| again.on_call(k, "/x", None, false).failure.is_some()).collect();
        reversed.reverse();
        assert_eq!(first, reversed);
    }

    /// The window holds `calls` calls: the next is refused with code 4 and still counted;
    /// once the window has passed, calls go through again.
    #[test]
    fn app_budget_is_a_rolling_window() {
        let state = FaultState::new(FaultPlan::app_budget(4, Duration::from_millis(200)));
        let outcomes: Vec<(u32, bool)> = (0..6)
            .map(|i| {
                let v = state.on_call(&format!("k{i}"), "/x", None, false);
                (v.usage.app.call_count, v.failure.is_some())
            })
            .collect();
        assert_eq!(outcomes, [(25, false), (50, false), (75, false), (100, false), (125, true), (150, true)]);
        let report = state.app_budget_report();
        assert_eq!((report.peak_percent, report.refused, report.calls), (150.0, 2, 6));
        std::thread::sleep(Duration::from_millis(250));
        let v = state.on_call("k9", "/x", None, false);
        assert_eq!((v.usage.app.call_count, v.failure.is_some()), (25, false));
    }

    #[test]
    fn usage_climbs_then_throttles_then_resets() {
        let state = FaultState::new(FaultPlan::usage_climb(25.0, 2));
        let ig = Some("17841400000000001");
        let counts: Vec<(u32, bool)> = (0..7)
            .map(|_| {
                let v = state.on_call("k", "/17841400000000001", ig, false);
                (v.usage.account.unwrap().1.call_count, v.failure.is_some())
            })
            .collect();
        assert_eq!(counts, [(25, false), (50, false), (75, false), (100, true), (100, true), (25, false), (50, false)]);
    }
}
