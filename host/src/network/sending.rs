//! Sending one request for the guest: pacing by usage and throttle pauses, one attempt through
//! the transport, waiting out throttles, retrying transient failures within their budget, and
//! re-sending only the failed operations of a batch.
//!
//! Owns the retry loops and their logs. It does not decide what may be sent (the hook in
//! `mod.rs` does, before this runs) nor how bytes travel (see `transport`).

use super::*;

/// Header by which the guest names the IG account a request is about (removed before sending).
pub const ACCOUNT_HINT: &str = "x-source-instagram-account";

/// The parts of a request needed to send it again.
pub(super) struct Call {
    pub(super) method: http::Method,
    pub(super) uri: http::Uri,
    pub(super) headers: http::HeaderMap,
    /// The account the guest said this request is about.
    pub(super) account: Option<String>,
}

impl Limiter {
    /// One attempt, with the whole body read (so it can be classified and retried), within
    /// the attempt's time limits, once the call budget admits it.
    async fn send_once(
        &self,
        call: &Call,
        body: Bytes,
        (limit, timeouts): (platform::Limit, &Timeouts),
        ctx: &RunCtx<'_>,
    ) -> Result<http::Response<Bytes>, transport::AttemptError> {
        let calls = BatchBody::parse(&body).filter(|_| call.method == http::Method::POST).map_or(1, |b| b.ops.len());
        let ticket = self
            .admit_calls(calls as u32, ctx)
            .await
            .map_err(|text| transport::AttemptError { text, is_final: true })?;
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .transport
            .send(&call.method, &call.uri, &call.headers, body, timeouts, ctx.limits.max_response_bytes)
            .await;
        if let (Some(budget), Some(ticket)) = (&self.calls, ticket) {
            // Platform-counted answers report the platform limit, not the app's.
            let percent = match (&sent, limit) {
                (Ok(r), platform::Limit::BusinessUseCase) => parse_usage(r.headers()).app_percent,
                _ => None,
            };
            budget.lock().unwrap().answered(ticket, percent, std::time::Instant::now());
            self.calls_changed.notify_waiters();
        }
        sent
    }

    /// Wait before a request about `subjects` (counted against `limit`) as the usage board says;
    /// every wait counts against the run's cap, and one past it stops the run (the reason).
    async fn pace(&self, subjects: &[String], limit: platform::Limit, ctx: &RunCtx<'_>) -> Result<(), String> {
        // A throttle in force for the app or these accounts: wait it out.
        loop {
            let now = std::time::Instant::now();
            let Some(until) = self.pauses.lock().unwrap().until_for(subjects, limit, now) else { break };
            let remaining = until - now;
            let slice = remaining.min(self.clock.real(ctx.limits.heartbeat));
            let why = "a throttle of the requests' scope is in force";
            ctx.budget.spend(self.clock.nominal(slice), why, ctx.output)?;
            ctx.output.rate_limited(crate::protocol::now_ms() + self.clock.nominal(remaining).as_millis() as i64);
            tokio::time::sleep(slice).await;
        }
        let (peak, regain) = match limit {
            platform::Limit::Platform => self.board.lock().unwrap().peak_platform(),
            platform::Limit::BusinessUseCase => self.board.lock().unwrap().peak_for(subjects),
        };
        match self.pacing.decide(peak, regain) {
            Pace::Go => {}
            Pace::Space(d) => {
                let why = format!("Meta reports {peak:.0}% of the rate limit used (calls are spaced out)");
                ctx.budget.spend(d, &why, ctx.output)?;
                self.clock.sleep(d).await
            }
            Pace::Pause(d) => {
                self.stats.paused.fetch_add(1, Ordering::Relaxed);
                let why = format!("Meta reports {peak:.0}% of the rate limit used");
                self.wait_rate_limit(d, &why, ctx).await?;
                self.board.lock().unwrap().reset();
            }
        }
        Ok(())
    }

    /// Wait out a rate limit, heartbeating; when the wait would pass the run's cap, the run
    /// stops instead (without waiting) and the reason comes back.
    async fn wait_rate_limit(&self, wait: Duration, why: &str, ctx: &RunCtx<'_>) -> Result<(), String> {
        let output = ctx.output;
        ctx.budget.spend(wait, why, output)?;
        output.log("WARN", &format!("{why}; pausing requests for {}", human(wait)));
        let mut remaining = wait;
        while !remaining.is_zero() {
            let reset = crate::protocol::now_ms() + remaining.as_millis() as i64;
            output.rate_limited(reset);
            let slice = remaining.min(ctx.limits.heartbeat);
            self.clock.sleep(slice).await;
            remaining -= slice;
        }
        Ok(())
    }

    /// Record a throttle of `scopes` for `wait` (nominal): requests about them hold back until
    /// it has passed. Returns the throttle streak before this one.
    fn pause_scopes(&self, scopes: &[pauses::Scope], wait: Duration) {
        let until = std::time::Instant::now() + self.clock.real(wait);
        self.pauses.lock().unwrap().pause(scopes, until);
    }

    /// The wait for the `n`th throttle in a row: Meta's regain time, else a backoff that starts
    /// at seconds and grows while throttles repeat.
    /// A throttle of a request (or of batch operations) about `subjects`: its scope, paused for
    /// the wait, which grows with the throttle streak shared by every request of the limiter.
    fn on_throttle(
        &self,
        codes: &[i64],
        reading: &super::usage::UsageReading,
        (subjects, limit): (&[String], platform::Limit),
        limits: &RetryLimits,
        throttles: u32,
    ) -> (Vec<pauses::Scope>, Duration) {
        let scopes =
            platform::throttle_scope(limit, codes).unwrap_or_else(|| pauses::scope_of(codes, reading, subjects));
        let streak = self.pauses.lock().unwrap().throttled();
        let wait = Self::throttle_wait(limits, reading.regain(), streak.max(throttles));
        self.pause_scopes(&scopes, wait);
        (scopes, wait)
    }

    fn throttle_wait(limits: &RetryLimits, hint: Option<Duration>, n: u32) -> Duration {
        hint.map(|h| h.mul_f64(1.0 + 0.1 * fastrand::f64()))
            .unwrap_or_else(|| backoff(limits.throttle_base, n, limits.throttle_cap))
    }

    /// Send one request, waiting out throttles and retrying transient failures.
    pub(super) async fn send(
        &self,
        call: &Call,
        body: Bytes,
        ctx: &RunCtx<'_>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (output, limits) = (ctx.output, ctx.limits);
        let (mut transient, mut throttles) = (0u32, 0u32);
        // Time spent on failed attempts and transient backoff (nominal), against the budget.
        let mut spent = Duration::ZERO;
        let subjects = subjects(call, &body);
        let limit = platform::limit_of(&call.method, &call.uri, &body);
        loop {
            if let Some(reason) = ctx.budget.stopped() {
                return Err(HttpError::InternalError(Some(reason)));
            }
            self.pace(&subjects, limit, ctx).await.map_err(|r| HttpError::InternalError(Some(r)))?;
            let attempt_started = std::time::Instant::now();
            let timeouts = limits.attempt(transient, spent);
            let sent = self.send_once(call, body.clone(), (limit, &timeouts), ctx).await;
            let attempt_took = attempt_started.elapsed();
            let wait = backoff(limits.transient_base, transient, limits.transient_cap);
            let may_retry =
                !sent.as_ref().is_err_and(|e| e.is_final) && limits.may_retry(transient, spent, attempt_took, wait);
            let verdict = match sent {
                Ok(response) => {
                    let reading = parse_usage(response.headers());
                    let reading = match limit {
                        platform::Limit::Platform => {
                            let reading = platform::platform_reading(&reading);
                            self.board.lock().unwrap().observe_platform(&reading);
                            reading
                        }
                        platform::Limit::BusinessUseCase => {
                            self.board.lock().unwrap().observe(&reading);
                            reading
                        }
                    };
                    let verdict = classify(response.status().as_u16(), response.body());
                    if verdict != Verdict::Throttled {
                        self.pauses.lock().unwrap().delivered();
                    }
                    match verdict {
                        Verdict::Deliver => {
                            ctx.budget.delivered();
                            return Ok(response);
                        }
                        Verdict::Throttled => {
                            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                            let codes: Vec<i64> = pauses::error_code(response.body()).into_iter().collect();
                            let (scopes, wait) =
                                self.on_throttle(&codes, &reading, (&subjects, limit), limits, throttles);
                            let why = format!(
                                "Meta throttled {} (HTTP {}, {}; {})",
                                call.uri.path(),
                                response.status().as_u16(),
                                graph_error_text(response.body()),
                                describe_scopes(&scopes)
                            );
                            self.wait_rate_limit(wait, &why, ctx)
                                .await
                                .map_err(|r| HttpError::InternalError(Some(r)))?;
                            throttles += 1;
                            continue;
                        }
                        Verdict::Transient if may_retry => {
                            format!("HTTP {} ({})", response.status().as_u16(), graph_error_text(response.body()))
                        }
                        Verdict::Transient => {
                            let why = format!(
                                "{} answered HTTP {} ({})",
                                call.uri.path(),
                                response.status().as_u16(),
                                graph_error_text(response.body())
                            );
                            if let Some(reason) = ctx.budget.gave_up(&why, output) {
                                return Err(HttpError::InternalError(Some(reason)));
                            }
                            return Ok(response);
                        }
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
                    if !e.is_final
                        && let Some(reason) = ctx.budget.gave_up(&e.text, output)
                    {
                        return Err(HttpError::InternalError(Some(reason)));
                    }
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
    pub(super) async fn send_batch(
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
            let (retry, codes, throttled) = retry::merge_round(&mut answers, &pending, items);
            if retry.is_empty() {
                break;
            }
            if throttled {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let retried = Bytes::from(batch.encode(&retry));
                let subjects = subjects(call, &retried);
                let limit = platform::limit_of(&call.method, &call.uri, &retried);
                let (scopes, wait) = self.on_throttle(&codes, &reading, (&subjects, limit), limits, throttles);
                let why =
                    format!("Meta throttled {} of {} batched requests ({})", retry.len(), n, describe_scopes(&scopes));
                self.wait_rate_limit(wait, &why, ctx).await.map_err(|r| HttpError::InternalError(Some(r)))?;
                throttles += 1;
            } else {
                let wait = backoff(limits.transient_base, transient, limits.transient_cap);
                if !limits.may_retry(transient, spent, Duration::ZERO, wait) {
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

/// The Graph objects a request is about (see [`platform::subjects`]).
fn subjects(call: &Call, body: &Bytes) -> Vec<String> {
    platform::subjects(&call.method, &call.uri, call.account.as_deref(), body)
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
