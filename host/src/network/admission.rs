//! Waiting for room in the call budget ([`super::budget`]) before a request is sent.
//!
//! Owns the wait: asking the budget again on every answer (or when the oldest calls leave the
//! window), and telling a long wait once, then heartbeating it like any rate-limit wait (a
//! hold until the next answer of a call in flight is brief and not told). It does not decide
//! what fits (the budget does) nor send.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the requests waiting for room in the call budget while alive.
struct WaitingGuard<'a> {
    count: &'a AtomicU64,
    /// No other request was waiting when this one began to.
    first: bool,
}

impl<'a> WaitingGuard<'a> {
    fn new(count: &'a AtomicU64) -> Self {
        WaitingGuard { count, first: count.fetch_add(1, Ordering::Relaxed) == 0 }
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Limiter {
    /// Wait until the call budget lets `calls` more calls go (`None`: no budget). The waits
    /// count against the run's cap; one past it stops the run (the reason comes back).
    pub(super) async fn admit_calls(&self, calls: u32, ctx: &RunCtx<'_>) -> Result<Option<budget::Ticket>, String> {
        let Some(budget) = self.calls.as_ref() else { return Ok(None) };
        // The first request to wait tells it once and heartbeats; others wait quietly.
        let mut waiting: Option<WaitingGuard> = None;
        let mut noted: Option<std::time::Instant> = None;
        loop {
            let changed = self.calls_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let admission = budget.lock().unwrap().admit(calls, std::time::Instant::now());
            let wait = match admission {
                budget::Admission::Go(ticket) => return Ok(Some(ticket)),
                budget::Admission::Wait(wait) => wait.min(self.clock.real(ctx.limits.heartbeat)),
                // Until the next answer of a call in flight, whose reading may free room (brief;
                // not a rate-limit wait, so neither told nor heartbeated).
                budget::Admission::Hold => {
                    changed.await;
                    continue;
                }
            };
            let first = waiting.get_or_insert_with(|| WaitingGuard::new(&self.calls_waiting)).first;
            let nominal = self.clock.nominal(wait);
            ctx.budget.spend(nominal, "the app's rate limit has no room for more calls yet", ctx.output)?;
            if first && nominal >= ctx.limits.heartbeat && noted.is_none_or(|at| at.elapsed() >= wait) {
                if noted.is_none() {
                    let (ours, usage) = budget.lock().unwrap().estimate(std::time::Instant::now());
                    ctx.output.log(
                        "INFO",
                        &format!(
                            "{ours} Graph calls in the last hour put the app's rate limit near {usage:.0}%; further calls wait for room"
                        ),
                    );
                }
                noted = Some(std::time::Instant::now());
                ctx.output.rate_limited(crate::protocol::now_ms() + nominal.as_millis() as i64);
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut changed => {}
            }
        }
    }
}
