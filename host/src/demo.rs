//! `demo`: the built-in sandbox. Starts the fake Graph API in-process with deterministic
//! data, reads every stream through the real component and network policy, and prints the
//! messages (stdout) and a summary (stderr).
//!
//! Owns only the sandbox set-up; the read itself is the same code path as `read`.

use crate::commands::{self, RunEnv};
use crate::protocol::Output;
use crate::runtime::Runtime;
use crate::settings::Settings;
use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
use serde_json::{Value, json};
use std::io::Write;
use std::process::ExitCode;

/// The catalog that selects every stream, incremental where supported.
pub fn full_catalog(catalog: &Value) -> Value {
    let streams: Vec<Value> = catalog["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let incremental =
                s["supported_sync_modes"].as_array().is_some_and(|m| m.iter().any(|x| x == "incremental"));
            json!({
                "stream": s,
                "sync_mode": if incremental { "incremental" } else { "full_refresh" },
                "destination_sync_mode": "append",
            })
        })
        .collect();
    json!({ "streams": streams })
}

pub async fn run(runtime: &Runtime, dataset: &str, summary_only: bool, env: &RunEnv) -> ExitCode {
    let Some(spec) = DatasetSpec::named(dataset) else {
        eprintln!("unknown dataset {dataset:?} (choose small, demo or bench)");
        return ExitCode::from(2);
    };
    let data = Dataset::generate(&spec);
    let now = data.now();
    let token = data.token().to_string();
    let fake = match FakeGraph::start(data, FakeOptions::default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("could not start the sandbox Graph API: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("Sandbox Graph API on {} (dataset {dataset:?}, now = {now})", fake.base_url());
    let settings = match Settings::from_value(json!({
        "access_token": token,
        "api_base_url": fake.base_url(),
    })) {
        Ok(s) => s,
        Err(f) => {
            eprintln!("{}", f.message);
            return ExitCode::FAILURE;
        }
    };
    let output = if summary_only { Output::new(Box::new(std::io::sink())) } else { Output::stdout() };
    let env = RunEnv { now: Some(now), ..env.clone() };
    let catalog = match commands::discover(runtime, &output, &settings, &env).await {
        Ok(c) => full_catalog(&c),
        Err(f) => {
            output.error(&f);
            eprintln!("The sandbox could not discover the streams: {}", f.message);
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let (result, _) = commands::read(runtime, &output, &settings, &catalog.to_string(), None, &env).await;
    output.flush();
    let elapsed = started.elapsed();
    let requests = fake.requests();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nRead from the sandbox in {:.2} s with {} HTTP requests:",
        elapsed.as_secs_f64(),
        requests.len()
    );
    for (stream, count) in output.record_counts() {
        let _ = writeln!(err, "  {stream:<24} {count:>6} records");
    }
    let [sent, retried, throttled, paused, denied] = env.limiters.totals();
    let _ = writeln!(
        err,
        "  host network policy: {sent} sent, {retried} retried, {throttled} throttled, {paused} paused, {denied} refused"
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            output.error(&f);
            let _ = writeln!(err, "The read failed: {}", f.message);
            ExitCode::FAILURE
        }
    }
}
