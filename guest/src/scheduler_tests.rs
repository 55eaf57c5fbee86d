//! Unit tests of `scheduler`: a simulated network drives the sliding window, the fixed
//! hand-out order, the look-ahead cap and the lanes.
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
    fn wait_any(&mut self, pending: &[&(u64, String)], _: Option<Duration>) -> Vec<usize> {
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
    while let Some((n, answer)) = s.next_answer() {
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
            // Edges go first and this tree grows only through them, so a wide window is
            // not always full here (`buffers_stay_bounded` checks a read's shape).
            assert!(peak <= window && peak >= window.min(4), "window {window}: peak {peak}");
        }
    }
}

/// A deep tree of edge pages, each with three insights requests, under random latencies:
/// answers wait in bounded numbers, insights never pile up past the backlog, edges are
/// handed out ahead of insights asked before them, and the order is the same for every
/// window.
#[test]
fn buffers_stay_bounded() {
    fn run(window: usize, seed: u64) -> (Vec<u64>, usize, usize) {
        let mut s = Scheduler::new(SimNet { now: 0, seed, sent: vec![] }, window);
        s.submit(0u64, get("e0".into()), 0);
        let (mut out, mut most_insights) = (Vec::new(), 0);
        while let Some((n, _)) = s.next_answer() {
            out.push(n);
            if n % 4 == 0 && n < 4 * 2000 {
                for (i, c) in (n + 4..n + 8).enumerate() {
                    s.submit(c, get(format!("n{c}")), (i > 0) as u8);
                }
            }
            most_insights = most_insights.max(s.waiting[1].len());
        }
        // One chain of edges yields four requests per round trip: a window of 4 is full.
        let peak = s.peak_in_flight();
        assert!(peak >= window.min(4) && peak <= window, "window {window}: peak {peak}");
        (out, s.peak_arrived, most_insights)
    }
    let (reference, _, _) = run(1, 7);
    assert_eq!(reference.len(), 1 + 4 * 2000);
    for window in [4, 16] {
        for seed in [1, 2, 3] {
            let (out, arrived, insights) = run(window, seed);
            assert_eq!(out, reference, "window {window} seed {seed}");
            assert!(arrived <= LOOKAHEAD + window, "{arrived} answers waited (window {window})");
            assert!(insights <= BACKLOG + 3, "{insights} insights requests waited");
        }
    }
    // The first edge's insights (keys 2..4) are handed out after the next edge (key 1) but
    // before the backlog grows: edges first, bounded.
    assert_eq!(&reference[..2], &[0, 4]);
}

/// A request the transport cannot start is answered with its error, in order.
#[test]
fn start_errors_are_answers() {
    let mut s = Scheduler::new(crate::http::WasiHttp, 4);
    s.submit("a", get("http://x/a".into()), 0);
    s.submit("b", get("http://x/b".into()), 1);
    let (t, r) = s.next_answer().unwrap();
    assert_eq!(t, "a");
    assert!(r.is_err());
    assert_eq!(s.next_answer().unwrap().0, "b");
    assert!(s.next_answer().is_none());
}

/// Side requests (priority 2) go with insights but are no backlog: eight of them asked before
/// an edge page do not put it behind them, where eight insights requests would.
#[test]
fn side_requests_are_no_backlog() {
    let order = |side: u8| {
        let mut s = Scheduler::new(SimNet { now: 0, seed: 1, sent: vec![] }, 1);
        for i in 0..8u64 {
            s.submit(i, get(format!("s{i}")), side);
        }
        s.submit(8, get("edge".into()), 0);
        let mut out = Vec::new();
        while let Some((tag, _)) = s.next_answer() {
            out.push(tag);
        }
        (out, s.transport.sent)
    };
    let (out, sent) = order(2);
    assert_eq!(out, [8, 0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(sent[0], "edge");
    // Eight insights requests are a backlog: the first goes before the edge page.
    assert_eq!(order(1).0, [0, 8, 1, 2, 3, 4, 5, 6, 7]);
}
