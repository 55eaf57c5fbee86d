//! Many tenants on one token (agencies read many client accounts with one system-user token):
//! `run-many` jobs sharing a token share its call budget. A burst of more jobs than the
//! budget's first guess (200 calls an hour before any reading), all at once, at 100 ms latency:
//! - with the fake reporting low usage, every job succeeds and nothing waits for room in the
//!   budget (the burst's answers release it, see `network::budget`);
//! - with the fake enforcing the app limit (its hour lasts a second here), every job still
//!   succeeds and usage stays at or under 100 %.

mod common;

use common::*;
use fake_graph::{AppBudgetReport, DatasetSpec, FakeOptions, FaultPlan};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const JOBS: usize = 240;

/// Runs `JOBS` reads of users, media and media insights (one account, 20 posts: 21 calls) at concurrency `JOBS`, all on
/// one token. Returns the summary, every tenant's output, the fake's app-budget report and the
/// wall time.
fn burst(faults: FaultPlan, env: &[(&str, &str)]) -> (Value, Vec<String>, AppBudgetReport, Duration) {
    let spec = DatasetSpec { accounts: 1, pages_without_ig: 0, media_per_account: 20, ..DatasetSpec::small() };
    let options = FakeOptions { latency: Duration::from_millis(100), faults, ..FakeOptions::default() };
    let sb = Sandbox::start_with(spec, options);
    let config =
        json!({"access_token": sb.token, "api_base_url": sb.fake.base_url(), "rate_limit_max_wait_minutes": 1440});
    let catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.catalog(&["users", "media", "media_insights"])).unwrap())
            .unwrap();
    let jobs: String = (0..JOBS)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("tenant-{i}"), "command": "read", "config": config, "catalog": catalog})
            )
        })
        .collect();
    let path = sb.dir.path().join("jobs.jsonl");
    std::fs::write(&path, jobs).unwrap();
    let out = sb.dir.path().join("out");
    warm_cache();
    let started = Instant::now();
    let status = Command::new(BIN)
        .args(["run-many", "--jobs", path.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--concurrency", &JOBS.to_string()])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_FAKE_NOW", &sb.now)
        .envs(env.iter().copied())
        .status()
        .unwrap();
    let took = started.elapsed();
    assert!(status.success());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let outputs = (0..JOBS).map(|i| std::fs::read_to_string(out.join(format!("tenant-{i}.jsonl"))).unwrap()).collect();
    (summary, outputs, sb.fake.app_budget_report(), took)
}

fn assert_every_job_read_everything(summary: &Value, outputs: &[String]) {
    let failed: Vec<&Value> = summary["results"].as_array().unwrap().iter().filter(|r| r["exit_code"] != 0).collect();
    assert!(failed.is_empty(), "{} of {JOBS} jobs failed, e.g. {}", failed.len(), failed[0]);
    for (i, output) in outputs.iter().enumerate() {
        let media = output.lines().filter(|l| l.contains("\"RECORD\"") && l.contains("\"stream\":\"media\"")).count();
        assert_eq!(media, 20, "tenant-{i} read {media} posts");
    }
}

#[test]
fn a_burst_of_tenants_on_one_token_never_waits_while_meta_reports_room() {
    let (summary, outputs, _, took) = burst(FaultPlan::none(), &[]);
    assert_every_job_read_everything(&summary, &outputs);
    let waited: Vec<usize> = (0..JOBS).filter(|i| outputs[*i].contains("wait for room")).collect();
    assert!(
        waited.is_empty(),
        "{} tenants waited for room in the call budget, e.g. tenant-{}: {}",
        waited.len(),
        waited[0],
        outputs[waited[0]].lines().find(|l| l.contains("wait for room")).unwrap_or_default()
    );
    let rate_limited = outputs.iter().filter(|o| o.contains("RATE_LIMITED")).count();
    assert_eq!(rate_limited, 0, "no tenant is told it is rate limited");
    // A job's reads take a few round trips of 100 ms; an hour's wait would show.
    assert!(took < Duration::from_secs(60), "the burst took {took:?}");
    eprintln!("{JOBS} tenants at once on one token: {took:?}");
}

#[test]
fn a_burst_of_tenants_on_one_token_stays_under_a_real_limit() {
    // 600 calls a window, the window an hour at ×3600 (a second): the burst needs several.
    let (summary, outputs, report, took) =
        burst(FaultPlan::app_budget(600, Duration::from_secs(1)), &[("SOURCE_INSTAGRAM_TIME_SCALE", "3600")]);
    assert_every_job_read_everything(&summary, &outputs);
    assert!(report.peak_percent <= 100.0, "usage peaked at {:.0} %: {report:?}", report.peak_percent);
    assert!(report.calls - report.refused > 600, "the burst needs more than a window's calls: {report:?}");
    eprintln!("{JOBS} tenants under a limit of 600 calls a second: {report:?} in {took:?}");
}
