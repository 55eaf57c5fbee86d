//! Runs the fake Graph API server from the command line, for manual testing.
//!
//! ```text
//! fake-graph [--dataset small|demo|bench] [--port N] [--latency-ms N]
//!            [--throttle FRACTION] [--transient FRACTION] [--seed N]
//!            [--accounts N] [--posts N] [--require-appsecret-proof]
//! ```
//! `--accounts` and `--posts` resize the dataset (e.g. one account with 10,000 posts).
//! Prints the base URL, the token, the dataset's "now" and the app's id and secret (for the
//! OAuth endpoints), then serves until killed.

use std::process::ExitCode;
use std::time::Duration;

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions, FaultPlan};

const USAGE: &str = "usage: fake-graph [--dataset small|demo|bench] [--port N] [--latency-ms N] [--throttle FRACTION] [--transient FRACTION] [--seed N] [--accounts N] [--posts N] [--require-appsecret-proof]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-graph: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut spec = DatasetSpec::small();
    let mut options = FakeOptions::default();
    let mut throttle = None;
    let mut transient = None;
    let mut seed = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            return Ok(());
        }
        if flag == "--require-appsecret-proof" {
            // The app's "Require App Secret": every API call needs `appsecret_proof`.
            options.tokens.require_appsecret_proof = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag}: {what}: {value}");
        match flag.as_str() {
            "--dataset" => spec = DatasetSpec::named(&value).ok_or_else(|| bad("unknown dataset"))?,
            "--port" => options.port = value.parse().map_err(|_| bad("not a port"))?,
            "--latency-ms" => options.latency = Duration::from_millis(value.parse().map_err(|_| bad("not a number"))?),
            "--throttle" => throttle = Some(value.parse::<f64>().map_err(|_| bad("not a fraction"))?),
            "--transient" => transient = Some(value.parse::<f64>().map_err(|_| bad("not a fraction"))?),
            "--seed" => seed = value.parse().map_err(|_| bad("not a number"))?,
            "--accounts" => spec.accounts = value.parse().map_err(|_| bad("not a number"))?,
            "--posts" => spec.media_per_account = value.parse().map_err(|_| bad("not a number"))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if let Some(fraction) = throttle {
        options.faults = options.faults.combine(FaultPlan::throttle(fraction, seed));
    }
    if let Some(fraction) = transient {
        options.faults = options.faults.combine(FaultPlan::transient(fraction, seed));
    }
    let dataset = Dataset::generate(&spec);
    let counts = dataset.counts();
    let graph = FakeGraph::start(dataset, options.clone()).map_err(|e| format!("cannot start: {e}"))?;
    println!("FAKE_GRAPH_URL={}", graph.base_url());
    println!("FAKE_GRAPH_TOKEN={}", graph.token());
    println!("FAKE_GRAPH_NOW={}", graph.dataset().now().to_rfc3339());
    println!("FAKE_GRAPH_APP_ID={}", options.tokens.app_id);
    println!("FAKE_GRAPH_APP_SECRET={}", options.tokens.app_secret);
    println!(
        "dataset: {} pages, {} accounts, {} media, {} carousel children, {} stories, {} insight days",
        counts.pages, counts.accounts, counts.media, counts.carousel_children, counts.stories, counts.insight_days
    );
    println!(
        "try: curl -H 'Authorization: Bearer {}' '{}/v24.0/me/accounts?fields=id,instagram_business_account'",
        graph.token(),
        graph.base_url()
    );
    loop {
        std::thread::park();
    }
}
