//! The time limits of requests and the retry policy's numbers.
//!
//! Owns the defaults (and the operator overrides `SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS`,
//! `SOURCE_INSTAGRAM_RETRY_BUDGET_SECS` and `SOURCE_INSTAGRAM_MAX_RESPONSE_MB`) for timeouts, the
//! size of one answer, transient retries and throttle backoff, and how long each attempt of a
//! request may take within its retry budget. It does not send, sleep or classify.

use std::time::Duration;

/// Limits of the retry and wait policy.
#[derive(Debug, Clone)]
pub struct RetryLimits {
    /// Retries of a transient failure (per request; throttle waits do not count).
    pub max_transient_retries: u32,
    pub transient_base: Duration,
    pub transient_cap: Duration,
    /// Backoff for throttles without a regain time from Meta (or `estimated_time_to_regain_access: 0`):
    /// seconds, doubling while throttles repeat, up to minutes.
    pub throttle_base: Duration,
    pub throttle_cap: Duration,
    /// Emit a RUNNING/RATE_LIMITED status at least this often while waiting.
    pub heartbeat: Duration,
    /// Total time one request may spend on failed attempts and the backoff between them
    /// before its last failure goes to the guest (throttle waits do not count: they have
    /// their own cap, `rate_limit_max_wait_minutes`).
    pub transient_budget: Duration,
    pub timeouts: Timeouts,
    /// Largest body of one answer, in bytes: a longer one fails its request (not retried).
    pub max_response_bytes: u64,
}

/// Default of `SOURCE_INSTAGRAM_MAX_RESPONSE_MB`: far above the largest pages Meta serves.
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 16;
/// The setting that caps one answer's body.
pub const MAX_RESPONSE_SETTING: &str = "SOURCE_INSTAGRAM_MAX_RESPONSE_MB";

impl Default for RetryLimits {
    fn default() -> Self {
        RetryLimits {
            max_transient_retries: 5,
            transient_base: Duration::from_secs(2),
            transient_cap: Duration::from_secs(60),
            throttle_base: Duration::from_secs(5),
            throttle_cap: Duration::from_secs(15 * 60),
            heartbeat: Duration::from_secs(60),
            transient_budget: Duration::from_secs(180),
            timeouts: Timeouts::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_MB << 20,
        }
    }
}

impl RetryLimits {
    /// Defaults, with the per-request time limit from `SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS`
    /// (an operator setting; the other timeouts never exceed it) and the cap on one answer's
    /// body from `SOURCE_INSTAGRAM_MAX_RESPONSE_MB` (whole or fractional MiB).
    pub fn from_env() -> RetryLimits {
        let mut limits = RetryLimits::default();
        if let Some(mb) = std::env::var(MAX_RESPONSE_SETTING)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
        {
            limits.max_response_bytes = ((mb.min(4096.0) * (1u64 << 20) as f64) as u64).max(1);
        }
        if let Some(secs) = seconds_from_env(RETRY_BUDGET_SETTING) {
            limits.transient_budget = Duration::from_secs_f64(secs.min(24.0 * 3600.0));
        }
        if let Some(secs) = std::env::var("SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
        {
            limits.timeouts = Timeouts::with_total(Duration::from_secs_f64(secs.min(3600.0)));
        }
        limits
    }
}

/// The setting that bounds the time one request spends on failed attempts and backoff.
pub const RETRY_BUDGET_SETTING: &str = "SOURCE_INSTAGRAM_RETRY_BUDGET_SECS";

/// A positive number of seconds from the environment variable `name`.
fn seconds_from_env(name: &str) -> Option<f64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v > 0.0)
}

/// Below this much of the retry budget left, a failed request is not tried again.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

impl RetryLimits {
    /// The limits of attempt `n` (0: the first) of a request that has `spent` of its retry
    /// budget: the first has its full time limit, each later one at most what is left of the
    /// budget, so a server that trickles every answer costs a request no more than the budget
    /// (or the first attempt's limit, when that is longer).
    pub fn attempt(&self, n: u32, spent: Duration) -> Timeouts {
        if n == 0 {
            return self.timeouts.clone();
        }
        let left = self.transient_budget.saturating_sub(spent);
        let mut timeouts = self.timeouts.clone();
        if left < timeouts.total {
            timeouts = Timeouts { budget_left: Some(self.transient_budget), ..Timeouts::with_total(left) };
        }
        timeouts
    }

    /// Whether a request that has made `retries` retries, `spent` of its budget before this
    /// attempt, and whose attempt took `took`, may be tried again after `wait`.
    pub fn may_retry(&self, retries: u32, spent: Duration, took: Duration, wait: Duration) -> bool {
        retries < self.max_transient_retries && spent + took + wait + MIN_ATTEMPT <= self.transient_budget
    }
}

impl RetryLimits {
    /// For `check`: one quick retry and a short connect limit, so an unreachable host is
    /// reported within about 10 s (a slow but reachable one keeps the normal limits).
    pub fn quick(&self) -> RetryLimits {
        let mut quick = self.clone();
        quick.max_transient_retries = 1;
        quick.transient_base = Duration::from_secs(1);
        quick.timeouts.connect = quick.timeouts.connect.min(Duration::from_secs(4));
        quick
    }
}

/// Time limits of each attempt of a request (real time, never scaled by the test clock).
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// TCP connect (and the HTTP handshake).
    pub connect: Duration,
    /// From the request sent to the response headers.
    pub first_byte: Duration,
    /// Silence while the body arrives.
    pub between_bytes: Duration,
    /// The whole attempt, connect to last body byte: a server that trickles its answer is
    /// cut off here.
    pub total: Duration,
    /// `Some(budget)`: `total` is what was left of the request's retry budget (for messages).
    pub budget_left: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::with_total(Duration::from_secs(120))
    }
}

impl Timeouts {
    /// The default limits, none longer than `total`.
    pub fn with_total(total: Duration) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10).min(total),
            first_byte: Duration::from_secs(60).min(total),
            between_bytes: Duration::from_secs(30).min(total),
            total,
            budget_left: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the default limits, a server that trickles every answer costs one request at most
    /// its retry budget (3 min, as README says): each retry has only what is left of it.
    #[test]
    fn a_trickling_server_costs_a_request_its_retry_budget_at_most() {
        let limits = RetryLimits::default();
        assert_eq!(limits.transient_budget, Duration::from_secs(180));
        let (mut spent, mut elapsed, mut attempts) = (Duration::ZERO, Duration::ZERO, 0);
        loop {
            // The attempt takes all the time it is given.
            let took = limits.attempt(attempts, spent).total;
            elapsed += took;
            let wait = super::super::retry::backoff(limits.transient_base, attempts, limits.transient_cap);
            if !limits.may_retry(attempts, spent, took, wait) {
                break;
            }
            spent += took + wait;
            elapsed += wait;
            attempts += 1;
        }
        assert_eq!(attempts, 1, "one retry");
        assert!(elapsed <= Duration::from_secs(180), "{elapsed:?}");
        assert!(elapsed >= Duration::from_secs(175), "the budget is used: {elapsed:?}");
    }
}
