//! Sending one request for the connector under the host's rules (`network`): pacing by the
//! usage headers and throttle pauses before each attempt, waiting out throttles (Meta's regain
//! time, else backoff), retrying transient failures within their budget, and re-sending only
//! the failed operations of a Graph batch, whose answers are merged back in place.
//!
//! Owns the policy's state (allowed origin, usage board, pauses, limits, time scale) and the
//! blocking waits, through `wasi:clocks/monotonic-clock`. It must not decide what the
//! connector's resources look like (see `types`).

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types as host;
use crate::network::origin::Origin;
use crate::network::retry::{BatchBody, Verdict, backoff, classify};
use crate::network::usage::{Pace, Pacing, UsageBoard, UsageReading, parse_usage};
use crate::network::{describe_scopes, graph_error_text, human, limits::RetryLimits, pauses, platform};
use serde_json::Value;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Header by which the connector names the IG account a request is about (as for the host:
/// it decides the pacing scope and never leaves the policy).
const ACCOUNT_HINT: &str = "x-source-instagram-account";

/// A request as the connector made it, enough to send it again.
pub struct Call {
    pub method: host::Method,
    pub scheme: host::Scheme,
    pub authority: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// One answer, whole.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

struct Rules {
    allowed: Option<Origin>,
    board: UsageBoard,
    pauses: pauses::Pauses,
    pacing: Pacing,
    limits: RetryLimits,
    /// `SOURCE_INSTAGRAM_TIME_SCALE`, as for the host: waits N times shorter in real time.
    scale: f64,
    /// `rate_limit_max_wait_minutes`: the most the read waits on rate limits in all.
    max_wait: Duration,
    waited: Duration,
}

thread_local! {
    static RULES: RefCell<Rules> = RefCell::new(Rules {
        allowed: None,
        board: UsageBoard::default(),
        pauses: pauses::Pauses::default(),
        pacing: Pacing::default(),
        limits: RetryLimits::from_env(),
        scale: std::env::var("SOURCE_INSTAGRAM_TIME_SCALE")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 1.0)
            .unwrap_or(1.0),
        max_wait: Duration::from_secs(3600),
        waited: Duration::ZERO,
    });
}

/// The retry limits in force.
pub(crate) fn limits() -> RetryLimits {
    rules(|r| r.limits.clone())
}

fn rules<T>(f: impl FnOnce(&mut Rules) -> T) -> T {
    RULES.with(|r| f(&mut r.borrow_mut()))
}

/// Take the config's allowed origin and its rate-limit settings.
pub fn configure(config: &str) {
    let parsed: Value = serde_json::from_str(config).unwrap_or(Value::Null);
    let number =
        |field: &str, min: f64, max: f64| parsed.get(field).and_then(Value::as_f64).filter(|v| (min..=max).contains(v));
    let max_wait = number("rate_limit_max_wait_minutes", 0.0, 1440.0).unwrap_or(60.0);
    let slow_from = number("usage_slowdown_percent", 1.0, 95.0).unwrap_or(75.0);
    rules(|r| {
        r.allowed = crate::network::allowed_origin(config);
        r.max_wait = Duration::from_secs_f64(max_wait * 60.0);
        r.pacing.slow_from = slow_from;
    });
}

/// Whether a request may go to `scheme://authority`; a refusal is logged.
pub fn permits(scheme: &str, authority: &str) -> bool {
    let allowed = rules(|r| r.allowed.clone());
    if crate::network::permits(allowed.as_ref(), scheme, authority) {
        return true;
    }
    let only = allowed.map_or_else(|| "no origin (no config was given)".to_string(), |o| o.to_string());
    log(
        "WARN",
        &format!(
            "Network policy refused a request from the connector to {scheme}://{authority}: only {only} is allowed"
        ),
    );
    false
}

/// An Airbyte LOG message on stdout (paths only: queries may hold the token).
pub fn log(level: &str, message: &str) {
    println!("{}", serde_json::json!({"type": "LOG", "log": {"level": level, "message": message}}));
}

pub(crate) fn sleep(nominal: Duration) {
    if nominal.is_zero() {
        return;
    }
    let real = nominal.div_f64(rules(|r| r.scale));
    monotonic_clock::subscribe_duration(real.as_nanos().min(u64::MAX as u128) as u64).block();
}

/// Wait out a rate limit (logged, as the host does); false, without waiting, when the wait
/// would pass `rate_limit_max_wait_minutes`.
pub(crate) fn wait_rate_limit(wait: Duration, why: &str) -> bool {
    if !spend(wait) {
        log("WARN", &format!("{why}; waiting {} would pass rate_limit_max_wait_minutes", human(wait)));
        return false;
    }
    log("WARN", &format!("{why}; pausing requests for {}", human(wait)));
    sleep(wait);
    true
}

/// Count a rate-limit wait against `rate_limit_max_wait_minutes`; false once it would pass it.
fn spend(wait: Duration) -> bool {
    rules(|r| {
        if r.waited + wait > r.max_wait {
            return false;
        }
        r.waited += wait;
        true
    })
}

impl Call {
    fn uri(&self) -> http::Uri {
        let scheme = match &self.scheme {
            host::Scheme::Http => "http",
            host::Scheme::Https => "https",
            host::Scheme::Other(s) => s.as_str(),
        };
        format!("{scheme}://{}{}", self.authority, self.path).parse().unwrap_or_default()
    }

    fn account(&self) -> Option<String> {
        let (_, value) = self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(ACCOUNT_HINT))?;
        let account = String::from_utf8(value.clone()).ok()?;
        (!account.is_empty() && account.len() <= 64 && account.chars().all(|c| c.is_ascii_alphanumeric()))
            .then_some(account)
    }

    pub fn scope(&self, body: &[u8]) -> (Vec<String>, platform::Limit) {
        let (method, uri) = (crate::convert::method_name(&self.method), self.uri());
        let subjects = platform::subjects(&method, &uri, self.account().as_deref(), body);
        (subjects, platform::limit_of(&method, &uri, &bytes::Bytes::copy_from_slice(body)))
    }

    /// Path only (never the query, which may hold a token), for logs.
    pub fn shown(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// Wait as the usage board and the pauses in force say before a request about `scope`.
pub fn pace(scope: &(Vec<String>, platform::Limit)) {
    let (subjects, limit) = scope;
    loop {
        let now = Instant::now();
        let Some(until) = rules(|r| r.pauses.until_for(subjects, *limit, now)) else { break };
        monotonic_clock::subscribe_duration((until - now).as_nanos() as u64).block();
    }
    let (peak, regain, pace) = rules(|r| {
        let (peak, regain) = match limit {
            platform::Limit::Platform => r.board.peak_platform(),
            platform::Limit::BusinessUseCase => r.board.peak_for(subjects),
        };
        (peak, regain, r.pacing.decide(peak, regain))
    });
    match pace {
        Pace::Go => {}
        Pace::Space(d) => sleep(d),
        Pace::Pause(d) => {
            let _ = regain;
            wait_rate_limit(d, &format!("Meta reports {peak:.0}% of the rate limit used"));
            rules(|r| r.board.reset());
        }
    }
}

/// Start one attempt at the runtime.
pub fn attempt(call: &Call, body: &[u8]) -> Result<host::FutureIncomingResponse, host::ErrorCode> {
    let headers = host::Fields::new();
    for (name, value) in call.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(ACCOUNT_HINT)) {
        headers
            .append(name, value)
            .map_err(|e| host::ErrorCode::InternalError(Some(format!("header {name}: {e:?}"))))?;
    }
    let request = host::OutgoingRequest::new(headers);
    let refused =
        |what: &str| host::ErrorCode::InternalError(Some(format!("the runtime refused the request's {what}")));
    request.set_method(&call.method).map_err(|_| refused("method"))?;
    request.set_scheme(Some(&call.scheme)).map_err(|_| refused("scheme"))?;
    request.set_authority(Some(&call.authority)).map_err(|_| refused("authority"))?;
    request.set_path_with_query(Some(&call.path)).map_err(|_| refused("path"))?;
    let outgoing = request.body().map_err(|_| refused("body"))?;
    let future = outgoing_handler::handle(request, None)?;
    {
        let stream = outgoing.write().map_err(|_| refused("body stream"))?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| host::ErrorCode::InternalError(Some(format!("writing the request body: {e:?}"))))?;
        }
    }
    host::OutgoingBody::finish(outgoing, None)?;
    Ok(future)
}

/// The whole answer of a finished attempt.
pub fn read(response: host::IncomingResponse) -> Result<Answer, host::ErrorCode> {
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response.consume().map_err(|_| host::ErrorCode::HttpResponseIncomplete)?;
    let mut body = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| host::ErrorCode::HttpResponseIncomplete)?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(crate::bindings::wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(host::ErrorCode::InternalError(Some(format!("reading the answer: {e:?}")))),
            }
        }
    }
    drop(host::IncomingBody::finish(incoming));
    Ok(Answer { status, headers, body })
}

/// Block until an attempt has answered, and read the answer.
fn wait(future: host::FutureIncomingResponse) -> Result<Answer, host::ErrorCode> {
    loop {
        if let Some(outcome) = future.get() {
            return read(outcome.map_err(|()| host::ErrorCode::InternalError(None))??);
        }
        future.subscribe().block();
    }
}

/// Network failures worth another attempt.
fn retryable(e: &host::ErrorCode) -> bool {
    use host::ErrorCode as E;
    matches!(
        e,
        E::DnsTimeout
            | E::DnsError(_)
            | E::DestinationUnavailable
            | E::ConnectionRefused
            | E::ConnectionTerminated
            | E::ConnectionTimeout
            | E::ConnectionReadTimeout
            | E::ConnectionWriteTimeout
            | E::ConnectionLimitReached
            | E::HttpResponseIncomplete
            | E::HttpResponseTimeout
            | E::HttpProtocolError
    )
}

pub(crate) fn header_map(headers: &[(String, Vec<u8>)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    map
}

/// The usage an answer reports, on the board of its limit.
fn observe(answer: &Answer, limit: platform::Limit) -> UsageReading {
    let reading = parse_usage(&header_map(&answer.headers));
    rules(|r| match limit {
        platform::Limit::Platform => {
            let reading = platform::platform_reading(&reading);
            r.board.observe_platform(&reading);
            reading
        }
        platform::Limit::BusinessUseCase => {
            r.board.observe(&reading);
            reading
        }
    })
}

/// A throttle of `scope`: who it holds back and for how long (Meta's regain time, else a
/// backoff growing with the streak).
pub(crate) fn on_throttle(
    codes: &[i64],
    reading: &UsageReading,
    scope: &(Vec<String>, platform::Limit),
    throttles: u32,
) -> (Vec<pauses::Scope>, Duration) {
    rules(|r| {
        let scopes =
            platform::throttle_scope(scope.1, codes).unwrap_or_else(|| pauses::scope_of(codes, reading, &scope.0));
        let streak = r.pauses.throttled().max(throttles);
        let wait = reading
            .regain()
            .map(|h| h.mul_f64(1.0 + 0.1 * fastrand::f64()))
            .unwrap_or_else(|| backoff(r.limits.throttle_base, streak, r.limits.throttle_cap));
        let until = Instant::now() + wait.div_f64(r.scale);
        r.pauses.pause(&scopes, until);
        (scopes, wait)
    })
}

/// Settle a request whose first attempt gave `first` (after `took`): throttles waited out and
/// sent again, transient failures retried; a batch's failed operations sent again alone.
pub fn settle(
    call: &Call,
    body: &[u8],
    first: Result<Answer, host::ErrorCode>,
    took: Duration,
) -> Result<Answer, host::ErrorCode> {
    let answer = settle_one(call, body, Some((first, took)))?;
    match BatchBody::parse(body).filter(|_| matches!(call.method, host::Method::Post)) {
        Some(batch) => crate::batch::settle(call, batch, answer),
        None => Ok(answer),
    }
}

/// One request through the retry loop; `first`: the outcome of an attempt already made.
pub(crate) fn settle_one(
    call: &Call,
    body: &[u8],
    mut first: Option<(Result<Answer, host::ErrorCode>, Duration)>,
) -> Result<Answer, host::ErrorCode> {
    let limits = rules(|r| r.limits.clone());
    let scope = call.scope(body);
    let (mut transient, mut throttles) = (0u32, 0u32);
    let mut spent = Duration::ZERO;
    loop {
        let (outcome, took) = match first.take() {
            Some(made) => made,
            None => {
                pace(&scope);
                let started = Instant::now();
                (attempt(call, body).and_then(wait), started.elapsed())
            }
        };
        let wait = backoff(limits.transient_base, transient, limits.transient_cap);
        let may_retry = limits.may_retry(transient, spent, took, wait);
        let why = match outcome {
            Ok(answer) => {
                let reading = observe(&answer, scope.1);
                let verdict = classify(answer.status, &answer.body);
                if verdict != Verdict::Throttled {
                    rules(|r| r.pauses.delivered());
                }
                match verdict {
                    Verdict::Deliver => return Ok(answer),
                    Verdict::Throttled => {
                        let codes: Vec<i64> = pauses::error_code(&answer.body).into_iter().collect();
                        let (scopes, pause) = on_throttle(&codes, &reading, &scope, throttles);
                        let why = format!(
                            "Meta throttled {} (HTTP {}, {}; {})",
                            call.shown(),
                            answer.status,
                            graph_error_text(&answer.body),
                            describe_scopes(&scopes)
                        );
                        if !wait_rate_limit(pause, &why) {
                            return Ok(answer);
                        }
                        throttles += 1;
                        continue;
                    }
                    Verdict::Transient if may_retry => {
                        format!("HTTP {} ({})", answer.status, graph_error_text(&answer.body))
                    }
                    Verdict::Transient => return Ok(answer),
                }
            }
            Err(e) if may_retry && retryable(&e) => format!("{e:?}"),
            Err(e) => return Err(e),
        };
        spent += took + wait;
        transient += 1;
        log("INFO", &format!("Transient failure of {} ({why}); retry {transient} in {}", call.shown(), human(wait)));
        sleep(wait);
    }
}
