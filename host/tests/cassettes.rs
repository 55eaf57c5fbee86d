//! Cassettes: recordings of Meta's answers in shapes real captures show, replayed end to end
//! through the real host and component (see `tests/cassettes/README.md`).
//!
//! Each `tests/cassettes/NAME.jsonl` is replayed by the fake Graph API ([`FakeGraph::replay`]),
//! and the command its first line names (`read` or `check`) runs against it with the recorded
//! config, catalog, state and clock. What the run gives, its outcome, must equal
//! `NAME.expected.json` beside it: the exit code, every record (without `emitted_at`), the final
//! state of each stream, the last status of each stream, the TRACE ERROR (if any) and every
//! WARN and ERROR log. Every request of the run must have a recorded answer.
//! `UPDATE_CASSETTES=1` writes the expectations instead (check their diff before committing).

mod common;

use common::*;
use fake_graph::replay::Replay;
use fake_graph::{FakeGraph, FakeOptions};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

fn cassettes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cassettes")
}

/// What a run gave, in the shape of an expectation file.
fn outcome(r: &Run) -> Value {
    let records: Vec<Value> = r
        .all_records()
        .into_iter()
        .map(|m| json!({"stream": m["record"]["stream"], "data": m["record"]["data"]}))
        .collect();
    let mut statuses = Map::new();
    for t in r.of_type("TRACE") {
        if let Some(name) = t["trace"]["stream_status"]["stream_descriptor"]["name"].as_str() {
            statuses.insert(name.to_string(), t["trace"]["stream_status"]["status"].clone());
        }
    }
    let logs: Vec<Value> = r
        .of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == "WARN" || l["log"]["level"] == "ERROR")
        .map(|l| json!(format!("{}: {}", l["log"]["level"].as_str().unwrap(), l["log"]["message"].as_str().unwrap())))
        .collect();
    let error = r.error().map(|e| json!({"failure_type": e["failure_type"], "message": e["message"]}));
    let connection = r.of_type("CONNECTION_STATUS").first().map(|m| m["connectionStatus"].clone());
    json!({
        "exit_code": r.code,
        "connection_status": connection,
        "error": error,
        "stream_status": statuses,
        "warnings": logs,
        "state": r.final_state(),
        "records": records,
    })
}

/// Replay one cassette: its outcome, and the requests it had no answer for.
fn replay(path: &Path, dir: &Path) -> (Value, Vec<String>) {
    let recording = Replay::load(path).unwrap_or_else(|e| panic!("{e}"));
    let graph = FakeGraph::replay(&recording, FakeOptions::default()).unwrap();
    let write = |name: &str, v: &Value| {
        let p = dir.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.to_string_lossy().into_owned()
    };
    let config = write("config.json", &recording.config(&graph.base_url(), "cassette-token"));
    let mut args = match recording.command() {
        "check" => vec!["check".to_string(), "--config".into(), config],
        _ => vec![
            "read".to_string(),
            "--config".into(),
            config,
            "--catalog".into(),
            write("catalog.json", &recording.catalog()),
        ],
    };
    if let Some(state) = recording.state().filter(|_| recording.command() == "read") {
        args.extend(["--state".into(), write("state.json", &state)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let now = recording.now().unwrap_or_else(|| panic!("{}: no `now` in its first line", path.display()));
    let r = run(&args, Some(&now.to_rfc3339()), "cassette-token");
    (outcome(&r), graph.unmatched())
}

/// Every cassette replays to its expected outcome.
#[test]
fn cassettes_replay_to_their_expected_outcome() {
    let update = std::env::var_os("UPDATE_CASSETTES").is_some();
    let mut cassettes: Vec<PathBuf> = std::fs::read_dir(cassettes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    cassettes.sort();
    assert!(!cassettes.is_empty(), "no cassette in {}", cassettes_dir().display());
    let mut problems = Vec::new();
    for cassette in &cassettes {
        let name = cassette.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        let (got, unmatched) = replay(cassette, dir.path());
        if !unmatched.is_empty() {
            problems.push(format!("{name}: no recorded answer for {unmatched:#?}"));
            continue;
        }
        let expected_path = cassette.with_extension("expected.json");
        if update {
            std::fs::write(&expected_path, format!("{}\n", serde_json::to_string_pretty(&got).unwrap())).unwrap();
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&expected_path) else {
            problems.push(format!(
                "{name}: no {} (UPDATE_CASSETTES=1 writes it)",
                expected_path.file_name().unwrap().to_string_lossy()
            ));
            continue;
        };
        let expected: Value = serde_json::from_str(&text).unwrap();
        if got != expected {
            let field = ["exit_code", "connection_status", "error", "stream_status", "warnings", "state", "records"]
                .into_iter()
                .find(|k| got[k] != expected[k])
                .unwrap_or("?");
            problems.push(format!(
                "{name}: `{field}` differs\n  expected: {}\n  got:      {}",
                expected[field], got[field]
            ));
        }
        eprintln!("{name}: {} records", got["records"].as_array().map_or(0, Vec::len));
    }
    assert!(problems.is_empty(), "{} of {} cassettes:\n{}", problems.len(), cassettes.len(), problems.join("\n"));
}
