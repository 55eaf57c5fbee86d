//! The read benchmark: a full read of the `bench` dataset (2 accounts × 300 posts, 488 carousel
//! children, 40 stories, 60 days of insights) against the fake Graph API at 0 ms and 100 ms
//! injected latency, through the real binary and component.
//!
//! Reports wall time, CPU time and peak RSS of the connector process, HTTP round trips and
//! rate-limit-counted calls per stream, records per second, and `spec` start-up. The baseline
//! in the same run is the same connector limited to one request in flight (`num_workers: 1`).
//! Run: `cargo bench -p source-instagram --bench read` (results: BENCHMARKS.md).

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions, RecordedRequest};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_source-instagram");
const STREAMS: &[&str] = &["users", "media", "media_insights", "stories", "story_insights", "user_insights", "user_lifetime_insights"];

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    records: usize,
    stdout: String,
}

/// Run the binary and measure it with `wait4` (CPU time and peak RSS of that child only).
fn measure(args: &[&str], env: &[(&str, &str)]) -> Measured {
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid);
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let records = stdout.lines().filter(|l| l.starts_with(r#"{"type":"RECORD""#)).count();
    Measured { wall, cpu: tv(usage.ru_utime) + tv(usage.ru_stime), max_rss_kib: usage.ru_maxrss, records, stdout }
}

/// The stream a request (or a batch operation) serves.
fn stream_of(path: &str, query: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.starts_with('v') || !p.contains('.')).collect();
    match parts.as_slice() {
        ["me", "accounts"] => "(accounts)",
        [_] => "users",
        [_, "media"] => "media",
        [_, "stories"] => "stories",
        [id, "insights"] if id.starts_with("179") => "media_insights",
        [id, "insights"] if id.starts_with("181") => "story_insights",
        [_, "insights"] if query.contains("breakdown") => "user_lifetime_insights",
        [_, "insights"] => "user_insights",
        _ => "(other)",
    }
}

/// (round trips, rate-limit-counted calls) per stream.
fn per_stream(requests: &[RecordedRequest]) -> BTreeMap<&'static str, (usize, usize)> {
    let mut out: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for r in requests {
        if r.batch_ops > 0 {
            let urls = r.batch_relative_urls();
            let mut seen = std::collections::BTreeSet::new();
            for u in &urls {
                let (path, query) = u.split_once('?').unwrap_or((u, ""));
                let s = stream_of(path, query);
                out.entry(s).or_default().1 += 1;
                seen.insert(s);
            }
            for s in seen {
                out.entry(s).or_default().0 += 1;
            }
        } else {
            let q: String = r.query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join("&");
            let e = out.entry(stream_of(&r.path, &q)).or_default();
            e.0 += 1;
            e.1 += 1;
        }
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let spec = DatasetSpec::bench();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache_s = cache.to_string_lossy().to_string();
    let env_base = [("SOURCE_INSTAGRAM_CACHE_DIR", cache_s.as_str())];

    // spec start-up: first run compiles and caches, the rest load the cached artifact.
    let cold = measure(&["spec"], &env_base);
    let mut warm: Vec<Duration> = (0..20).map(|_| measure(&["spec"], &env_base).wall).collect();
    warm.sort();
    println!("## spec start-up\n\n| | time |\n|---|---|");
    println!("| first run (compiles the component, writes the cache) | {:.0} ms |", cold.wall.as_secs_f64() * 1e3);
    println!("| warm cache, median of 20 | {:.1} ms |", warm[10].as_secs_f64() * 1e3);
    println!("| warm cache, max of 20 | {:.1} ms |\n", warm[19].as_secs_f64() * 1e3);

    let counts = Dataset::generate(&spec).counts();
    println!(
        "## Full read of the bench dataset\n\n{} accounts, {} posts, {} carousel children, {} stories, {} days of insights.\n",
        counts.accounts, counts.media, counts.carousel_children, counts.stories, counts.insight_days
    );
    println!("| latency | mode | wall | CPU | peak RSS | round trips | counted calls | records | records/s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut detail = Vec::new();
    for latency_ms in [0u64, 100] {
        let mut walls = BTreeMap::new();
        for (mode, workers) in [("baseline: 1 request in flight", 1), ("default (num_workers 4)", 4)] {
            let fake = FakeGraph::start(
                Dataset::generate(&spec),
                FakeOptions { latency: Duration::from_millis(latency_ms), ..FakeOptions::default() },
            )
            .unwrap();
            let cfg = dir.path().join("config.json");
            std::fs::write(&cfg, json!({"access_token": spec.token, "api_base_url": fake.base_url(), "num_workers": workers}).to_string()).unwrap();
            let catalog: Vec<Value> = STREAMS
                .iter()
                .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
                .collect();
            let cat = dir.path().join("catalog.json");
            std::fs::write(&cat, json!({"streams": catalog}).to_string()).unwrap();
            let now = spec.now.to_rfc3339();
            let mut env = env_base.to_vec();
            env.push(("SOURCE_INSTAGRAM_FAKE_NOW", now.as_str()));
            let m = measure(&["read", "--config", cfg.to_str().unwrap(), "--catalog", cat.to_str().unwrap()], &env);
            assert!(m.stdout.lines().all(|l| !l.contains("\"ERROR\"")), "the read failed");
            let reqs = fake.requests();
            let calls: usize = reqs.iter().map(|r| r.batch_ops.max(1)).sum();
            println!(
                "| {latency_ms} ms | {mode} | {:.2} s | {:.2} s | {:.1} MiB | {} | {} | {} | {:.0} |",
                m.wall.as_secs_f64(),
                m.cpu.as_secs_f64(),
                m.max_rss_kib as f64 / 1024.0,
                reqs.len(),
                calls,
                m.records,
                m.records as f64 / m.wall.as_secs_f64()
            );
            walls.insert(workers, m.wall);
            if latency_ms == 100 && workers == 4 {
                detail = per_stream(&reqs).into_iter().collect();
            }
        }
        println!(
            "| {latency_ms} ms | speed-up of default over baseline | {:.1}× | | | | | | |",
            walls[&1].as_secs_f64() / walls[&4].as_secs_f64()
        );
    }
    println!("\n## Per stream (100 ms latency, default)\n\n| stream | round trips | rate-limit-counted calls |\n|---|---|---|");
    for (s, (rt, calls)) in detail {
        println!("| {s} | {rt} | {calls} |");
    }
}
