//! The budget of Graph calls in flight against the app's rate limit (`X-App-Usage`).
//!
//! Meta counts every call (each operation of a batch) in a rolling one-hour window and reports
//! the share used only once the calls have landed. With four batches of 50 in flight, a client
//! that waits for the header to tell it to slow down has already overshot. This budget admits
//! a request only while the usage it can lead to stays under [`TARGET_PERCENT`]. That usage is
//! the usage not explained by this process, plus what one call costs times every call this
//! process sent within the window (those still in flight included). When this process's own
//! calls fill the budget, the next request waits until the oldest of them leave the window.
//!
//! How the inputs are known:
//! - What one call costs is learned from the readings. Meta's percentages are whole numbers
//!   (floors), so every reading gives an upper bound, (percent + 1) / calls counted. The tightest
//!   bound seen so far is used. Before any reading, the bound is Meta's smallest allowance:
//!   200 calls per hour, 0.5 % a call.
//! - The usage not explained by this process comes from the latest reading: the reading, minus
//!   every call of this process Meta may have counted by then. That is a low estimate when
//!   others share the app, and their calls then still meet Meta's throttles and the usage
//!   pacing.
//! - Meta sends `X-App-Usage` only once enough calls have been made (and not at all to some
//!   tokens). Until a response has carried it, the budget keeps only the calls *in flight*
//!   within the prior's allowance (180 calls, 3.6 batches of 50), so a read's first burst cannot
//!   pass the smallest app limit before any reading could tell; each answer frees its calls'
//!   room, so a server that never reports usage is held back no further. From the first
//!   reading on, every call of the window counts.
//!
//! Why not a token bucket such as `governor`: a GCRA bucket knows only its own consumption and
//! a fixed rate, and it cannot be re-synchronised to a level the server reports. Here the level
//! is Meta's, and the rate is learned.
//!
//! Owns that arithmetic. It does not sleep (the caller waits the time it returns), parse
//! headers or classify requests.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Meta's smallest app-level allowance is 200 calls per user and hour (its formula is 200 × the
/// app's users), so one call costs at most 0.5 % of it.
pub const PRIOR_PERCENT_PER_CALL: f64 = 0.5;
/// The usage that the calls in flight may lead to. The rest leaves room for Meta's rounding and
/// for calls this process does not see.
pub const TARGET_PERCENT: f64 = 90.0;
/// The window of Meta's app-level limit (nominal time).
pub const APP_WINDOW: Duration = Duration::from_secs(3600);

/// Calls this process sent within the window.
#[derive(Debug)]
struct Sent {
    id: u64,
    at: Instant,
    calls: u32,
    answered_at: Option<Instant>,
}

/// A request the budget admitted. Hand it back to [`CallBudget::answered`].
#[derive(Debug)]
#[must_use]
pub struct Ticket {
    id: u64,
}

/// The budget's answer to a request.
#[derive(Debug)]
pub enum Admission {
    Go(Ticket),
    /// Ask again after this long at most (or sooner, when an answer arrives).
    Wait(Duration),
    /// No reading yet and the calls in flight fill the prior's allowance: ask again when an
    /// answer arrives (one is outstanding).
    Hold,
}

/// The app's budget of calls for one limiter (app token and origin).
#[derive(Debug)]
pub struct CallBudget {
    /// The rolling window in real time.
    window: Duration,
    /// Upper bound on the percentage one call costs.
    per_call: f64,
    /// Usage the latest reading showed beyond this process's calls.
    others: f64,
    /// A reading has been seen; until then only the calls in flight count.
    active: bool,
    /// When the request behind the reading that set `others` was sent (newer readings win).
    reading_sent_at: Option<Instant>,
    sent: VecDeque<Sent>,
    next_id: u64,
}

impl CallBudget {
    /// A budget over a rolling window of `window` (real time).
    pub fn new(window: Duration) -> CallBudget {
        CallBudget {
            window,
            per_call: PRIOR_PERCENT_PER_CALL,
            others: 0.0,
            active: false,
            reading_sent_at: None,
            sent: VecDeque::new(),
            next_id: 0,
        }
    }

    /// Forget calls that have left the window. A call leaves it a window after its answer
    /// came back: Meta counted it at some moment before that, perhaps well after it was sent
    /// (a batch's operations run one after another), so this never frees room early.
    fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.sent.retain(|s| s.answered_at.is_none_or(|a| now.saturating_duration_since(a) < window));
    }

    fn ours(&self) -> u32 {
        self.sent.iter().map(|s| s.calls).sum()
    }

    fn usage_with(&self, calls: u32) -> f64 {
        self.others + self.per_call * calls as f64
    }

    /// May a request of `calls` Graph calls be sent now?
    ///
    /// Before any reading, it may when the calls in flight (with it) stay under the target at
    /// the prior's cost, or none are in flight. After one, it may when none of this process's
    /// calls are in the window (a request is never held back by others' usage alone: the usage
    /// pacing handles that), or when the usage stays under the target.
    pub fn admit(&mut self, calls: u32, now: Instant) -> Admission {
        self.prune(now);
        if !self.active {
            let in_flight: u32 = self.sent.iter().filter(|s| s.answered_at.is_none()).map(|s| s.calls).sum();
            if in_flight > 0 && self.per_call * (in_flight + calls) as f64 > TARGET_PERCENT {
                return Admission::Hold;
            }
        }
        let ours = self.ours();
        if !self.active || ours == 0 || self.usage_with(ours + calls) <= TARGET_PERCENT {
            let id = self.next_id;
            self.next_id += 1;
            self.sent.push_back(Sent { id, at: now, calls, answered_at: None });
            return Admission::Go(Ticket { id });
        }
        // The earliest moment enough of this process's calls have left the window (calls still
        // in flight leave only after their answer; the caller also asks again on each answer).
        let mut leaving: Vec<(Instant, u32)> =
            self.sent.iter().filter_map(|s| Some((s.answered_at? + self.window, s.calls))).collect();
        leaving.sort();
        let mut left = ours;
        for (at, n) in leaving {
            left -= n;
            if left == 0 || self.usage_with(left + calls) <= TARGET_PERCENT {
                return Admission::Wait(at.saturating_duration_since(now).max(Duration::from_millis(1)));
            }
        }
        Admission::Wait(self.window)
    }

    /// The answer to an admitted request arrived. `percent` is the app usage it reported (None:
    /// no reading, e.g. a network failure or a call counted on another limit).
    pub fn answered(&mut self, ticket: Ticket, percent: Option<f64>, now: Instant) {
        self.prune(now);
        let Some(index) = self.sent.iter().position(|s| s.id == ticket.id) else { return };
        self.sent[index].answered_at = Some(now);
        let Some(percent) = percent.filter(|p| p.is_finite() && *p >= 0.0) else { return };
        self.active = true;
        // Meta took this reading at some moment between sending and now. The calls it surely
        // covers are this request's own, plus this process's calls answered before it was sent
        // and sent less than a window ago (so still in Meta's window whenever it read).
        let sent_at = self.sent[index].at;
        let recent = now.checked_sub(self.window);
        let counted: u32 = self.sent[index].calls
            + self
                .sent
                .iter()
                .filter(|s| s.answered_at.is_some_and(|a| a < sent_at) && recent.is_none_or(|r| s.at > r))
                .map(|s| s.calls)
                .sum::<u32>();
        self.per_call = self.per_call.min((percent.floor() + 1.0) / counted as f64);
        // Others' usage: what the reading shows beyond every call of this process that Meta may
        // have counted by then (all sent before now). Taking only the surely-counted calls
        // would charge this process's own calls in flight to others, and hold every request
        // back until the whole window had passed.
        if self.reading_sent_at.is_none_or(|at| at <= sent_at) {
            self.reading_sent_at = Some(sent_at);
            let ours: u32 = self.sent.iter().map(|s| s.calls).sum();
            self.others = (percent - self.per_call * ours as f64).max(0.0);
        }
    }

    /// The calls of this process within the window and the usage they are estimated at (for logs).
    pub fn estimate(&self) -> (u32, f64) {
        let ours = self.ours();
        (ours, self.usage_with(ours))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(b: &mut CallBudget, calls: u32, now: Instant) -> Ticket {
        match b.admit(calls, now) {
            Admission::Go(t) => t,
            other => panic!("held back: {other:?}"),
        }
    }

    /// Before the first reading (Meta sends none for a server's first calls, or never), only
    /// the calls in flight count: up to the prior's 180 go at once, and every answer frees its
    /// room, so a server that never reports usage is held back no further.
    #[test]
    fn before_any_reading_only_calls_in_flight_count() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(Duration::from_secs(10));
        let first: Vec<Ticket> = (0..3).map(|_| go(&mut b, 50, t0)).collect();
        assert!(matches!(b.admit(50, t0), Admission::Hold), "a fourth batch of 50 would pass 90 % at 0.5 % a call");
        let small = go(&mut b, 29, t0);
        for t in first {
            b.answered(t, None, t0);
        }
        b.answered(small, None, t0);
        for _ in 0..20 {
            let batch: Vec<Ticket> = (0..3).map(|_| go(&mut b, 50, t0)).collect();
            batch.into_iter().for_each(|t| b.answered(t, None, t0));
        }
        assert_eq!(b.estimate().0, 3179, "every call is remembered for when readings come");
        // The first reading: from then on, the window counts.
        let t = go(&mut b, 1, t0);
        b.answered(t, Some(12.0), t0);
        assert!(b.active);
    }

    /// A server allowing 200 calls a window (0.5 % a call): the budget keeps the calls in flight
    /// under 90 %, waits for its oldest calls to leave the window, and never holds back a
    /// server that reports no usage.
    #[test]
    fn calls_in_flight_stay_under_the_target() {
        let window = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut b = CallBudget::new(window);
        // No reading yet: everything goes.
        let first = go(&mut b, 1, t0);
        b.answered(first, Some(0.0), t0);
        // 0.5 % a call (the prior): 179 more calls fit under 90 %.
        let batches: Vec<Ticket> = (0..3).map(|_| go(&mut b, 50, t0)).collect();
        assert!(matches!(b.admit(50, t0), Admission::Wait(_)), "a fourth batch would reach 100 %");
        let small = go(&mut b, 29, t0);
        // The answers report the usage the server counted.
        for (i, t) in batches.into_iter().enumerate() {
            b.answered(t, Some(0.5 * (1 + 50 * (i as u32 + 1)) as f64), t0);
        }
        b.answered(small, Some(90.0), t0);
        match b.admit(50, t0 + Duration::from_secs(1)) {
            Admission::Wait(d) => {
                assert!(d <= window && d >= Duration::from_secs(8), "waits for the first calls to leave: {d:?}")
            }
            other => panic!("the window is full: {other:?}"),
        }
        // Once the window has passed, all of it is free again.
        let later = t0 + window + Duration::from_millis(1);
        let t = go(&mut b, 50, later);
        b.answered(t, Some(25.0), later);
        assert!(b.per_call <= 0.52, "the cost of a call is learned: {}", b.per_call);

        // A server whose usage stays at 0 % never slows the client down.
        let mut b = CallBudget::new(window);
        let t = go(&mut b, 1, t0);
        b.answered(t, Some(0.0), t0);
        let t = go(&mut b, 50, t0);
        b.answered(t, Some(0.0), t0);
        for _ in 0..80 {
            let _ = go(&mut b, 50, t0);
        }
    }

    /// A slow answer carries the reading Meta took when the request arrived. It neither lowers
    /// the cost of a call nor replaces a newer reading.
    #[test]
    fn a_late_answer_carries_an_old_reading() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = CallBudget::new(Duration::from_secs(10));
        let first = go(&mut b, 1, t0);
        b.answered(first, Some(0.0), ms(1));
        let slow = go(&mut b, 1, ms(2));
        let batch = go(&mut b, 50, ms(3));
        b.answered(batch, Some(25.0), ms(10));
        b.answered(slow, Some(0.0), ms(20));
        assert_eq!(b.per_call, 0.5);
        assert!(b.others <= 1.0, "{}", b.others);
        assert!(matches!(b.admit(130, ms(21)), Admission::Wait(_)), "52 calls + 130 at 0.5 % pass 90 %");
    }

    /// Another consumer's usage counts: with the app already at 60 %, fewer calls fit.
    #[test]
    fn others_usage_counts() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(Duration::from_secs(10));
        let t = go(&mut b, 1, t0);
        b.answered(t, Some(60.0), t0);
        let _a = go(&mut b, 50, t0);
        assert!(matches!(b.admit(20, t0), Admission::Wait(_)), "60 % + 0.5 × 71 calls passes 90 %");
        let (ours, usage) = b.estimate();
        assert_eq!(ours, 51);
        assert!(usage > 80.0, "{usage}");
    }
}
