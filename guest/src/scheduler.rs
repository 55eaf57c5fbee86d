//! The sliding window: up to `window` requests in flight, answers handed out in a fixed order.
//!
//! Every submitted request gets a key in submission order and a priority (0: edge pages, whose
//! answers lead to more requests; 1: insights). Answers are *handed out* by a rule that looks
//! only at the set of requests submitted and not yet handed out, never at which answers have
//! arrived: the lowest key of priority 0, unless [`BACKLOG`] or more priority-1 requests are
//! waiting, then the lowest key of priority 1. Priority 2 (side walks: a few short walks off
//! the read's longest chain) is ordered with priority 1 but does not count towards
//! [`BACKLOG`], so a read's first side requests do not flip the preference ahead of its
//! first edge pages. Callers submit new requests only while handling
//! answers, so that set, and with it the sequence of requests and of answers handed out, is
//! the same on every run and for every window size; only the timing differs. That is what
//! makes the read's output deterministic, while an edge page is never held back behind
//! insights asked before it (no head-of-line blocking across priorities).
//!
//! Requests are *sent* in the same preference, as soon as a slot is free (a finished request
//! frees its slot at once); the next answer to hand out is always sent first. Memory stays
//! bounded whatever the account size: at most [`BACKLOG`] insights requests wait before they
//! take precedence, and no further request is sent while [`LOOKAHEAD`] answers (or
//! [`LOOKAHEAD_BYTES`] of them) wait to be handed out.
//!
//! Lanes (the account a request is about, [`Request::account`]) keep one partition from
//! stalling the others. The host pauses a throttled account's requests inside its hook, so to
//! this window they look in flight for as long as the pause lasts. Two rules cover that:
//! - While other lanes have requests outstanding, one lane holds at most `window - 1` slots.
//! - A lane with a request in flight for longer than [`STUCK`] gives way when the next answer
//!   to hand out is its own. The other lanes' answers are then handed out in their own order,
//!   edges first. Output is then ordered by lane rather than by the global rule. That happens
//!   only while a request takes that long (a throttle, a very slow server); every read without
//!   one keeps the fixed order.
//!
//! It owns only ordering and the window: no Graph semantics, no parsing, no retries, no
//! sleeping (the host paces and retries inside its `wasi:http` hook).

use crate::http::{Request, Response, Transport};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// An answer handed out: the caller's tag and the transport's result.
pub type Answer<T> = (T, Result<Response, String>);

/// Priority-1 requests waiting (submitted, not handed out) from which they go before
/// priority 0. A constant, not a function of the window: the hand-out order must not depend
/// on `num_workers`.
pub const BACKLOG: usize = 8;
/// Answers that may wait to be handed out before sending stops (except the next one needed).
/// Above [`BACKLOG`] plus any window, so waiting insights answers flip the preference (and
/// are handed out) before sending stalls.
pub const LOOKAHEAD: usize = 64;
/// Bytes of answers that may wait to be handed out before sending stops (except the next one
/// needed): a media page of 100 posts is ~140 KiB, ~260 KiB with its comments expanded, so
/// this holds a window's worth of pages (four) and more while insights go first.
pub const LOOKAHEAD_BYTES: usize = 1536 << 10;
/// A request in flight this long marks its lane as held up (by a throttle, in practice): the
/// other lanes' answers are handed out past it. Far above any answer time of a normal read.
pub const STUCK: Duration = Duration::from_secs(2);

/// The window over a [`Transport`].
pub struct Scheduler<T, X: Transport> {
    transport: X,
    window: usize,
    /// Submitted, not yet sent, by key, with their priority.
    queue: BTreeMap<u64, (u8, Request)>,
    in_flight: Vec<(u64, X::Pending, Instant)>,
    /// The lane of every request not yet handed out (`None`: about no single account).
    lanes: BTreeMap<u64, Option<String>>,
    /// Tags of every request not yet handed out.
    tags: BTreeMap<u64, T>,
    /// Keys not yet handed out, per priority (0 and 1; 2 is in 1).
    waiting: [BTreeSet<u64>; 2],
    /// Keys of priority 2 not yet handed out (also in `waiting[1]`).
    side: BTreeSet<u64>,
    /// Answers that arrived but are not yet handed out, and their bytes.
    arrived: BTreeMap<u64, Result<Response, String>>,
    arrived_bytes: usize,
    next_key: u64,
    peak: usize,
    /// The most answers that waited to be handed out at once.
    peak_arrived: usize,
    sent: u64,
}

impl<T, X: Transport> Scheduler<T, X> {
    pub fn new(transport: X, window: usize) -> Self {
        Scheduler {
            transport,
            window: window.max(1),
            queue: BTreeMap::new(),
            in_flight: Vec::new(),
            lanes: BTreeMap::new(),
            tags: BTreeMap::new(),
            waiting: [BTreeSet::new(), BTreeSet::new()],
            side: BTreeSet::new(),
            arrived: BTreeMap::new(),
            arrived_bytes: 0,
            next_key: 0,
            peak: 0,
            peak_arrived: 0,
            sent: 0,
        }
    }

    /// Queue a request; `priority` 0 goes before 1 (e.g. edge pages before insights); 2 goes
    /// with 1 without counting towards [`BACKLOG`].
    pub fn submit(&mut self, tag: T, request: Request, priority: u8) {
        let key = self.next_key;
        self.next_key += 1;
        if priority >= 2 {
            self.side.insert(key);
        }
        let priority = priority.min(1);
        self.tags.insert(key, tag);
        self.lanes.insert(key, request.account.clone());
        self.waiting[priority as usize].insert(key);
        self.queue.insert(key, (priority, request));
    }

    /// The most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Requests submitted and not yet handed out.
    pub fn outstanding(&self) -> usize {
        self.tags.len()
    }

    /// Requests of priority 0 submitted and not yet handed out.
    pub fn outstanding_edges(&self) -> usize {
        self.waiting[0].len()
    }

    /// The priorities in the order they are served now.
    fn preference(&self) -> [usize; 2] {
        if self.waiting[1].len() - self.side.len() >= BACKLOG { [1, 0] } else { [0, 1] }
    }

    /// The key handed out next: a function of the waiting sets only.
    fn head(&self) -> Option<u64> {
        self.preference().into_iter().find_map(|p| self.waiting[p].first().copied())
    }

    /// Whether `key` may take a slot now: its lane holds fewer than `window - 1` slots, or no
    /// other lane has anything outstanding (queued, in flight or waiting to be handed out: an
    /// answer waiting behind this lane's leads to requests that need the slot), or nothing is
    /// in flight at all.
    fn lane_may_send(&self, key: u64) -> bool {
        let Some(Some(lane)) = self.lanes.get(&key) else { return true };
        if self.window < 2 || self.in_flight.is_empty() {
            return true;
        }
        let held =
            self.in_flight.iter().filter(|(k, ..)| self.lanes.get(k).is_some_and(|l| l.as_ref() == Some(lane))).count();
        held < self.window - 1 || !self.lanes.values().any(|l| l.as_ref() != Some(lane))
    }

    /// The next queued request to send, in preference order.
    fn pick(&self) -> Option<u64> {
        if let Some(h) = self.head().filter(|h| self.queue.contains_key(h) && self.lane_may_send(*h)) {
            return Some(h);
        }
        // While the head's lane is held up, the other lanes' heads are needed next too.
        if let Some(h) = self.head()
            && let Some(k) =
                self.lane_heads_past(h).into_iter().find(|k| self.queue.contains_key(k) && self.lane_may_send(*k))
        {
            return Some(k);
        }
        if self.arrived.len() >= LOOKAHEAD || self.arrived_bytes >= LOOKAHEAD_BYTES {
            return None;
        }
        self.preference().into_iter().find_map(|p| {
            self.waiting[p].iter().find(|k| self.queue.contains_key(k) && self.lane_may_send(**k)).copied()
        })
    }

    /// When the head's lane is held up (a request of it in flight past [`STUCK`]), the key that
    /// heads each other lane (edges first), lowest first; empty otherwise.
    fn lane_heads_past(&self, head: u64) -> Vec<u64> {
        let Some(Some(stuck)) = self.lanes.get(&head) else { return Vec::new() };
        let now = Instant::now();
        let held_up = self.in_flight.iter().any(|(k, _, at)| {
            self.lanes.get(k).is_some_and(|l| l.as_ref() == Some(stuck)) && now.duration_since(*at) >= STUCK
        });
        if !held_up {
            return Vec::new();
        }
        let mut heads: BTreeMap<&String, u64> = BTreeMap::new();
        for p in [0, 1] {
            for k in &self.waiting[p] {
                if let Some(Some(lane)) = self.lanes.get(k)
                    && lane != stuck
                {
                    heads.entry(lane).or_insert(*k);
                }
            }
        }
        let mut keys: Vec<u64> = heads.into_values().collect();
        keys.sort();
        keys
    }

    /// The arrived answer that heads another lane, when the head's lane is held up.
    fn past_stuck_lane(&self, head: u64) -> Option<u64> {
        self.lane_heads_past(head).into_iter().find(|k| self.arrived.contains_key(k))
    }

    /// How long until the head's lane counts as held up, when another lane has an answer to
    /// hand out or a request to send by then (`None`: nothing to gain, or already held up:
    /// wait for an answer).
    fn until_stuck(&self, head: u64) -> Option<Duration> {
        let Some(Some(lane)) = self.lanes.get(&head) else { return None };
        let other = |k: &u64| self.lanes.get(k).is_some_and(|l| l.as_ref().is_some_and(|l| l != lane));
        if !self.arrived.keys().any(other) && !self.queue.keys().any(other) {
            return None;
        }
        let oldest = self
            .in_flight
            .iter()
            .filter(|(k, ..)| self.lanes.get(k).is_some_and(|l| l.as_ref() == Some(lane)))
            .map(|(_, _, at)| *at)
            .min()?;
        // Once held up, only answers bring news: no timer (it would spin).
        STUCK.checked_sub(oldest.elapsed()).map(|left| left.max(Duration::from_millis(1)))
    }

    /// Take an arrived answer out of the window.
    fn hand_out(&mut self, key: u64) -> Answer<T> {
        let answer = self.arrived.remove(&key).expect("handed out after it arrived");
        self.arrived_bytes -= size(&answer);
        self.lanes.remove(&key);
        let tag = self.tags.remove(&key).expect("every key has a tag");
        self.side.remove(&key);
        self.waiting.iter_mut().for_each(|w| {
            w.remove(&key);
        });
        (tag, answer)
    }

    /// Send what may be sent now (free slots), without waiting for anything.
    pub fn send(&mut self) {
        self.fill();
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.window {
            let Some(key) = self.pick() else { break };
            let (_, request) = self.queue.remove(&key).expect("picked from the queue");
            self.sent += 1;
            match self.transport.start(&request) {
                Ok(p) => self.in_flight.push((key, p, Instant::now())),
                Err(e) => {
                    self.arrived_bytes += e.len();
                    self.arrived.insert(key, Err(e));
                }
            }
            self.peak = self.peak.max(self.in_flight.len());
        }
    }

    /// The next answer in hand-out order (blocking until it has arrived); `None` when nothing
    /// is outstanding.
    pub fn next_answer(&mut self) -> Option<Answer<T>> {
        loop {
            self.fill();
            let head = self.head()?;
            if self.arrived.contains_key(&head) {
                return Some(self.hand_out(head));
            }
            if let Some(other) = self.past_stuck_lane(head) {
                return Some(self.hand_out(other));
            }
            let pendings: Vec<&X::Pending> = self.in_flight.iter().map(|(_, p, _)| p).collect();
            debug_assert!(!pendings.is_empty(), "the head is queued, in flight or arrived");
            let ready = self.transport.wait_any(&pendings, self.until_stuck(head));
            let mut still = Vec::with_capacity(self.in_flight.len());
            for (i, (key, p, at)) in std::mem::take(&mut self.in_flight).into_iter().enumerate() {
                match ready.contains(&i).then(|| self.transport.finish(&p)).flatten() {
                    Some(answer) => {
                        self.arrived_bytes += size(&answer);
                        self.arrived.insert(key, answer);
                    }
                    None => still.push((key, p, at)),
                }
            }
            self.in_flight = still;
            self.peak_arrived = self.peak_arrived.max(self.arrived.len());
        }
    }
}

fn size(answer: &Result<Response, String>) -> usize {
    match answer {
        Ok(r) => r.body.len(),
        Err(e) => e.len(),
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
