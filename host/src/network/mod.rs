//! The guest's only way out: the `wasi:http` outgoing-request hook.
//!
//! Owns the network policy applied to every request the guest makes: the allow-list (only
//! the scheme, host and port of `api_base_url`, checked on the final request URI, never on
//! guest-supplied headers), credentials (the host adds the access token, so the guest never
//! holds it, and the `appsecret_proof` when the config holds the app secret), timeouts, pacing by Meta's usage headers and a budget of Graph calls in flight, waiting out throttles and retrying
//! transient failures (also per operation inside batch requests), and recording each exchange
//! when asked (`--record`, see `recording`). It must not interpret
//! successful bodies for the guest: what the guest receives is what Meta answered, or the
//! last answer when retrying gave up.

mod admission;
mod appsecret_proof;

/// `uri` signed with the `appsecret_proof` of `token` (for the host's own calls, such as
/// checking a renewed token before it is handed over).
pub fn signed_for(uri: &http::Uri, app_secret: &str, token: &str) -> http::Uri {
    appsecret_proof::with_proof(uri, &appsecret_proof::proof(app_secret, token))
}
mod budget;
mod host_request;
mod limits;
mod origin;
mod pauses;
mod platform;
mod proxy;
mod retry;
mod sending;
mod transport;
mod usage;
mod words;

use crate::clock::Clock;
use crate::protocol::Output;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
pub use limits::{RetryLimits, Timeouts};
pub use origin::Origin;
pub use proxy::proxy_variable_problem;
use retry::{BatchBody, Verdict, backoff, classify};
pub use sending::ACCOUNT_HINT;
use sending::Call;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use transport::Transport;
pub use usage::Pacing;
use usage::{Pace, UsageBoard, parse_usage};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};
pub use words::human;
use words::{describe_scopes, graph_error_text};

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
/// board, but each run has its own cap). Every wait counts against it: usage pacing, throttle
/// pauses, the call budget. A wait that would pass it stops the run: that request and every
/// later one fail at once with [`words::READ_STOPS`] in their error, which the component takes
/// as the end of the read (a `transient_error` after the checkpoints already written). Two
/// requests in a row that fail after all their transient retries (an outage) stop it too.
pub struct WaitBudget {
    /// Nominal time spent waiting so far, and the real instant up to which it is counted:
    /// requests waiting at the same time wait once (the cap is on the read's time, not the
    /// sum of every worker's waits).
    waited: Mutex<(Duration, Option<std::time::Instant>)>,
    max: Duration,
    clock: Clock,
    /// Why the run stopped, once it did.
    stopped: Mutex<Option<String>>,
    /// Requests that gave up after their transient retries since the last answer delivered.
    give_ups: std::sync::atomic::AtomicU32,
}

/// Consecutive requests failing after all their retries that make an outage.
const OUTAGE_GIVE_UPS: u32 = 2;

impl WaitBudget {
    pub fn new(max: Duration) -> Arc<WaitBudget> {
        Arc::new(WaitBudget {
            waited: Mutex::default(),
            max,
            clock: Clock::from_env(),
            stopped: Mutex::default(),
            give_ups: Default::default(),
        })
    }

    /// Why the run stopped, if it did.
    fn stopped(&self) -> Option<String> {
        self.stopped.lock().unwrap().clone()
    }

    /// Stop the run (once; the first reason stays) and give the reason every request gets.
    fn stop(&self, output: &Output, reason: String) -> String {
        let mut stopped = self.stopped.lock().unwrap();
        if stopped.is_none() {
            output.log("ERROR", &reason);
            *stopped = Some(reason);
        }
        stopped.clone().expect("set above")
    }

    /// Count a wait of `wait` (nominal) from now for `why` against the cap (only the part not
    /// already counted for another waiting request); when it would pass the cap, the run stops
    /// and the reason comes back.
    fn spend(&self, wait: Duration, why: &str, output: &Output) -> Result<(), String> {
        if let Some(reason) = self.stopped() {
            return Err(reason);
        }
        {
            let mut waited = self.waited.lock().unwrap();
            let now = std::time::Instant::now();
            let end = now + self.clock.real(wait);
            let from = waited.1.map_or(now, |until| until.max(now));
            let more = self.clock.nominal(end.saturating_duration_since(from));
            if waited.0 + more <= self.max {
                waited.0 += more;
                waited.1 = Some(end.max(from));
                return Ok(());
            }
        }
        Err(self.stop(output, words::cap_reached(why, wait, self.max)))
    }

    /// An answer was delivered: whatever failed before was no outage.
    fn delivered(&self) {
        self.give_ups.store(0, Ordering::Relaxed);
    }

    /// A request failed after all its transient retries; two in a row stop the run.
    fn gave_up(&self, why: &str, output: &Output) -> Option<String> {
        if self.give_ups.fetch_add(1, Ordering::Relaxed) + 1 >= OUTAGE_GIVE_UPS {
            return Some(self.stop(output, words::outage(why)));
        }
        None
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
    transport: Arc<Transport>,
    /// Graph calls in flight against the app's rate limit (`None`: turned off).
    calls: Option<Mutex<budget::CallBudget>>,
    /// Told whenever an answer may have freed room in `calls`.
    calls_changed: tokio::sync::Notify,
    /// Requests waiting for room in `calls`.
    calls_waiting: AtomicU64,
}

/// The roots every client trusts, loaded once per process.
fn roots() -> &'static (rustls::RootCertStore, transport::TrustSources, Vec<String>) {
    static ROOTS: std::sync::OnceLock<(rustls::RootCertStore, transport::TrustSources, Vec<String>)> =
        std::sync::OnceLock::new();
    ROOTS.get_or_init(transport::root_store)
}

/// One transport (HTTP clients and their connection pools) per process and set of time limits:
/// every limiter (one per token and origin) shares it, so a thousand `run-many` tenants on
/// their own tokens hold a thousand budgets, not a thousand pools of idle connections.
fn shared_transport(timeouts: &Timeouts, keep_alive: bool) -> Result<Arc<Transport>, String> {
    static SHARED: Mutex<Vec<(String, Arc<Transport>)>> = Mutex::new(Vec::new());
    let key = format!("{timeouts:?}|{keep_alive}");
    let mut shared = SHARED.lock().unwrap();
    if let Some((_, transport)) = shared.iter().find(|(k, _)| *k == key) {
        return Ok(transport.clone());
    }
    let transport = Arc::new(Transport::new(|| roots().0.clone(), timeouts, keep_alive)?);
    shared.push((key, transport.clone()));
    Ok(transport)
}

impl Limiter {
    pub fn new(pacing: Pacing, limits: RetryLimits, clock: Clock) -> Result<Arc<Limiter>, String> {
        // Reused connections by default; `SOURCE_INSTAGRAM_KEEPALIVE=0` opens one per request
        // (the benchmark's baseline, and a way out should a middlebox mishandle reuse).
        let keep_alive = std::env::var("SOURCE_INSTAGRAM_KEEPALIVE").map_or(true, |v| v != "0");
        let transport = shared_transport(&limits.timeouts, keep_alive)?;
        // On by default; `SOURCE_INSTAGRAM_CALL_BUDGET=0` turns it off (the benchmark's baseline).
        let calls = std::env::var("SOURCE_INSTAGRAM_CALL_BUDGET")
            .map_or(true, |v| v != "0")
            .then(|| Mutex::new(budget::CallBudget::new(clock.real(budget::APP_WINDOW))));
        Ok(Arc::new(Limiter {
            board: Mutex::default(),
            pauses: Mutex::default(),
            pacing,
            limits,
            clock,
            stats: Arc::default(),
            transport,
            calls,
            calls_changed: tokio::sync::Notify::new(),
            calls_waiting: AtomicU64::new(0),
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
    /// `appsecret_proof` for `token`, when the config holds the app secret.
    proof: Option<Arc<str>>,
    output: Output,
    limiter: Arc<Limiter>,
    budget: Arc<WaitBudget>,
    limits: Arc<RetryLimits>,
    /// Where each exchange is recorded (`--record`).
    recording: Option<Arc<crate::recording::Recording>>,
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
        // The trust store is loaded only for runs that may need TLS (an https origin, a proxy).
        if allowed.scheme != "http" || proxy::proxy_configured() {
            for problem in &roots().2 {
                output.log("WARN", &format!("A CA certificate file could not be used: {problem}"));
            }
        }
        let limits = Arc::new(limits.unwrap_or_else(|| limiter.limits.clone()));
        Self { allowed, token: token.map(Arc::from), proof: None, output, limiter, budget, limits, recording: None }
    }

    /// Sign every request with `appsecret_proof` (computed here, from this policy's token, so a
    /// renewed token gets its own proof). The proof is masked in every output.
    pub fn with_appsecret_proof(mut self, app_secret: Option<&str>) -> Self {
        if let (Some(secret), Some(token)) = (app_secret, &self.token) {
            let proof = appsecret_proof::proof(secret, token);
            self.output.add_secret(&proof);
            self.proof = Some(Arc::from(proof));
        }
        self
    }

    /// Record every exchange (the final answer the guest receives) to `recording`.
    pub fn with_recording(mut self, recording: Option<Arc<crate::recording::Recording>>) -> Self {
        self.recording = recording;
        self
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
        if let Some(proof) = &self.proof {
            *request.uri_mut() = appsecret_proof::with_proof(request.uri(), proof);
        }
        let limiter = self.limiter.clone();
        let output = self.output.clone();
        let budget = self.budget.clone();
        let limits = self.limits.clone();
        let recording = self.recording.clone();
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
            let sent = match BatchBody::parse(&body).filter(|_| call.method == http::Method::POST) {
                Some(batch) => limiter.send_batch(&call, batch, &ctx).await,
                None => limiter.send(&call, body.clone(), &ctx).await,
            };
            if let Some(recording) = &recording {
                match &sent {
                    Ok(response) => recording.exchange(&call.method, &call.uri, &body, response),
                    Err(e) => recording.failed(&call.method, &call.uri, &body, &e.to_string()),
                }
            }
            let response = sent?;
            let response = response.map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}
