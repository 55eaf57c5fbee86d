//! The call budget's rules, and a simulation of Meta's app limit (a rolling window, others'
//! usage, calls counted between sending and answering) that checks usage never passes 100 %.
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
    assert_eq!(b.estimate(t0).0, 3179, "every call is remembered for when readings come");
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
    assert!(matches!(b.admit(50, t0), Admission::Hold), "a fourth batch would reach 100 %: wait for the answers");
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
    assert!(b.per_call() <= 0.52, "the cost of a call is learned: {}", b.per_call());

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
    assert_eq!(b.per_call(), 0.5);
    assert!(b.others <= 1.0, "{}", b.others);
    assert!(matches!(b.admit(150, ms(21)), Admission::Wait(_)), "52 calls + 150 at 0.5 % pass even the probe's 99 %");
}

/// Another consumer's usage counts: with the app already at 60 %, fewer calls fit.
#[test]
fn others_usage_counts() {
    let t0 = Instant::now();
    let mut b = CallBudget::new(Duration::from_secs(10));
    let t = go(&mut b, 1, t0);
    b.answered(t, Some(60.0), t0);
    let _a = go(&mut b, 50, t0);
    assert!(matches!(b.admit(20, t0), Admission::Hold), "60 % + 0.5 × 71 calls passes 90 %: wait for the answer");
    let (ours, usage) = b.estimate(t0);
    assert_eq!(ours, 51);
    assert!(usage > 80.0, "{usage}");
}

/// Many tenants on one token: a burst of single calls, all answered before any reading
/// could count them, fills the estimate while Meta reports 0 %. One probe goes, the others
/// wait for its answer, and its reading (which counts the whole burst) frees the budget.
#[test]
fn a_probe_releases_a_burst_that_readings_show_room_for() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut b = CallBudget::new(Duration::from_secs(3600));
    let burst: Vec<Ticket> = (0..180).map(|_| go(&mut b, 1, t0)).collect();
    assert!(matches!(b.admit(1, t0), Admission::Hold), "no reading yet: 180 calls in flight is the prior's room");
    for t in burst {
        b.answered(t, Some(0.0), ms(100));
    }
    let probe = go(&mut b, 1, ms(101));
    assert!(matches!(b.admit(1, ms(101)), Admission::Hold), "the others wait for the probe's answer");
    b.answered(probe, Some(0.0), ms(200));
    for _ in 0..2000 {
        let t = go(&mut b, 1, ms(201));
        b.answered(t, Some(1.0), ms(300));
    }
    assert!(b.per_call() < 0.01, "{}", b.per_call());
    // Where Meta's readings show the burst filling the app, no probe goes: the newest
    // reading and the calls it may not have counted could pass 99 %.
    let mut b = CallBudget::new(Duration::from_secs(3600));
    let burst: Vec<Ticket> = (0..180).map(|_| go(&mut b, 1, t0)).collect();
    for (i, t) in burst.into_iter().enumerate() {
        b.answered(t, Some(0.5 * (i + 1) as f64), ms(100));
    }
    assert!(matches!(b.admit(1, ms(101)), Admission::Wait(_)));
}

/// Meta's app limit with `limit` calls a `window`, others holding `others` percent, and four
/// workers sending requests of 1 to 50 calls at 50–400 ms through the budget for `span`
/// (after a first request of one call).
/// Meta counts a request's calls at a moment between its sending and its answer, and
/// answers with the usage it then reads. Returns (calls sent, peak usage).
fn simulate(limit: u32, window: Duration, others: f64, span: Duration, seed: u64) -> (u32, f64) {
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    let t0 = Instant::now();
    let mut b = CallBudget::new(window);
    let mut meta: VecDeque<(Instant, u32)> = VecDeque::new();
    let (mut peak, mut sent) = (0f64, 0u32);
    // Per worker: in flight (ticket, calls, count at, answer at, reading) or next try.
    type Flight = (Ticket, u32, Instant, Instant, Option<f64>);
    let mut flights: Vec<Option<Flight>> = (0..4).map(|_| None).collect();
    // A read starts with one call (the account list), and its workers after its answer.
    let mut tries = [t0, t0 + Duration::from_secs(1), t0 + Duration::from_secs(1), t0 + Duration::from_secs(1)];
    let sizes = [1u32, 50, 50, 20, 1, 50, 3];
    let mut step = 0u64;
    while step < span.as_millis() as u64 {
        let now = t0 + Duration::from_millis(step);
        for w in 0..4 {
            match flights[w].take() {
                Some((ticket, calls, count_at, answer_at, reading)) => {
                    let mut reading = reading;
                    if reading.is_none() && now >= count_at {
                        while meta.front().is_some_and(|(t, _)| *t + window <= now) {
                            meta.pop_front();
                        }
                        meta.push_back((now, calls));
                        let usage = others + 100.0 * meta.iter().map(|(_, n)| *n).sum::<u32>() as f64 / limit as f64;
                        peak = peak.max(usage);
                        reading = Some(usage);
                    }
                    if now >= answer_at {
                        b.answered(ticket, reading, now);
                        tries[w] = now;
                    } else {
                        flights[w] = Some((ticket, calls, count_at, answer_at, reading));
                    }
                }
                None if now >= tries[w] => {
                    let calls = if now == t0 { 1 } else { sizes[next(sizes.len() as u64) as usize] };
                    match b.admit(calls, now) {
                        Admission::Go(ticket) => {
                            let latency = 50 + next(350);
                            let count_at = now + Duration::from_millis(next(latency));
                            let answer_at = now + Duration::from_millis(latency);
                            flights[w] = Some((ticket, calls, count_at, answer_at, None));
                            sent += calls;
                        }
                        Admission::Wait(d) => tries[w] = now + d.min(Duration::from_millis(20)),
                        Admission::Hold => tries[w] = now + Duration::from_millis(1),
                    }
                }
                None => {}
            }
        }
        step += 1;
    }
    (sent, peak)
}

/// With Meta's limit real and no one else on the app, usage never passes 100 %, whatever
/// the timing, and the read uses most of what the limit allows.
#[test]
fn a_real_limit_is_never_passed() {
    let window = Duration::from_secs(10);
    for seed in 0..12 {
        let (sent, peak) = simulate(200, window, 0.0, Duration::from_secs(60), seed);
        assert!(peak <= 100.0, "seed {seed}: usage peaked at {peak:.1} %");
        assert!(sent >= 600, "seed {seed}: {sent} calls in six windows of 200");
    }
}

/// Others holding the app at 85 %: the readings' differences show this process's calls
/// cost little, so it keeps sending (spaced by the usage pacing, not held for the window),
/// and usage stays under 100 % when its own calls do count.
#[test]
fn usage_held_by_others_does_not_hold_the_read() {
    let window = Duration::from_secs(3600);
    for seed in 0..4 {
        let (sent, peak) = simulate(20_000, window, 85.0, Duration::from_secs(60), seed);
        assert!(peak <= 100.0, "seed {seed}: usage peaked at {peak:.1} %");
        assert!(sent >= 400, "seed {seed}: only {sent} calls in a minute of an hour's window");
    }
    // When this process's calls do count against a small limit, it stays under 100 %.
    // (Others at 85 % of 200 calls leave room for 30, less than a batch of 50: a request
    // that cannot fit goes alone, and Meta's throttle answers it.)
    for (limit, others) in [(2000, 85.0), (2000, 60.0), (1000, 30.0), (400, 60.0)] {
        for seed in 0..4 {
            let (_, peak) = simulate(limit, Duration::from_secs(10), others, Duration::from_secs(60), seed);
            assert!(peak <= 100.0, "{limit} calls, others {others} %, seed {seed}: usage peaked at {peak:.1} %");
        }
    }
}
