//! The network benchmark: what reused connections and the call budget are worth, side by side
//! in one run, through the real binary and component against the fake Graph API.
//!
//! 1. Connection set-up cost. This is a full read of the `bench` dataset at 100 ms per request,
//!    with the fake also delaying each new connection (0 or 100 ms, about what a TCP and TLS
//!    handshake costs to a distant server). It compares one connection per request
//!    (`SOURCE_INSTAGRAM_KEEPALIVE=0`) with the keep-alive pool, the default.
//! 2. The app's rate limit. This is the same read against a fake that enforces 200 calls per
//!    rolling window (Meta's one hour, at a clock scale of 3600, so one second). It compares
//!    the call budget turned off (`SOURCE_INSTAGRAM_CALL_BUDGET=0`) with the default.
//!
//! Run: `cargo bench -p source-instagram --bench network` (results: BENCHMARKS.md).

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions, FaultPlan};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_source-instagram");
const STREAMS: &[&str] =
    &["users", "media", "media_insights", "stories", "story_insights", "user_insights", "user_lifetime_insights"];

/// A full read of the bench dataset against `fake`: wall time and whether it succeeded.
fn read(dir: &std::path::Path, spec: &DatasetSpec, fake: &FakeGraph, env: &[(&str, &str)]) -> (Duration, bool) {
    let cfg = dir.join("config.json");
    // The limited read waits several (scaled) hours: a day's cap keeps
    // `rate_limit_max_wait_minutes` out of the way, as in host/tests/call_budget.rs.
    let config = json!({"access_token": spec.token, "api_base_url": fake.base_url(), "num_workers": 4, "rate_limit_max_wait_minutes": 1440});
    std::fs::write(&cfg, config.to_string()).unwrap();
    let catalog: Vec<Value> = STREAMS
        .iter()
        .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
        .collect();
    let cat = dir.join("catalog.json");
    std::fs::write(&cat, json!({"streams": catalog}).to_string()).unwrap();
    let now = spec.now.to_rfc3339();
    let cache = dir.join("cache");
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["read", "--config", cfg.to_str().unwrap(), "--catalog", cat.to_str().unwrap()])
        .env("SOURCE_INSTAGRAM_FAKE_NOW", &now)
        .env("SOURCE_INSTAGRAM_CACHE_DIR", &cache)
        .envs(env.iter().copied())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success() && !stdout.lines().any(|l| l.contains(r#""type":"ERROR""#));
    (wall, ok)
}

fn main() {
    let spec = DatasetSpec::bench();
    let dir = tempfile::tempdir().unwrap();
    // Compile the component into the cache first, so no row pays for it.
    let warm = FakeGraph::start(Dataset::generate(&DatasetSpec::small()), FakeOptions::default()).unwrap();
    read(dir.path(), &DatasetSpec::small(), &warm, &[]);

    println!("## Connection set-up cost (bench dataset, 100 ms per request, num_workers 4)\n");
    println!("| set-up per new connection | connections | wall | connections opened | requests |");
    println!("|---|---|---|---|---|");
    for setup_ms in [0u64, 100] {
        let mut walls = Vec::new();
        for (mode, keep_alive) in [("one per request", "0"), ("kept alive (default)", "1")] {
            let options = FakeOptions {
                latency: Duration::from_millis(100),
                connection_delay: Duration::from_millis(setup_ms),
                ..FakeOptions::default()
            };
            let fake = FakeGraph::start(Dataset::generate(&spec), options).unwrap();
            let (wall, ok) = read(dir.path(), &spec, &fake, &[("SOURCE_INSTAGRAM_KEEPALIVE", keep_alive)]);
            assert!(ok, "the read failed");
            println!(
                "| {setup_ms} ms | {mode} | {:.2} s | {} | {} |",
                wall.as_secs_f64(),
                fake.connections(),
                fake.requests().len()
            );
            walls.push(wall);
        }
        println!(
            "| {setup_ms} ms | speed-up of keep-alive | {:.2}× | | |",
            walls[0].as_secs_f64() / walls[1].as_secs_f64()
        );
    }

    println!("\n## The app's rate limit: 200 calls per rolling window (one hour at clock scale 3600 = 1 s)\n");
    println!("| call budget | read | wall | peak usage | calls refused | calls sent |");
    println!("|---|---|---|---|---|---|");
    for (mode, on) in [("off", "0"), ("on (default)", "1")] {
        let options = FakeOptions {
            latency: Duration::from_millis(20),
            faults: FaultPlan::app_budget(200, Duration::from_secs(1)),
            ..FakeOptions::default()
        };
        let fake = FakeGraph::start(Dataset::generate(&spec), options).unwrap();
        let env = [("SOURCE_INSTAGRAM_CALL_BUDGET", on), ("SOURCE_INSTAGRAM_TIME_SCALE", "3600")];
        let (wall, ok) = read(dir.path(), &spec, &fake, &env);
        let report = fake.app_budget_report();
        println!(
            "| {mode} | {} | {:.2} s | {:.0} % | {} | {} |",
            if ok { "complete" } else { "failed (rate-limit wait cap)" },
            wall.as_secs_f64(),
            report.peak_percent,
            report.refused,
            report.calls
        );
    }
}
