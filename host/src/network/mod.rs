//! The guest's only way out: the `wasi:http` outgoing-request hook.
//!
//! Owns the network policy applied to every request the guest makes: the allow-list (only
//! the scheme, host and port of `api_base_url`, checked on the final request URI, never on
//! guest-supplied headers), credentials (the host adds the access token, so the guest never
//! holds it), timeouts, pacing by Meta's usage headers, waiting out throttles and retrying
//! transient failures (also per operation inside batch requests). It must not interpret
//! successful bodies for the guest: what the guest receives is what Meta answered, or the
//! last answer when retrying gave up.

mod retry;
mod usage;

use crate::clock::Clock;
use crate::protocol::Output;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use retry::{BatchBody, Verdict, backoff, classify, classify_item};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use usage::Pacing;
use usage::{Pace, UsageBoard, parse_usage};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Scheme, host and port: the unit of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute URL; `None` when it has no host or an unknown scheme.
    pub fn of_url(url: &str) -> Option<Origin> {
        let u = url::Url::parse(url).ok()?;
        Some(Origin {
            scheme: u.scheme().to_string(),
            host: u.host_str()?.to_ascii_lowercase(),
            port: u.port_or_known_default()?,
        })
    }

    fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri.port_u16().or(match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })?;
        Some(Origin {
            scheme,
            host: uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(),
            port,
        })
    }

    fn matches(&self, other: &Origin) -> bool {
        let strip = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_string();
        self.scheme == other.scheme && strip(&self.host) == strip(&other.host) && self.port == other.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Counters shared with the CLI (summaries and tests).
#[derive(Debug, Default)]
pub struct NetStats {
    pub sent: AtomicU64,
    pub denied: AtomicU64,
    pub retried: AtomicU64,
    pub throttled: AtomicU64,
    pub paused: AtomicU64,
}

/// Limits of the retry and wait policy.
#[derive(Debug, Clone)]
pub struct RetryLimits {
    /// Retries of a transient failure (per request; throttle waits do not count).
    pub max_transient_retries: u32,
    pub transient_base: Duration,
    pub transient_cap: Duration,
    /// Backoff for throttles without a regain time from Meta: minutes, doubling.
    pub throttle_base: Duration,
    pub throttle_cap: Duration,
    /// Emit a RUNNING/RATE_LIMITED status at least this often while waiting.
    pub heartbeat: Duration,
}

impl Default for RetryLimits {
    fn default() -> Self {
        RetryLimits {
            max_transient_retries: 5,
            transient_base: Duration::from_secs(2),
            transient_cap: Duration::from_secs(60),
            throttle_base: Duration::from_secs(60),
            throttle_cap: Duration::from_secs(15 * 60),
            heartbeat: Duration::from_secs(60),
        }
    }
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

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(300);
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(120);

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

impl Limiter {
    /// One attempt, with the whole body read (so it can be classified and retried).
    async fn send_once(&self, call: &Call, body: Bytes) -> Result<http::Response<Bytes>, HttpError> {
        let mut request = http::Request::new(Full::new(body).map_err(|never| match never {}).boxed_unsync());
        *request.method_mut() = call.method.clone();
        *request.uri_mut() = call.uri.clone();
        *request.headers_mut() = call.headers.clone();
        let options = RequestOptions {
            connect_timeout: Some(CONNECT_TIMEOUT),
            first_byte_timeout: Some(FIRST_BYTE_TIMEOUT),
            between_bytes_timeout: Some(BETWEEN_BYTES_TIMEOUT),
        };
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
        // The connection must be driven while the body is read.
        let conn = tokio::spawn(io);
        let (parts, body) = response.into_parts();
        let collected = body.collect().await;
        conn.abort();
        Ok(http::Response::from_parts(parts, collected?.to_bytes()))
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
        let subjects = subjects(call, &body);
        loop {
            self.pace(&subjects, output, budget).await;
            let verdict = match self.send_once(call, body.clone()).await {
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
                        Verdict::Transient if transient < self.limits.max_transient_retries => {
                            format!("HTTP {} ({})", response.status().as_u16(), graph_error_text(response.body()))
                        }
                        Verdict::Transient => return Ok(response),
                    }
                }
                Err(e) if transient < self.limits.max_transient_retries => format!("{e}"),
                Err(e) => return Err(e),
            };
            let wait = backoff(self.limits.transient_base, transient, self.limits.transient_cap);
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
        loop {
            let response = self.send(call, Bytes::from(batch.encode(&pending)), output, budget).await?;
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
                if transient >= self.limits.max_transient_retries {
                    break;
                }
                let wait = backoff(self.limits.transient_base, transient, self.limits.transient_cap);
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

/// `90 s`, `5 min`, `1.5 h`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
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

    /// Only the exact scheme, host and port pass; default ports are implied.
    #[test]
    fn origins() {
        let allowed = Origin::of_url("https://graph.facebook.com").unwrap();
        let check = |u: &str| Origin::of_uri(&u.parse::<http::Uri>().unwrap()).is_some_and(|o| o.matches(&allowed));
        assert!(check("https://graph.facebook.com/v25.0/me"));
        assert!(check("https://GRAPH.facebook.com:443/x"));
        assert!(!check("http://graph.facebook.com/x"));
        assert!(!check("https://graph.facebook.com.evil.test/x"));
        assert!(!check("https://graph.facebook.com:8443/x"));
        assert!(!check("https://127.0.0.1/x"));
    }
}
