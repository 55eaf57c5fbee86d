//! The sliding window: up to `window` requests in flight, answers handed out in a fixed order.
//!
//! Every submitted request gets a key in submission order. Requests are *sent* by priority
//! (lower first, then key) as soon as a slot is free — a finished request frees its slot at
//! once, even if its answer must wait to be handed out — and answers are *handed out* strictly
//! in key order. Since callers submit new requests only while handling answers, the sequence of
//! requests and of answers handed out is the same on every run and for every window size; only
//! the timing differs. That is what makes the read's output deterministic.
//!
//! It owns only ordering and the window: no Graph semantics, no parsing, no retries, no
//! sleeping (the host paces and retries inside its `wasi:http` hook).

use crate::http::{Request, Response, Transport};
use std::collections::BTreeMap;

/// An answer handed out: the caller's tag and the transport's result.
pub type Answer<T> = (T, Result<Response, String>);

/// The window over a [`Transport`].
pub struct Scheduler<T, X: Transport> {
    transport: X,
    window: usize,
    /// Submitted, not yet sent: by (priority, key).
    queue: BTreeMap<(u8, u64), Request>,
    in_flight: Vec<(u64, X::Pending)>,
    /// Tags of every request not yet handed out.
    tags: BTreeMap<u64, T>,
    /// Answers that arrived but wait for an earlier key.
    arrived: BTreeMap<u64, Result<Response, String>>,
    next_key: u64,
    next_out: u64,
    peak: usize,
    sent: u64,
}

impl<T, X: Transport> Scheduler<T, X> {
    pub fn new(transport: X, window: usize) -> Self {
        Scheduler {
            transport,
            window: window.max(1),
            queue: BTreeMap::new(),
            in_flight: Vec::new(),
            tags: BTreeMap::new(),
            arrived: BTreeMap::new(),
            next_key: 0,
            next_out: 0,
            peak: 0,
            sent: 0,
        }
    }

    /// Queue a request; `priority` 0 goes before 1 (e.g. edge pages before insights).
    pub fn submit(&mut self, tag: T, request: Request, priority: u8) {
        let key = self.next_key;
        self.next_key += 1;
        self.tags.insert(key, tag);
        self.queue.insert((priority, key), request);
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

    fn fill(&mut self) {
        while self.in_flight.len() < self.window {
            let Some(((_, key), request)) = self.queue.pop_first() else { break };
            self.sent += 1;
            match self.transport.start(&request) {
                Ok(p) => self.in_flight.push((key, p)),
                Err(e) => {
                    self.arrived.insert(key, Err(e));
                }
            }
            self.peak = self.peak.max(self.in_flight.len());
        }
    }

    /// The next answer in key order (blocking until it has arrived); `None` when nothing is
    /// outstanding.
    pub fn next(&mut self) -> Option<Answer<T>> {
        loop {
            self.fill();
            if let Some(answer) = self.arrived.remove(&self.next_out) {
                let tag = self.tags.remove(&self.next_out).expect("every key has a tag");
                self.next_out += 1;
                return Some((tag, answer));
            }
            if self.next_out == self.next_key {
                return None;
            }
            let pendings: Vec<&X::Pending> = self.in_flight.iter().map(|(_, p)| p).collect();
            debug_assert!(!pendings.is_empty(), "an outstanding key is queued, in flight or arrived");
            let ready = self.transport.wait_any(&pendings);
            let mut still = Vec::with_capacity(self.in_flight.len());
            for (i, (key, p)) in std::mem::take(&mut self.in_flight).into_iter().enumerate() {
                match ready.contains(&i).then(|| self.transport.finish(&p)).flatten() {
                    Some(answer) => {
                        self.arrived.insert(key, answer);
                    }
                    None => still.push((key, p)),
                }
            }
            self.in_flight = still;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    /// A simulated network: each request answers after a latency derived from its URL and
    /// `seed`; time advances to the next answer on every wait. Records the requests sent.
    struct SimNet {
        now: u64,
        seed: u64,
        sent: Vec<String>,
    }

    impl Transport for SimNet {
        type Pending = (u64, String);
        fn start(&mut self, r: &Request) -> Result<(u64, String), String> {
            self.sent.push(r.url.clone());
            let h = r.url.bytes().fold(self.seed, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            Ok((self.now + 1 + h % 97, r.url.clone()))
        }
        fn wait_any(&mut self, pending: &[&(u64, String)]) -> Vec<usize> {
            self.now = pending.iter().map(|p| p.0).min().unwrap();
            (0..pending.len()).filter(|i| pending[*i].0 <= self.now).collect()
        }
        fn finish(&mut self, p: &(u64, String)) -> Option<Result<Response, String>> {
            (p.0 <= self.now).then(|| Ok(Response { status: 200, body: p.1.clone().into_bytes() }))
        }
    }

    fn get(url: String) -> Request {
        Request { method: Method::Get, url, body: None, account: None }
    }

    /// A tree of work: each answer to `n` submits its children `2n+1`, `2n+2` (below 200),
    /// children at priority 0 and odd ones at 1. Returns (answers in order, urls sent, peak).
    fn run(window: usize, seed: u64) -> (Vec<String>, Vec<String>, usize) {
        let mut s = Scheduler::new(SimNet { now: 0, seed, sent: vec![] }, window);
        s.submit(0u64, get("n0".into()), 0);
        let mut out = Vec::new();
        while let Some((n, answer)) = s.next() {
            out.push(String::from_utf8(answer.unwrap().body).unwrap());
            for c in [2 * n + 1, 2 * n + 2].into_iter().filter(|c| *c < 200) {
                s.submit(c, get(format!("n{c}")), (c % 2) as u8);
            }
        }
        (out, s.transport.sent.clone(), s.peak_in_flight())
    }

    /// Answers come out in the same order for every window size and every latency pattern;
    /// the window is used to the full and never exceeded.
    #[test]
    fn order_is_independent_of_window_and_timing() {
        let (reference, _, peak1) = run(1, 1);
        assert_eq!(reference.len(), 200);
        assert_eq!(peak1, 1);
        for window in [2, 4, 16] {
            for seed in [1, 2, 3] {
                let (out, sent, peak) = run(window, seed);
                assert_eq!(out, reference, "window {window} seed {seed}");
                assert_eq!(sent.len(), 200, "each request sent once");
                assert_eq!(peak, window, "window {window} filled");
            }
        }
    }

    /// A request the transport cannot start is answered with its error, in order.
    #[test]
    fn start_errors_are_answers() {
        let mut s = Scheduler::new(crate::http::WasiHttp, 4);
        s.submit("a", get("http://x/a".into()), 0);
        s.submit("b", get("http://x/b".into()), 1);
        let (t, r) = s.next().unwrap();
        assert_eq!(t, "a");
        assert!(r.is_err());
        assert_eq!(s.next().unwrap().0, "b");
        assert!(s.next().is_none());
    }
}
