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
mod retry;
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

/// Rate-limit state shared by every request of every run that uses the same app token and API
/// origin (see `commands::LimiterRegistry`): usage per app and per IG account, and the total wait.
pub struct Limiter {
    board: Mutex<UsageBoard>,
    pacing: Pacing,
    limits: RetryLimits,
    clock: Clock,
    stats: Arc<NetStats>,
}

impl Limiter {
    pub fn new(pacing: Pacing, limits: RetryLimits, clock: Clock) -> Arc<Limiter> {
        Arc::new(Limiter { board: Mutex::default(), pacing, limits, clock, stats: Arc::default() })
    }

    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

/// The policy for one guest instance.
pub struct NetworkPolicy {
    allowed: Origin,
    token: Option<Arc<str>>,
    output: Output,
    limiter: Arc<Limiter>,
    budget: Arc<WaitBudget>,
}

impl NetworkPolicy {
    pub fn new(
        allowed: Origin,
        token: Option<String>,
        output: Output,
        limiter: Arc<Limiter>,
        budget: Arc<WaitBudget>,
    ) -> Self {
        Self { allowed, token: token.map(Arc::from), output, limiter, budget }
    }
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
        Box::new(async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            let call = Call { method: parts.method, uri: parts.uri, headers: parts.headers };
            let response = match BatchBody::parse(&body).filter(|_| call.method == http::Method::POST) {
                Some(batch) => limiter.send_batch(&call, batch, &output, &budget).await?,
                None => limiter.send(&call, body, &output, &budget).await?,
            };
            let response = response.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The parts of a request needed to send it again.
struct Call {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
}

/// The task driving a connection; ended when the attempt ends, however it ends (a timed-out
/// attempt must not leave a connection to a silent server behind).
struct ConnectionTask(tokio::task::JoinHandle<wasmtime_wasi_http::Result<()>>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Limiter {
    /// One attempt, with the whole body read (so it can be classified and retried), within
    /// the attempt's time limits.
    async fn send_once(&self, call: &Call, body: Bytes) -> Result<http::Response<Bytes>, HttpError> {
        let mut request = http::Request::new(Full::new(body).map_err(|never| match never {}).boxed_unsync());
        *request.method_mut() = call.method.clone();
        *request.uri_mut() = call.uri.clone();
        *request.headers_mut() = call.headers.clone();
        let t = &self.limits.timeouts;
        let options = RequestOptions {
            connect_timeout: Some(t.connect),
            first_byte_timeout: Some(t.first_byte),
            between_bytes_timeout: Some(t.between_bytes),
        };
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let attempt = async {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            // The connection must be driven while the body is read.
            let _conn = ConnectionTask(tokio::spawn(io));
            let (parts, body) = response.into_parts();
            let collected = body.collect().await?;
            Ok(http::Response::from_parts(parts, collected.to_bytes()))
        };
        match tokio::time::timeout(t.total, attempt).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::InternalError(Some(format!(
                "no complete answer within {} (the time limit of one request)",
                human(t.total)
            )))),
        }
    }

    /// Wait before a request about `subjects` as the usage board says.
    async fn pace(&self, subjects: &[String], output: &Output, budget: &WaitBudget) {
        let (peak, regain) = self.board.lock().unwrap().peak_for(subjects);
        match self.pacing.decide(peak, regain) {
            Pace::Go => {}
            Pace::Space(d) => self.clock.sleep(d).await,
            Pace::Pause(d) => {
                self.stats.paused.fetch_add(1, Ordering::Relaxed);
                let why = format!("Meta reports {peak:.0}% of the rate limit used");
                if self.wait_rate_limit(d, &why, output, budget).await {
                    self.board.lock().unwrap().reset();
                }
            }
        }
    }

    /// Wait out a rate limit, heartbeating; false (without waiting) when it would pass the
    /// cap on total waiting.
    async fn wait_rate_limit(&self, wait: Duration, why: &str, output: &Output, budget: &WaitBudget) -> bool {
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
            let slice = remaining.min(self.limits.heartbeat);
            self.clock.sleep(slice).await;
            remaining -= slice;
        }
        true
    }

    /// The wait for the `n`th throttle in a row: Meta's regain time, else a backoff in minutes.
    fn throttle_wait(&self, hint: Option<Duration>, n: u32) -> Duration {
        hint.map(|h| h.mul_f64(1.0 + 0.1 * fastrand::f64()))
            .unwrap_or_else(|| backoff(self.limits.throttle_base, n, self.limits.throttle_cap))
    }

    /// Send one request, waiting out throttles and retrying transient failures.
    async fn send(
        &self,
        call: &Call,
        body: Bytes,
        output: &Output,
        budget: &WaitBudget,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (mut transient, mut throttles) = (0u32, 0u32);
        // Time spent on failed attempts and transient backoff (nominal), against the budget.
        let mut spent = Duration::ZERO;
        let subjects = subjects(call, &body);
        loop {
            self.pace(&subjects, output, budget).await;
            let attempt_started = std::time::Instant::now();
            let sent = self.send_once(call, body.clone()).await;
            let attempt_took = attempt_started.elapsed();
            let wait = backoff(self.limits.transient_base, transient, self.limits.transient_cap);
            let may_retry = transient < self.limits.max_transient_retries
                && spent + attempt_took + wait <= self.limits.transient_budget;
            let verdict = match sent {
                Ok(response) => {
                    let reading = parse_usage(response.headers());
                    self.board.lock().unwrap().observe(&reading);
                    match classify(response.status().as_u16(), response.body()) {
                        Verdict::Deliver => return Ok(response),
                        Verdict::Throttled => {
                            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                            let why = format!(
                                "Meta throttled {} (HTTP {}, {})",
                                call.uri.path(),
                                response.status().as_u16(),
                                graph_error_text(response.body())
                            );
                            if !self
                                .wait_rate_limit(self.throttle_wait(reading.regain(), throttles), &why, output, budget)
                                .await
                            {
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
                Err(e) if may_retry => error_text(&e),
                Err(e) => {
                    output.log(
                        "WARN",
                        &format!(
                            "Giving up on {} after {} attempt(s) in {}: {}",
                            call.uri.path(),
                            transient + 1,
                            human(spent + attempt_took),
                            error_text(&e)
                        ),
                    );
                    return Err(e);
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
        output: &Output,
        budget: &WaitBudget,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let n = batch.ops.len();
        let mut answers: Vec<Value> = vec![Value::Null; n];
        let mut pending: Vec<usize> = (0..n).collect();
        let (mut transient, mut throttles) = (0u32, 0u32);
        let mut last_parts = None;
        // Time of rounds and transient backoff, against the same budget as a single request.
        let mut spent = Duration::ZERO;
        loop {
            let round_started = std::time::Instant::now();
            let response = self.send(call, Bytes::from(batch.encode(&pending)), output, budget).await?;
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
            for (index, item) in pending.iter().zip(items) {
                match classify_item(&item) {
                    Verdict::Deliver => {}
                    Verdict::Throttled => {
                        throttled = true;
                        retry.push(*index);
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
                let why = format!("Meta throttled {} of {} batched requests", retry.len(), n);
                if !self.wait_rate_limit(self.throttle_wait(reading.regain(), throttles), &why, output, budget).await {
                    break;
                }
                throttles += 1;
            } else {
                let wait = backoff(self.limits.transient_base, transient, self.limits.transient_cap);
                if transient >= self.limits.max_transient_retries || spent + wait > self.limits.transient_budget {
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

/// A transport failure in plain words (wasmtime's `Display`, or the text the host put in).
pub fn error_text(e: &HttpError) -> String {
    match e {
        HttpError::InternalError(Some(text)) => text.clone(),
        HttpError::Connect(io) => format!("could not connect ({io})"),
        other => other.to_string(),
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
        let call =
            |m: http::Method, u: &str| Call { method: m, uri: u.parse().unwrap(), headers: http::HeaderMap::new() };
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
