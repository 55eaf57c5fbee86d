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
//! - What one call costs is bounded from above by the readings, in two ways, and the lower
//!   bound wins:
//!   - Absolute: Meta's percentages are whole numbers (floors), so a reading gives
//!     (percent + 1) / calls it surely counted. The tightest seen so far is kept. Before any
//!     reading, the bound is Meta's smallest allowance: 200 calls per hour, 0.5 % a call.
//!   - Difference: between two readings, the calls that surely landed in between raised the
//!     usage by less than (increase + 1), less the calls that may have left the window in
//!     between. This holds while others' usage does not fall meanwhile, and it is what tells a
//!     constant 85 % from the app's other users apart from this process's own cost. It is
//!     taken from the newest reading only (never kept as a minimum), so a later reading that
//!     shows a call costs more replaces it; Meta's throttles and the usage pacing stay the
//!     safety net should others' usage fall.
//! - The usage not explained by this process comes from the newest reading: the reading, minus
//!   the calls of this process it surely counted (those answered before it was asked for, and
//!   its own). Calls it may have counted as well are then charged twice until a newer reading
//!   covers them, which errs on the safe side; charging them to this process instead would
//!   let its calls in flight go uncounted while others hold the app high.
//! - Meta sends `X-App-Usage` only once enough calls have been made (and not at all to some
//!   tokens). Until a response has carried it, the budget keeps only the calls *in flight*
//!   within the prior's allowance (180 calls, 3.6 batches of 50), so a read's first burst cannot
//!   pass the smallest app limit before any reading could tell; each answer frees its calls'
//!   room, so a server that never reports usage is held back no further. From the first
//!   reading on, every call of the window counts.
//! - When a request does not fit and calls are in flight, it waits for the next answer (its
//!   reading may show room), not for the window; with none in flight it waits for this
//!   process's oldest calls to leave the window, except in two cases where one request goes
//!   alone, the others waiting for its answer:
//!   - A probe. A burst (many tenants on one token) is answered before any of its readings
//!     could count it, so its readings prove little and the estimate fills up while Meta
//!     reports room. When calls were answered since the newest reading was asked for and that
//!     reading plus every call it may not have counted, the request's included, stays under
//!     [`PROBE_PERCENT`], the request goes: its reading counts every call answered before it,
//!     and a low one frees the budget at once.
//!   - Others' usage alone. When the request would not fit even with none of this process's
//!     calls in the window (by the lowest estimate of others' usage) while Meta reads under
//!     the target, waiting for those calls to leave cannot make room: it goes, its reading
//!     teaches the cost of a call, and others' usage is the usage pacing's and Meta's
//!     throttles' to handle (a batch larger than the room others leave is throttled by Meta).
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
/// The usage a probe may lead to at most (one at a time; under 100 % even at the bound's worst).
pub const PROBE_PERCENT: f64 = 99.0;
/// The window of Meta's app-level limit (nominal time).
pub const APP_WINDOW: Duration = Duration::from_secs(3600);
/// Readings kept as baselines for the difference bound (thinned to span the window).
const BASELINES: usize = 32;

/// Calls this process sent (kept two windows after their answer, for the difference bound).
#[derive(Debug)]
struct Sent {
    id: u64,
    at: Instant,
    calls: u32,
    answered_at: Option<Instant>,
}

/// A reading kept as a baseline for the difference bound.
#[derive(Debug, Clone, Copy)]
struct Reading {
    sent_at: Instant,
    answered_at: Instant,
    floor: f64,
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
    /// Ask again when an answer arrives (one is outstanding): its reading (or a probe it makes
    /// worth sending, see the module docs) may show room.
    Hold,
}

/// The app's budget of calls for one limiter (app token and origin).
#[derive(Debug)]
pub struct CallBudget {
    /// The rolling window in real time.
    window: Duration,
    /// Upper bound on the percentage one call costs, from absolute readings (the tightest).
    per_call: f64,
    /// Upper bound from the difference between the newest reading and an earlier one.
    per_call_difference: Option<f64>,
    /// Usage the latest reading showed beyond this process's calls: at most (the reading less
    /// the calls it surely counted) and at least (the reading less every call of this process
    /// it may have counted).
    others: f64,
    others_at_least: f64,
    /// A reading has been seen; until then only the calls in flight count.
    active: bool,
    /// The request behind the reading that set `others` (newer readings win): id, when sent,
    /// and the percentage it read.
    reading: Option<(u64, Instant, f64)>,
    /// Earlier readings, as baselines for the difference bound.
    baselines: VecDeque<Reading>,
    /// The probe in flight, if any.
    probe: Option<u64>,
    sent: VecDeque<Sent>,
    next_id: u64,
}

impl CallBudget {
    /// A budget over a rolling window of `window` (real time).
    pub fn new(window: Duration) -> CallBudget {
        CallBudget {
            window,
            per_call: PRIOR_PERCENT_PER_CALL,
            per_call_difference: None,
            others: 0.0,
            others_at_least: 0.0,
            active: false,
            reading: None,
            baselines: VecDeque::new(),
            probe: None,
            sent: VecDeque::new(),
            next_id: 0,
        }
    }

    /// Forget calls no difference can involve any more (two windows after their answer).
    fn prune(&mut self, now: Instant) {
        let keep = self.window * 2;
        self.sent.retain(|s| s.answered_at.is_none_or(|a| now.saturating_duration_since(a) < keep));
    }

    /// Whether a call may still be in Meta's window. A call leaves it a window after its answer
    /// came back: Meta counted it at some moment before that, perhaps well after it was sent
    /// (a batch's operations run one after another), so this never frees room early.
    fn in_window(&self, s: &Sent, now: Instant) -> bool {
        s.answered_at.is_none_or(|a| now.saturating_duration_since(a) < self.window)
    }

    fn ours(&self, now: Instant) -> u32 {
        self.sent.iter().filter(|s| self.in_window(s, now)).map(|s| s.calls).sum()
    }

    fn per_call(&self) -> f64 {
        self.per_call_difference.map_or(self.per_call, |d| d.min(self.per_call))
    }

    fn usage_with(&self, calls: u32) -> f64 {
        self.others + self.per_call() * calls as f64
    }

    fn push(&mut self, calls: u32, now: Instant) -> Ticket {
        let id = self.next_id;
        self.next_id += 1;
        self.sent.push_back(Sent { id, at: now, calls, answered_at: None });
        Ticket { id }
    }

    /// The most the usage can be with `calls` more, should others' usage not rise: the newest
    /// reading (a floor, so + 1) and every call of this process it did not surely count (those
    /// not answered before it was asked for), at the bound's cost.
    fn bound_with(&self, calls: u32, now: Instant) -> f64 {
        let Some((id, sent_at, percent)) = self.reading else { return f64::INFINITY };
        let uncovered: u32 = self
            .sent
            .iter()
            .filter(|s| s.id != id && self.in_window(s, now) && s.answered_at.is_none_or(|a| a >= sent_at))
            .map(|s| s.calls)
            .sum();
        percent.floor() + 1.0 + self.per_call() * (uncovered + calls) as f64
    }

    /// Calls were answered since the newest reading was asked for: a fresh one would count them.
    fn stale(&self) -> bool {
        let Some((id, sent_at, _)) = self.reading else { return false };
        self.sent.iter().any(|s| s.id != id && s.answered_at.is_some_and(|a| a > sent_at))
    }

    /// May a request of `calls` Graph calls be sent now?
    ///
    /// Before any reading, it may when the calls in flight (with it) stay under the target at
    /// the prior's cost, or none are in flight. After one, it may when none of this process's
    /// calls are in the window (a request is never held back by others' usage alone: the usage
    /// pacing handles that), or when the usage stays under the target, or as the probe.
    pub fn admit(&mut self, calls: u32, now: Instant) -> Admission {
        self.prune(now);
        if !self.active {
            let in_flight: u32 = self.sent.iter().filter(|s| s.answered_at.is_none()).map(|s| s.calls).sum();
            if in_flight > 0 && self.per_call * (in_flight + calls) as f64 > TARGET_PERCENT {
                return Admission::Hold;
            }
            return Admission::Go(self.push(calls, now));
        }
        let ours = self.ours(now);
        if ours == 0 || self.usage_with(ours + calls) <= TARGET_PERCENT {
            return Admission::Go(self.push(calls, now));
        }
        let in_flight = self.sent.iter().any(|s| s.answered_at.is_none());
        // A probe, or a request that would not fit even with none of this process's calls in the
        // window: waiting for them to leave cannot make room, others' usage is the usage
        // pacing's (and Meta's throttles') to handle, and its reading teaches the cost of a
        // call. Alone, so a burst never rides on it.
        let others_alone = self.others_at_least + self.per_call() * calls as f64 > TARGET_PERCENT
            && self.reading.is_some_and(|(_, _, percent)| percent < TARGET_PERCENT)
            && !in_flight;
        if self.probe.is_none() && (others_alone || self.stale() && self.bound_with(calls, now) <= PROBE_PERCENT) {
            let ticket = self.push(calls, now);
            self.probe = Some(ticket.id);
            return Admission::Go(ticket);
        }
        // Answers to come carry readings that may show room (or make a probe worth its call):
        // wait for the next one. Only with nothing in flight is the wait for the window.
        if in_flight {
            return Admission::Hold;
        }
        // The earliest moment enough of this process's calls have left the window (calls still
        // in flight leave only after their answer; the caller also asks again on each answer).
        let mut leaving: Vec<(Instant, u32)> = self
            .sent
            .iter()
            .filter(|s| self.in_window(s, now))
            .filter_map(|s| Some((s.answered_at? + self.window, s.calls)))
            .collect();
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
        if self.probe == Some(ticket.id) {
            self.probe = None;
        }
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
        let reading = Reading { sent_at, answered_at: now, floor: percent.floor() };
        let newest = self.reading.is_none_or(|(_, at, _)| at <= sent_at);
        // The difference bound matters only once the estimate is well on its way to the target.
        if newest
            && self.usage_with(self.ours(now)) >= TARGET_PERCENT / 4.0
            && let Some(bound) = self.difference_bound(&reading, ticket.id)
        {
            self.per_call_difference = Some(bound);
        }
        self.keep_baseline(reading);
        // Others' usage: what the reading shows beyond every call of this process that Meta may
        // have counted by then (all sent before now). Taking only the surely-counted calls
        // would charge this process's own calls in flight to others, and hold every request
        // back until the whole window had passed.
        if newest {
            self.reading = Some((ticket.id, sent_at, percent));
            let c = self.per_call();
            self.others = (percent - c * counted as f64).max(0.0);
            self.others_at_least = (percent.floor() - c * self.ours(now) as f64).max(0.0);
        }
    }

    /// The tightest bound on a call's cost from `latest` and an earlier reading: the calls that
    /// surely landed in between (sent after the earlier one was answered, answered before the
    /// latest was sent or its own, and too recent to have left by its answer) raised the usage
    /// by less than (increase + 1), with the calls that may have left in between (perhaps in
    /// the window at the earlier reading, perhaps out by the latest) taken off the landed ones.
    /// Readings whose usage fell say nothing (calls left, or others' usage fell).
    fn difference_bound(&self, latest: &Reading, own: u64) -> Option<f64> {
        // A little shorter than the window: a call counts as possibly gone a little early and
        // as surely still there a little less long (clocks and rounding).
        let short = self.window.mul_f64(0.98);
        let (s2, a2) = (latest.sent_at, latest.answered_at);
        self.baselines
            .iter()
            .filter(|b| b.answered_at < s2 && b.floor <= latest.floor && b.sent_at + self.window > a2)
            .filter_map(|b| {
                let (mut landed, mut left) = (0u32, 0u32);
                for s in &self.sent {
                    let answered_before = s.id == own || s.answered_at.is_some_and(|a| a < s2);
                    if s.at > b.answered_at && answered_before && s.at + short > a2 {
                        landed += s.calls;
                    } else if s.at <= b.answered_at
                        && s.answered_at.is_none_or(|a| a + self.window > b.sent_at)
                        && s.at + short <= a2
                    {
                        left += s.calls;
                    }
                }
                (landed > left).then(|| (latest.floor - b.floor + 1.0) / (landed - left) as f64)
            })
            .min_by(f64::total_cmp)
    }

    /// Keep a reading as a baseline: those older than a window go, and the kept ones stay
    /// about a 1/[`BASELINES`] of the window apart (the newest replaces a too-close last one).
    fn keep_baseline(&mut self, reading: Reading) {
        let span = self.window / BASELINES as u32;
        while self
            .baselines
            .front()
            .is_some_and(|b| reading.answered_at.saturating_duration_since(b.sent_at) >= self.window)
        {
            self.baselines.pop_front();
        }
        let n = self.baselines.len();
        if n >= 2 && reading.answered_at.saturating_duration_since(self.baselines[n - 2].answered_at) < span {
            self.baselines.pop_back();
        }
        self.baselines.push_back(reading);
        while self.baselines.len() > BASELINES + 1 {
            self.baselines.pop_front();
        }
    }

    /// The calls of this process within the window and the usage they are estimated at (for logs).
    pub fn estimate(&self, now: Instant) -> (u32, f64) {
        let ours = self.ours(now);
        (ours, self.usage_with(ours))
    }
}

#[cfg(test)]
mod tests;
