//! The guest's only way out: the `wasi:http` outgoing-request hook.
//!
//! Owns the network policy applied to every request the guest makes: the allow-list (only
//! the scheme, host and port of `api_base_url`, checked on the final request URI, never on
//! guest-supplied headers), credentials (the host adds the access token, so the guest never
//! holds it), timeouts, pacing by Meta's usage headers, waiting out throttles and retrying
//! transient failures (also per operation inside batch requests). It must not interpret
//! successful bodies for the guest: what the guest receives is what Meta answered, or the
//! last answer when retrying gave up.

mod limits;
mod origin;
mod pauses;
mod retry;
mod transport;
mod usage;

use crate::clock::Clock;
use crate::protocol::Output;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
pub use limits::{RetryLimits, Timeouts};
pub use origin::Origin;
use retry::{BatchBody, Verdict, backoff, classify, classify_item};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use transport::Transport;
pub use usage::Pacing;
use usage::{Pace, UsageBoard, parse_usage};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Counters shared with the CLI (summaries and tests).
#[derive(Debug, Default)]
pub struct NetStats {
    pub sent: AtomicU64,
    pub denied: AtomicU64,
    pub retried: AtomicU64,
    pub throttled: AtomicU64,
    pub paused: AtomicU64,
}

/// One run's allowance for waiting on rate limits (tenants sharing a token share its usage
/// board, but each run has its own cap).
pub struct WaitBudget {
    waited: Mutex<Duration>,
    max: Duration,
}

impl WaitBudget {
    pub fn new(max: Duration) -> Arc<WaitBudget> {
        Arc::new(WaitBudget { waited: Mutex::default(), max })
    }
}

/// Rate-limit state and connections shared by every request of every run that uses the same
/// app token and API origin (see `commands::LimiterRegistry`): usage per app and per IG
/// account, and the keep-alive pool.
pub struct Limiter {
    board: Mutex<UsageBoard>,
    pauses: Mutex<pauses::Pauses>,
    pacing: Pacing,
    limits: RetryLimits,
    clock: Clock,
    stats: Arc<NetStats>,
    transport: Transport,
    /// Trust-store files that could not be used (logged by each run).
    trust_problems: Vec<String>,
}

/// The roots every client trusts, loaded once per process.
fn roots() -> &'static (rustls::RootCertStore, transport::TrustSources, Vec<String>) {
    static ROOTS: std::sync::OnceLock<(rustls::RootCertStore, transport::TrustSources, Vec<String>)> =
        std::sync::OnceLock::new();
    ROOTS.get_or_init(transport::root_store)
}

impl Limiter {
    pub fn new(pacing: Pacing, limits: RetryLimits, clock: Clock) -> Result<Arc<Limiter>, String> {
        let (store, _, problems) = roots();
        // Off by default for now: against the test suite's fake Graph API (tiny_http), reused
        // connections sometimes stall until the read timeout; `=1` turns the pool on.
        let keep_alive = std::env::var("SOURCE_INSTAGRAM_KEEPALIVE").is_ok_and(|v| v == "1");
        let transport = Transport::new(store.clone(), &limits.timeouts, keep_alive)?;
        Ok(Arc::new(Limiter {
            board: Mutex::default(),
            pauses: Mutex::default(),
            pacing,
            limits,
            clock,
            stats: Arc::default(),
            transport,
            trust_problems: problems.clone(),
        }))
    }

    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }

    /// The retry limits of this app token and origin (a run may use stricter ones).
    pub fn limits(&self) -> &RetryLimits {
        &self.limits
    }
}

/// The policy for one guest instance.
pub struct NetworkPolicy {
    allowed: Origin,
    token: Option<Arc<str>>,
    output: Output,
    limiter: Arc<Limiter>,
    budget: Arc<WaitBudget>,
    limits: Arc<RetryLimits>,
}

impl NetworkPolicy {
    /// `limits`: this run's retry limits (`None`: the limiter's).
    pub fn new(
        allowed: Origin,
        token: Option<String>,
        output: Output,
        limiter: Arc<Limiter>,
        budget: Arc<WaitBudget>,
        limits: Option<RetryLimits>,
    ) -> Self {
        for problem in &limiter.trust_problems {
            output.log("WARN", &format!("A CA certificate file could not be used: {problem}"));
        }
        let limits = Arc::new(limits.unwrap_or_else(|| limiter.limits.clone()));
        Self { allowed, token: token.map(Arc::from), output, limiter, budget, limits }
    }
}

/// What one run brings to each request: where to log, its wait budget and retry limits.
struct RunCtx<'a> {
    output: &'a Output,
    budget: &'a WaitBudget,
    limits: &'a RetryLimits,
}

type HttpError = wasmtime_wasi_http::Error;
type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NetworkPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let target = Origin::of_uri(request.uri());
        if !target.as_ref().is_some_and(|t| t.matches(&self.allowed)) {
            self.limiter.stats.denied.fetch_add(1, Ordering::Relaxed);
            let shown = target.map(|t| t.to_string()).unwrap_or_else(|| "a URL without a host".into());
            self.output.log(
                "WARN",
                &format!(
                    "Network policy refused a request from the connector to {shown}: only {} is allowed",
                    self.allowed
                ),
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if let Some(token) = &self.token
            && let Ok(mut value) = http::HeaderValue::from_str(&format!("Bearer {token}"))
        {
            value.set_sensitive(true);
            request.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        let limiter = self.limiter.clone();
        let output = self.output.clone();
        let budget = self.budget.clone();
        let limits = self.limits.clone();
        Box::new(async move {
            let (mut parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            // The guest may say which account a request is about (media ids do not tell);
            // the hint never leaves the host.
            let account = parts
                .headers
                .remove(ACCOUNT_HINT)
                .and_then(|v| v.to_str().ok().map(str::to_string))
                .filter(|a| !a.is_empty() && a.len() <= 64 && a.chars().all(|c| c.is_ascii_alphanumeric()));
            let call = Call { method: parts.method, uri: parts.uri, headers: parts.headers, account };
            let ctx = RunCtx { output: &output, budget: &budget, limits: &limits };
            let response = match BatchBody::parse(&body).filter(|_| call.method == http::Method::POST) {
                Some(batch) => limiter.send_batch(&call, batch, &ctx).await?,
                None => limiter.send(&call, body, &ctx).await?,
            };
            let response = response.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// Header by which the guest names the IG account a request is about (removed before sending).
pub const ACCOUNT_HINT: &str = "x-source-instagram-account";

/// The parts of a request needed to send it again.
struct Call {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    /// The account the guest said this request is about.
    account: Option<String>,
}

impl Limiter {
    /// One attempt, with the whole body read (so it can be classified and retried), within
    /// the attempt's time limits.
    async fn send_once(
        &self,
        call: &Call,
        body: Bytes,
        limits: &RetryLimits,
    ) -> Result<http::Response<Bytes>, transport::AttemptError> {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.transport.send(&call.method, &call.uri, &call.headers, body, &limits.timeouts).await
    }

    /// Wait before a request about `subjects` as the usage board says.
    async fn pace(&self, subjects: &[String], ctx: &RunCtx<'_>) {
        // A throttle in force for the app or these accounts: wait it out (the throttled
        // request itself counts that wait against its run's cap).
        loop {
            let now = std::time::Instant::now();
            let Some(until) = self.pauses.lock().unwrap().until_for(subjects, now) else { break };
            let remaining = until - now;
            ctx.output.rate_limited(crate::protocol::now_ms() + self.clock.nominal(remaining).as_millis() as i64);
            tokio::time::sleep(remaining.min(self.clock.real(ctx.limits.heartbeat))).await;
        }
        let (peak, regain) = self.board.lock().unwrap().peak_for(subjects);
        match self.pacing.decide(peak, regain) {
            Pace::Go => {}
            Pace::Space(d) => self.clock.sleep(d).await,
            Pace::Pause(d) => {
                self.stats.paused.fetch_add(1, Ordering::Relaxed);
                let why = format!("Meta reports {peak:.0}% of the rate limit used");
                if self.wait_rate_limit(d, &why, ctx).await {
                    self.board.lock().unwrap().reset();
                }
            }
        }
    }

    /// Wait out a rate limit, heartbeating; false (without waiting) when it would pass the
    /// cap on total waiting.
    async fn wait_rate_limit(&self, wait: Duration, why: &str, ctx: &RunCtx<'_>) -> bool {
        let (output, budget) = (ctx.output, ctx.budget);
        {
            let mut waited = budget.waited.lock().unwrap();
            if *waited + wait > budget.max {
                output.log(
                    "ERROR",
                    &format!(
                        "{why}; waiting {} more would pass the cap of {} on rate-limit waits, so the read stops here",
                        human(wait),
                        human(budget.max)
                    ),
                );
                return false;
            }
            *waited += wait;
        }
        output.log("WARN", &format!("{why}; pausing requests for {}", human(wait)));
        let mut remaining = wait;
        while !remaining.is_zero() {
            let reset = crate::protocol::now_ms() + remaining.as_millis() as i64;
            output.rate_limited(reset);
            let slice = remaining.min(ctx.limits.heartbeat);
            self.clock.sleep(slice).await;
            remaining -= slice;
        }
        true
    }

    /// Record a throttle of `scopes` for `wait` (nominal): requests about them hold back until
    /// it has passed. Returns the throttle streak before this one.
    fn pause_scopes(&self, scopes: &[pauses::Scope], wait: Duration) {
        let until = std::time::Instant::now() + self.clock.real(wait);
        self.pauses.lock().unwrap().pause(scopes, until);
    }

    /// The wait for the `n`th throttle in a row: Meta's regain time, else a backoff that starts
    /// at seconds and grows while throttles repeat.
    fn throttle_wait(limits: &RetryLimits, hint: Option<Duration>, n: u32) -> Duration {
        hint.map(|h| h.mul_f64(1.0 + 0.1 * fastrand::f64()))
            .unwrap_or_else(|| backoff(limits.throttle_base, n, limits.throttle_cap))
    }

    /// Send one request, waiting out throttles and retrying transient failures.
    async fn send(&self, call: &Call, body: Bytes, ctx: &RunCtx<'_>) -> Result<http::Response<Bytes>, HttpError> {
        let (output, limits) = (ctx.output, ctx.limits);
        let (mut transient, mut throttles) = (0u32, 0u32);
        // Time spent on failed attempts and transient backoff (nominal), against the budget.
        let mut spent = Duration::ZERO;
        let subjects = subjects(call, &body);
        loop {
            self.pace(&subjects, ctx).await;
            let attempt_started = std::time::Instant::now();
            let sent = self.send_once(call, body.clone(), limits).await;
            let attempt_took = attempt_started.elapsed();
            let wait = backoff(limits.transient_base, transient, limits.transient_cap);
            let may_retry = !sent.as_ref().is_err_and(|e| e.is_final)
                && transient < limits.max_transient_retries
                && spent + attempt_took + wait <= limits.transient_budget;
            let verdict = match sent {
                Ok(response) => {
                    let reading = parse_usage(response.headers());
                    self.board.lock().unwrap().observe(&reading);
                    let verdict = classify(response.status().as_u16(), response.body());
                    if verdict != Verdict::Throttled {
                        self.pauses.lock().unwrap().delivered();
                    }
                    match verdict {
                        Verdict::Deliver => return Ok(response),
                        Verdict::Throttled => {
                            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                            let codes: Vec<i64> = pauses::error_code(response.body()).into_iter().collect();
                            let scopes = pauses::scope_of(&codes, &reading, &subjects);
                            let streak = self.pauses.lock().unwrap().throttled();
                            let wait = Self::throttle_wait(limits, reading.regain(), streak.max(throttles));
                            self.pause_scopes(&scopes, wait);
                            let why = format!(
                                "Meta throttled {} (HTTP {}, {}; {})",
                                call.uri.path(),
                                response.status().as_u16(),
                                graph_error_text(response.body()),
                                describe_scopes(&scopes)
                            );
                            if !self.wait_rate_limit(wait, &why, ctx).await {
                                return Ok(response);
                            }
                            throttles += 1;
                            continue;
                        }
                        Verdict::Transient if may_retry => {
                            format!("HTTP {} ({})", response.status().as_u16(), graph_error_text(response.body()))
                        }
                        Verdict::Transient => return Ok(response),
                    }
                }
                Err(e) if may_retry => e.text,
                Err(e) => {
                    let why = if e.is_final {
                        "(retrying cannot help)".to_string()
                    } else {
                        format!("after {} attempt(s) in {}", transient + 1, human(spent + attempt_took))
                    };
                    output.log("WARN", &format!("Giving up on {} {why}: {}", call.uri.path(), e.text));
                    return Err(HttpError::InternalError(Some(e.text)));
                }
            };
            spent += attempt_took + wait;
            transient += 1;
            self.stats.retried.fetch_add(1, Ordering::Relaxed);
            output.log(
                "INFO",
                &format!("Transient failure of {} ({verdict}); retry {transient} in {}", call.uri.path(), human(wait)),
            );
            self.clock.sleep(wait).await;
        }
    }

    /// Send a batch; operations that were throttled or failed transiently are sent again
    /// (alone) and their answers spliced back in place, so each operation ends with a final
    /// answer whatever happened to its neighbours.
    async fn send_batch(
        &self,
        call: &Call,
        batch: BatchBody,
        ctx: &RunCtx<'_>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (output, limits) = (ctx.output, ctx.limits);
        let n = batch.ops.len();
        let mut answers: Vec<Value> = vec![Value::Null; n];
        let mut pending: Vec<usize> = (0..n).collect();
        let (mut transient, mut throttles) = (0u32, 0u32);
        let mut last_parts = None;
        // Time of rounds and transient backoff, against the same budget as a single request.
        let mut spent = Duration::ZERO;
        loop {
            let round_started = std::time::Instant::now();
            let response = self.send(call, Bytes::from(batch.encode(&pending)), ctx).await?;
            spent += round_started.elapsed();
            let (parts, body) = response.into_parts();
            let items = match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(items)) if parts.status.is_success() && items.len() == pending.len() => items,
                _ if last_parts.is_none() => return Ok(http::Response::from_parts(parts, body)),
                _ => {
                    // A later round failed as a whole: each remaining operation gets that answer.
                    let answer =
                        serde_json::json!({"code": parts.status.as_u16(), "body": String::from_utf8_lossy(&body)});
                    pending.iter().for_each(|i| answers[*i] = answer.clone());
                    last_parts = Some(parts);
                    break;
                }
            };
            let reading = parse_usage(&parts.headers);
            last_parts = Some(parts);
            let mut retry = Vec::new();
            let mut throttled = false;
            let mut codes = Vec::new();
            for (index, item) in pending.iter().zip(items) {
                match classify_item(&item) {
                    Verdict::Deliver => {}
                    Verdict::Throttled => {
                        throttled = true;
                        retry.push(*index);
                        let body = item.get("body").and_then(Value::as_str).unwrap_or("");
                        codes.extend(pauses::error_code(body.as_bytes()));
                    }
                    Verdict::Transient => retry.push(*index),
                }
                answers[*index] = item;
            }
            if retry.is_empty() {
                break;
            }
            if throttled {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let subjects = subjects(call, &Bytes::from(batch.encode(&retry)));
                let scopes = pauses::scope_of(&codes, &reading, &subjects);
                let streak = self.pauses.lock().unwrap().throttled();
                let wait = Self::throttle_wait(limits, reading.regain(), streak.max(throttles));
                self.pause_scopes(&scopes, wait);
                let why =
                    format!("Meta throttled {} of {} batched requests ({})", retry.len(), n, describe_scopes(&scopes));
                if !self.wait_rate_limit(wait, &why, ctx).await {
                    break;
                }
                throttles += 1;
            } else {
                let wait = backoff(limits.transient_base, transient, limits.transient_cap);
                if transient >= limits.max_transient_retries || spent + wait > limits.transient_budget {
                    break;
                }
                spent += wait;
                transient += 1;
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                output.log(
                    "INFO",
                    &format!(
                        "{} batched requests failed transiently; retry {transient} in {}",
                        retry.len(),
                        human(wait)
                    ),
                );
                self.clock.sleep(wait).await;
            }
            pending = retry;
        }
        let mut parts = last_parts.expect("at least one round ran");
        parts.headers.remove(http::header::CONTENT_LENGTH);
        Ok(http::Response::from_parts(parts, Bytes::from(Value::Array(answers).to_string())))
    }
}

/// The Graph objects a request is about: the first path segment after the version, for the
/// request itself or for each operation of a batch (`me` and the root are about no account).
fn subjects(call: &Call, body: &Bytes) -> Vec<String> {
    if let Some(account) = &call.account {
        return vec![account.clone()];
    }
    fn first_id(path: &str) -> Option<String> {
        let mut parts = path.trim_start_matches('/').split(['/', '?']).filter(|p| !p.is_empty());
        let mut first = parts.next()?;
        if first.starts_with('v') && first.contains('.') {
            first = parts.next()?;
        }
        (first != "me").then(|| first.to_string())
    }
    let mut ids: Vec<String> = match BatchBody::parse(body).filter(|_| call.method == http::Method::POST) {
        Some(batch) => batch.ops.iter().filter_map(|op| op.get("relative_url")?.as_str().and_then(first_id)).collect(),
        None => first_id(call.uri.path()).into_iter().collect(),
    };
    ids.sort();
    ids.dedup();
    ids
}

/// Who a throttle holds back, for logs.
fn describe_scopes(scopes: &[pauses::Scope]) -> String {
    let accounts: Vec<&str> = scopes
        .iter()
        .filter_map(|s| match s {
            pauses::Scope::Account(a) => Some(a.as_str()),
            pauses::Scope::App => None,
        })
        .collect();
    if accounts.is_empty() {
        "the app's limit: every request waits".to_string()
    } else {
        format!("the limit of account {}: its requests wait, other accounts go on", accounts.join(", "))
    }
}

/// `code: message` of a Graph error body, or a short note on what the body is.
fn graph_error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("error").cloned()) {
        Some(e) => format!(
            "Graph error {}: {}",
            e.get("code").and_then(Value::as_i64).unwrap_or(0),
            e.get("message").and_then(Value::as_str).unwrap_or("")
        ),
        None => format!("{} bytes, not a Graph error", body.len()),
    }
}

/// `90 s`, `5 min`, `1.5 h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request is about the ids right after the API version, batch operations included.
    #[test]
    fn request_subjects() {
        let call = |m: http::Method, u: &str| Call {
            method: m,
            uri: u.parse().unwrap(),
            headers: http::HeaderMap::new(),
            account: None,
        };
        let get = call(http::Method::GET, "http://g/v25.0/1784/media?limit=100");
        assert_eq!(subjects(&get, &Bytes::new()), vec!["1784"]);
        let me = call(http::Method::GET, "http://g/v25.0/me/accounts");
        assert!(subjects(&me, &Bytes::new()).is_empty());
        let batch = call(http::Method::POST, "http://g/v25.0/");
        let body = retry::BatchBody {
            ops: vec![
                serde_json::json!({"method": "GET", "relative_url": "v25.0/1784/insights?metric=reach"}),
                serde_json::json!({"method": "GET", "relative_url": "1785/insights"}),
                serde_json::json!({"method": "GET", "relative_url": "v25.0/1784/insights?metric=views"}),
            ],
            fields: vec![],
        };
        assert_eq!(subjects(&batch, &Bytes::from(body.encode(&[0, 1, 2]))), vec!["1784", "1785"]);
    }
}
