//! The read benchmark: a full read of the `bench` dataset (2 accounts × 300 posts, 488 carousel
//! children, 40 stories, 60 days of insights) against the fake Graph API at 0 ms and 100 ms
//! injected latency, through the real binary and component.
//!
//! Reports wall time, CPU time and peak RSS of the connector process, HTTP round trips and
//! rate-limit-counted calls per stream, records per second, and `spec` start-up. The baseline
//! in the same run is the same connector limited to one request in flight (`num_workers: 1`).
//! A read of every stream against the seven original ones, in the same run, is in `every`.
//! Many tenants on shared and distinct tokens are in `many`.
//! Run: `cargo bench -p source-instagram --bench read` (results: BENCHMARKS.md).

#[path = "common/mod.rs"]
mod common;
#[path = "read/every.rs"]
mod every;
#[path = "read/many.rs"]
mod many;

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions, RecordedRequest};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_source-instagram");
const STREAMS: &[&str] = common::SEVEN;

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    records: usize,
    stdout: String,
}

/// Run the binary and measure it: CPU time with `wait4`, peak RSS from its VmHWM.
fn measure(args: &[&str], env: &[(&str, &str)]) -> Measured {
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Reaped below with wait4, which also gives its CPU time and peak RSS.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    // Peak RSS from the child's own VmHWM (polled): `wait4`'s ru_maxrss also counts the pages
    // the child shared with this (large) bench process between fork and exec.
    let pid_num = child.id();
    let hwm = std::thread::spawn(move || {
        let mut peak = 0i64;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid_num}/status")) {
            let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) else { break };
            peak = peak.max(kib.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(2));
        }
        peak
    });
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
    let max_rss_kib = hwm.join().unwrap();
    Measured { wall, cpu: tv(usage.ru_utime) + tv(usage.ru_stime), max_rss_kib, records, stdout }
}

/// The stream a request (or a batch operation) serves.
fn stream_of(path: &str, query: &str) -> &'static str {
    let parts: Vec<&str> =
        path.trim_matches('/').split('/').filter(|p| !p.starts_with('v') || !p.contains('.')).collect();
    match parts.as_slice() {
        ["me", "accounts"] => "(accounts)",
        [_] if query.contains("business_discovery") => "competitor_profiles, competitor_media",
        ["ig_hashtag_search"] | [_, "top_media" | "recent_media"] => "hashtag_media",
        [_] => "users",
        [_, "tags"] => "tagged_media",
        [_, "comments" | "replies"] => "media_comments",
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
    if std::env::var("SOURCE_INSTAGRAM_BENCH_ONLY").is_ok_and(|v| v == "many-tenants") {
        return many::many_tenants(dir.path(), &env_base);
    }

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
            std::fs::write(
                &cfg,
                json!({"access_token": spec.token, "api_base_url": fake.base_url(), "num_workers": workers})
                    .to_string(),
            )
            .unwrap();
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
    println!(
        "\n## Per stream (100 ms latency, default)\n\n| stream | round trips | rate-limit-counted calls |\n|---|---|---|"
    );
    for (s, (rt, calls)) in detail {
        println!("| {s} | {rt} | {calls} |");
    }
    large_account(dir.path(), &env_base);
    every::every_stream(dir.path(), &env_base);
    tenants(dir.path(), &env_base);
    many::many_tenants(dir.path(), &env_base);
}

/// Full read of `streams` of `spec` at `latency` with `workers` in flight (`extra`: more config
/// keys): the measurement, the fake's request log and the most requests the fake served at once.
fn read_once(
    dir: &std::path::Path,
    env_base: &[(&str, &str)],
    spec: &DatasetSpec,
    latency: Duration,
    workers: usize,
    streams: &[&str],
    extra: &Value,
) -> (Measured, Vec<RecordedRequest>, usize) {
    let fake = FakeGraph::start(Dataset::generate(spec), FakeOptions { latency, ..FakeOptions::default() }).unwrap();
    let cfg = dir.join("large-config.json");
    let mut config = json!({"access_token": spec.token, "api_base_url": fake.base_url(), "num_workers": workers});
    config.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    std::fs::write(&cfg, config.to_string()).unwrap();
    let catalog: Vec<Value> = streams
        .iter()
        .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
        .collect();
    let cat = dir.join("large-catalog.json");
    std::fs::write(&cat, json!({"streams": catalog}).to_string()).unwrap();
    let now = spec.now.to_rfc3339();
    let mut env = env_base.to_vec();
    env.push(("SOURCE_INSTAGRAM_FAKE_NOW", now.as_str()));
    let m = measure(&["read", "--config", cfg.to_str().unwrap(), "--catalog", cat.to_str().unwrap()], &env);
    assert!(m.stdout.lines().all(|l| !l.contains("\"ERROR\"")), "the read failed");
    let reqs = fake.requests();
    let mut events: Vec<(Instant, i32)> = Vec::new();
    for r in &reqs {
        events.push((r.received_at, 1));
        events.push((r.received_at + r.duration, -1));
    }
    events.sort();
    let (mut now_in, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        now_in += d;
        peak = peak.max(now_in);
    }
    (m, reqs, peak as usize)
}

/// One account with many posts (media and media_insights): `num_workers` 4 against 1 at
/// 100 ms, and peak RSS for 600 against 10,000 posts (the edge is streamed, never held).
fn large_account(dir: &std::path::Path, env_base: &[(&str, &str)]) {
    let streams = ["users", "media", "media_insights"];
    let one = |posts: usize| DatasetSpec { accounts: 1, media_per_account: posts, ..DatasetSpec::small() };
    println!("\n## One account × 3,000 posts (users, media, media_insights), 100 ms latency\n");
    println!("| mode | wall | CPU | peak RSS | round trips | counted calls | most requests in flight | records |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut walls = BTreeMap::new();
    for (mode, workers) in [("baseline: num_workers 1", 1), ("default (num_workers 4)", 4), ("num_workers 16", 16)] {
        let (m, reqs, peak) =
            read_once(dir, env_base, &one(3_000), Duration::from_millis(100), workers, &streams, &json!({}));
        let calls: usize = reqs.iter().map(|r| r.batch_ops.max(1)).sum();
        println!(
            "| {mode} | {:.2} s | {:.2} s | {:.1} MiB | {} | {calls} | {peak} | {} |",
            m.wall.as_secs_f64(),
            m.cpu.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            reqs.len(),
            m.records
        );
        walls.insert(workers, m.wall.as_secs_f64());
    }
    println!("| speed-up of num_workers 4 over 1 | {:.1}× | | | | | | |", walls[&1] / walls[&4]);
    println!("| speed-up of num_workers 16 over 1 | {:.1}× | | | | | | |", walls[&1] / walls[&16]);
    println!("\n## Peak RSS against account size (one account, users + media + media_insights, 0 ms)\n");
    println!("| posts | wall | peak RSS | round trips | counted calls | records |\n|---|---|---|---|---|---|");
    for posts in [600usize, 3_000, 10_000] {
        let (m, reqs, _) = read_once(dir, env_base, &one(posts), Duration::ZERO, 4, &streams, &json!({}));
        let calls: usize = reqs.iter().map(|r| r.batch_ops.max(1)).sum();
        println!(
            "| {posts} | {:.2} s | {:.1} MiB | {} | {calls} | {} |",
            m.wall.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            reqs.len(),
            m.records
        );
    }
}

/// 100 tenants (each a read of users, media and media_insights of the `small` dataset) in one
/// `run-many` process, against 100 separate processes with the same concurrency.
fn tenants(dir: &std::path::Path, env_base: &[(&str, &str)]) {
    const TENANTS: usize = 100;
    const CONCURRENCY: usize = 8;
    let spec = DatasetSpec::small();
    let fake = FakeGraph::start(Dataset::generate(&spec), FakeOptions::default()).unwrap();
    let config = json!({"access_token": spec.token, "api_base_url": fake.base_url()});
    let catalog: Vec<Value> = ["users", "media", "media_insights"]
        .iter()
        .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
        .collect();
    let catalog = json!({"streams": catalog});
    let now = spec.now.to_rfc3339();
    let mut env = env_base.to_vec();
    env.push(("SOURCE_INSTAGRAM_FAKE_NOW", now.as_str()));

    let run_many = |n: usize, name: &str| -> (Measured, Value) {
        let jobs: String = (0..n)
            .map(|i| {
                json!({"id": format!("t{i}"), "command": "read", "config": config, "catalog": catalog}).to_string()
                    + "\n"
            })
            .collect();
        let jobs_path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&jobs_path, jobs).unwrap();
        let out = dir.join(name);
        let m = measure(
            &[
                "run-many",
                "--jobs",
                jobs_path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--concurrency",
                &CONCURRENCY.to_string(),
            ],
            &env,
        );
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["failed"], 0, "{summary}");
        (m, summary)
    };
    let (one, _) = run_many(1, "one");
    let (many, summary) = run_many(TENANTS, "many");
    let mut inst: Vec<f64> =
        summary["results"].as_array().unwrap().iter().filter_map(|r| r["instantiate_ms"].as_f64()).collect();
    inst.sort_by(f64::total_cmp);

    // The same 100 reads as separate processes, CONCURRENCY at a time.
    let cfg = dir.join("tenant-config.json");
    std::fs::write(&cfg, config.to_string()).unwrap();
    let cat = dir.join("tenant-catalog.json");
    std::fs::write(&cat, catalog.to_string()).unwrap();
    let started = Instant::now();
    let results: Vec<Measured> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<usize>> =
            (0..TENANTS).collect::<Vec<_>>().chunks(TENANTS / CONCURRENCY + 1).map(|c| c.to_vec()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let env = env.clone();
                let (cfg, cat) = (cfg.clone(), cat.clone());
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|_| {
                            measure(
                                &["read", "--config", cfg.to_str().unwrap(), "--catalog", cat.to_str().unwrap()],
                                &env,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let separate_wall = started.elapsed();
    let separate_cpu: Duration = results.iter().map(|m| m.cpu).sum();
    let separate_rss = results.iter().map(|m| m.max_rss_kib).max().unwrap();
    println!(
        "\n## {TENANTS} tenants, {CONCURRENCY} at a time (users + media + media_insights of the `small` dataset each)\n"
    );
    println!("| mode | wall | CPU | peak RSS |\n|---|---|---|---|");
    println!(
        "| one `run-many` process | {:.2} s | {:.2} s | {:.1} MiB (whole process) |",
        many.wall.as_secs_f64(),
        many.cpu.as_secs_f64(),
        many.max_rss_kib as f64 / 1024.0
    );
    println!(
        "| {TENANTS} separate processes | {:.2} s | {:.2} s | {:.1} MiB each, ≈ {:.0} MiB for {CONCURRENCY} at once |",
        separate_wall.as_secs_f64(),
        separate_cpu.as_secs_f64(),
        separate_rss as f64 / 1024.0,
        separate_rss as f64 * CONCURRENCY as f64 / 1024.0
    );
    println!(
        "| ratio (separate / run-many) | {:.1}× | {:.1}× | |",
        separate_wall.as_secs_f64() / many.wall.as_secs_f64(),
        separate_cpu.as_secs_f64() / many.cpu.as_secs_f64()
    );
    println!(
        "\nPer-tenant instantiation from the pre-compiled component: median {:.3} ms, max {:.3} ms.",
        inst[inst.len() / 2],
        inst[inst.len() - 1]
    );
    println!(
        "Memory per concurrent tenant ≈ {:.1} MiB (peak RSS with {CONCURRENCY} tenants at once minus a one-tenant run, divided by {}).",
        (many.max_rss_kib - one.max_rss_kib) as f64 / 1024.0 / (CONCURRENCY - 1) as f64,
        CONCURRENCY - 1
    );
}
