//! A diagnostic: one full read of the `bench` dataset (the seven streams of `benches/read.rs`)
//! against the fake Graph API, printing every request the fake served (start and end in ms
//! after the first request, operations, what it asked) and the read's wall time.
//!
//! Usage: `timeline BINARY [LATENCY_MS] [NUM_WORKERS] [COMPONENT]` (BINARY: a built
//! `source-instagram`; COMPONENT: another build of the component, passed as `--component`).
//! `TIMELINE_ALL=1`: every stream the connector declares, with the public-content lists of
//! `benches/read.rs` set, instead of the seven.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{EVERY_STREAM, SEVEN, public_lists};
use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = args.first().expect("usage: timeline BINARY [LATENCY_MS] [NUM_WORKERS]");
    let latency: u64 = args.get(1).map_or(100, |s| s.parse().unwrap());
    let workers: usize = args.get(2).map_or(4, |s| s.parse().unwrap());
    // `TIMELINE_POSTS=N`: one account with N posts (users, media, media_insights) instead.
    let posts: Option<usize> = std::env::var("TIMELINE_POSTS").ok().map(|n| n.parse().unwrap());
    let spec = match posts {
        Some(n) => DatasetSpec { accounts: 1, media_per_account: n, ..DatasetSpec::small() },
        None => DatasetSpec::bench(),
    };
    let fake = FakeGraph::start(
        Dataset::generate(&spec),
        FakeOptions { latency: Duration::from_millis(latency), ..FakeOptions::default() },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    let all = SEVEN;
    let every = std::env::var_os("TIMELINE_ALL").is_some();
    let streams: Vec<&str> = match (every, posts.is_some()) {
        (true, _) => EVERY_STREAM.to_vec(),
        (false, true) => all[..3].to_vec(),
        (false, false) => all.to_vec(),
    };
    let mut config = json!({"access_token": spec.token, "api_base_url": fake.base_url(), "num_workers": workers});
    if every {
        config.as_object_mut().unwrap().extend(public_lists().as_object().unwrap().clone());
    }
    std::fs::write(&cfg, config.to_string()).unwrap();
    let catalog: Vec<Value> = streams
        .iter()
        .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
        .collect();
    let cat = dir.path().join("catalog.json");
    std::fs::write(&cat, json!({"streams": catalog}).to_string()).unwrap();
    let cache = std::env::var("SOURCE_INSTAGRAM_CACHE_DIR").unwrap_or_else(|_| "/tmp/timeline-cache".into());
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    if let Some(component) = args.get(3) {
        cmd.args(["--component", component]);
    }
    let out = cmd
        .args(["read", "--config", cfg.to_str().unwrap(), "--catalog", cat.to_str().unwrap()])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache)
        .env("SOURCE_INSTAGRAM_FAKE_NOW", spec.now.to_rfc3339())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let records = stdout.lines().filter(|l| l.starts_with(r#"{"type":"RECORD""#)).count();
    let reqs = fake.requests();
    let t0 = reqs.iter().map(|r| r.received_at).min().unwrap();
    let ms = |i: Instant| i.duration_since(t0).as_secs_f64() * 1e3;
    let mut calls = 0;
    for r in &reqs {
        let what = if r.batch_ops > 0 {
            let urls = r.batch_relative_urls();
            calls += urls.len();
            let mut kinds: Vec<String> = urls
                .iter()
                .map(|u| {
                    let (p, q) = u.split_once('?').unwrap_or((u, ""));
                    let tail = p.rsplit('/').next().unwrap_or("");
                    let metric =
                        q.split('&').find(|kv| kv.starts_with("metric=") || kv.starts_with("period=")).unwrap_or("");
                    format!("{}:{}", tail, &metric[..metric.len().min(24)])
                })
                .collect();
            kinds.dedup();
            format!("batch {} ops [{}]", r.batch_ops, kinds.join(" "))
        } else {
            calls += 1;
            format!("{} {}", r.method, r.path)
        };
        println!("{:7.1} {:7.1}  {}", ms(r.received_at), ms(r.received_at + r.duration), what);
    }
    let last = reqs.iter().map(|r| r.received_at + r.duration).max().unwrap();
    println!(
        "wall {:.3} s ({:.0} ms before the first request, {:.0} ms after the last answer), {} requests, {} counted calls, {} records",
        wall.as_secs_f64(),
        t0.duration_since(started).as_secs_f64() * 1e3,
        (started + wall).duration_since(last).as_secs_f64() * 1e3,
        reqs.len(),
        calls,
        records
    );
}
