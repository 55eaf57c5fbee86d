//! Many tenants: 1,000 `run-many` jobs (each a read of users, media and media insights of one
//! account with 20 posts: a few round trips, 21 counted calls) against the fake at 100 ms, at
//! concurrency 8, 64 and 256, all on one shared token (one call budget for all) and on a token
//! each. Reports wall, CPU and peak RSS of the `run-many` process, memory per concurrent
//! tenant (peak RSS less a one-job run's, over the tenants beyond the first) and failed jobs.
//! Run alone: `SOURCE_INSTAGRAM_BENCH_ONLY=many-tenants cargo bench -p source-instagram --bench read`.

use super::{Measured, measure};
use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const JOBS: usize = 1000;

fn run(
    dir: &Path,
    env: &[(&str, &str)],
    spec: &DatasetSpec,
    jobs: usize,
    concurrency: usize,
    shared: bool,
) -> (Measured, u64) {
    let fake = FakeGraph::start(
        Dataset::generate(spec),
        FakeOptions { latency: Duration::from_millis(100), ..FakeOptions::default() },
    )
    .unwrap();
    let tokens = if shared { vec![spec.token.clone(); jobs] } else { fake.issue_tokens(jobs) };
    let catalog: Vec<Value> = ["users", "media", "media_insights"]
        .iter()
        .map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}))
        .collect();
    let lines: String = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let config = json!({"access_token": token, "api_base_url": fake.base_url()});
            json!({"id": format!("t{i}"), "command": "read", "config": config, "catalog": {"streams": catalog}})
                .to_string()
                + "\n"
        })
        .collect();
    let name = format!("many-{jobs}-{concurrency}-{}", if shared { "shared" } else { "distinct" });
    let path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, lines).unwrap();
    let out = dir.join(&name);
    let args = ["run-many", "--jobs", path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let concurrency = concurrency.to_string();
    let m = measure(&[&args[..], &["--concurrency", &concurrency]].concat(), env);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let failed = summary["failed"].as_u64().unwrap_or(u64::MAX) + summary["invalid"].as_u64().unwrap_or(0);
    std::fs::remove_dir_all(&out).ok();
    (m, failed)
}

pub fn many_tenants(dir: &Path, env_base: &[(&str, &str)]) {
    let spec = DatasetSpec { accounts: 1, pages_without_ig: 0, media_per_account: 20, ..DatasetSpec::small() };
    let now = spec.now.to_rfc3339();
    let mut env = env_base.to_vec();
    env.push(("SOURCE_INSTAGRAM_FAKE_NOW", now.as_str()));
    // The first run compiles the component into the cache: the base is a warm one-job run.
    run(dir, &env, &spec, 1, 1, true);
    let (one, _) = run(dir, &env, &spec, 1, 1, true);
    println!(
        "\n## Many tenants: {JOBS} `run-many` jobs at 100 ms (users + media + media_insights of 1 account × 20 posts each)\n"
    );
    println!("| tokens | concurrency | wall | CPU | peak RSS | memory per concurrent tenant | failed jobs |");
    println!("|---|---|---|---|---|---|---|");
    let mut failures = 0;
    for shared in [true, false] {
        for concurrency in [8usize, 64, 256] {
            let (m, failed) = run(dir, &env, &spec, JOBS, concurrency, shared);
            failures += failed;
            println!(
                "| {} | {concurrency} | {:.2} s | {:.2} s | {:.1} MiB | {:.2} MiB | {failed} |",
                if shared { "one shared" } else { "one per job" },
                m.wall.as_secs_f64(),
                m.cpu.as_secs_f64(),
                m.max_rss_kib as f64 / 1024.0,
                (m.max_rss_kib - one.max_rss_kib) as f64 / 1024.0 / (concurrency - 1) as f64,
            );
        }
    }
    println!(
        "\nOne job alone: {:.2} s wall, {:.1} MiB peak RSS (the base of the memory per tenant).",
        one.wall.as_secs_f64(),
        one.max_rss_kib as f64 / 1024.0
    );
    assert_eq!(failures, 0, "every job must succeed");
}
