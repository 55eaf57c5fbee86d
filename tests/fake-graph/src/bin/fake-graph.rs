//! Runs the fake Graph API server from the command line, for manual testing.
//!
//! ```text
//! fake-graph [--dataset small|demo|bench] [--port N] [--latency-ms N]
//!            [--throttle FRACTION] [--transient FRACTION] [--seed N]
//!            [--accounts N] [--posts N] [--page-size N] [--paging-base-url URL]
//!            [--app-usage-held PERCENT] [--require-appsecret-proof]
//! fake-graph --replay FILE [--write-inputs DIR] [--port N] [--latency-ms N]
//! ```
//! `--accounts` and `--posts` resize the dataset (e.g. one account with 10,000 posts);
//! `--page-size` caps every edge's pages (small pages make paging show in a recording);
//! `--paging-base-url` writes the paging links on another origin (a misdirected or hostile link);
//! `--app-usage-held` reports `X-App-Usage` at that figure whatever is sent (the app's other users).
//! Prints the base URL, the token, the dataset's "now" and the app's id and secret (for the
//! OAuth endpoints), then serves until killed.
//! `--replay` answers from a recording (`source-instagram read --record FILE`) instead of a
//! dataset; `--write-inputs DIR` also writes the recorded read's `config.json` (pointing at this
//! server), `catalog.json` and `state.json` there. It prints the base URL, a token and the
//! "now" to run the connector at, then serves until killed.

use std::process::ExitCode;
use std::time::Duration;

use fake_graph::replay::Replay;
use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions, FaultPlan};

const USAGE: &str = "usage: fake-graph [--dataset small|demo|bench] [--port N] [--latency-ms N] [--throttle FRACTION] [--transient FRACTION] [--seed N] [--accounts N] [--posts N] [--page-size N] [--paging-base-url URL] [--app-usage-held PERCENT] [--require-appsecret-proof]\n       fake-graph --replay FILE [--write-inputs DIR] [--port N] [--latency-ms N]";

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
    let mut held = None;
    let mut seed = 0u64;
    let mut replay = None;
    let mut inputs = None;
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
            "--page-size" => options.page_size_cap = value.parse().map_err(|_| bad("not a number"))?,
            "--paging-base-url" => options.paging_base_url = Some(value),
            "--app-usage-held" => held = Some(value.parse::<f64>().map_err(|_| bad("not a percentage"))?),
            "--replay" => replay = Some(value),
            "--write-inputs" => inputs = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if let Some(path) = replay {
        return serve_replay(&path, inputs.as_deref(), options);
    }
    if let Some(fraction) = throttle {
        options.faults = options.faults.combine(FaultPlan::throttle(fraction, seed));
    }
    if let Some(fraction) = transient {
        options.faults = options.faults.combine(FaultPlan::transient(fraction, seed));
    }
    if let Some(percent) = held {
        options.faults = options.faults.combine(FaultPlan::app_usage_held(percent, 1));
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

/// `--replay FILE`: answer from a recording until killed.
fn serve_replay(path: &str, inputs: Option<&str>, options: FakeOptions) -> Result<(), String> {
    let recording = Replay::load(std::path::Path::new(path))?;
    let graph = FakeGraph::replay(&recording, options).map_err(|e| format!("cannot start: {e}"))?;
    let now = recording.now().map(|t| t.to_rfc3339()).ok_or("the recording's first line has no `now`")?;
    println!("FAKE_GRAPH_URL={}", graph.base_url());
    println!("FAKE_GRAPH_TOKEN=replay-token");
    println!("FAKE_GRAPH_NOW={now}");
    println!("replaying {} exchanges of a `{}` recorded at {now}", recording.exchanges().len(), recording.command());
    if let Some(dir) = inputs {
        let dir = std::path::Path::new(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let write = |name: &str, value: &serde_json::Value| {
            let file = dir.join(name);
            std::fs::write(&file, format!("{value:#}\n")).map_err(|e| format!("cannot write {}: {e}", file.display()))
        };
        write("config.json", &recording.config(&graph.base_url(), "replay-token"))?;
        write("catalog.json", &recording.catalog())?;
        let mut args = format!("--config {0}/config.json --catalog {0}/catalog.json", dir.display());
        if let Some(state) = recording.state() {
            write("state.json", &state)?;
            args.push_str(&format!(" --state {}/state.json", dir.display()));
        }
        let command = if recording.command() == "check" {
            format!("check --config {}/config.json", dir.display())
        } else {
            format!("read {args}")
        };
        println!("try: SOURCE_INSTAGRAM_FAKE_NOW={now} source-instagram {command}");
    }
    loop {
        std::thread::park();
    }
}
