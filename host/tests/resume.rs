//! Checkpoints, end to end: a read killed (SIGKILL) at any point and resumed from the last
//! STATE it printed loses no record.

mod common;

use common::*;
use fake_graph::{DatasetSpec, FakeOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn key(stream: &str, data: &Value) -> String {
    let parts: Vec<String> = primary_key(stream).iter().map(|f| data[*f].to_string()).collect();
    format!("{stream}:{}", parts.join("|"))
}

/// Records a destination would have committed: those before the last STATE of their stream.
fn committed(messages: &[Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut pending: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for m in messages {
        match m["type"].as_str() {
            Some("RECORD") => {
                let s = m["record"]["stream"].as_str().unwrap().to_string();
                let k = key(&s, &m["record"]["data"]);
                pending.entry(s).or_default().push(k);
            }
            Some("STATE") => {
                let s = m["state"]["stream"]["stream_descriptor"]["name"].as_str().unwrap();
                out.extend(pending.remove(s).unwrap_or_default());
            }
            _ => {}
        }
    }
    out
}

fn last_states(messages: &[Value]) -> Value {
    let mut last = std::collections::BTreeMap::new();
    for m in messages.iter().filter(|m| m["type"] == "STATE") {
        last.insert(
            m["state"]["stream"]["stream_descriptor"]["name"].as_str().unwrap().to_string(),
            m["state"].clone(),
        );
    }
    Value::Array(last.into_values().collect())
}

/// Kill the read after `lines` messages; return the messages read so far.
fn read_and_kill(sb: &Sandbox, cfg: &str, cat: &str, lines: usize) -> Vec<Value> {
    warm_cache();
    let mut child = Command::new(BIN)
        .args(["read", "--config", cfg, "--catalog", cat])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_FAKE_NOW", &sb.now)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        out.push(serde_json::from_str(&line.unwrap()).unwrap());
        if out.len() == lines {
            child.kill().unwrap();
            break;
        }
    }
    let _ = child.wait();
    out
}

/// At several kill points, committed records of the killed run plus the resumed run cover
/// every record of an uninterrupted read (`media_comments` included: it rides on the media
/// walk and moves its cursor once an account's walks are done).
#[test]
fn kill_and_resume_loses_nothing() {
    let sb = Sandbox::start_with(
        DatasetSpec::small(),
        FakeOptions { latency: Duration::from_millis(3), ..FakeOptions::default() },
    );
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&[INCREMENTAL, &["media_comments:incremental"]].concat());
    let full = sb.read(&cfg, &cat, None);
    assert_eq!(full.code, 0);
    let everything: BTreeSet<String> =
        full.all_records().iter().map(|m| key(m["record"]["stream"].as_str().unwrap(), &m["record"]["data"])).collect();
    let total = full.messages.len();
    for lines in [5, 20, total / 4, total / 2, total * 3 / 4, total - 3] {
        let killed = read_and_kill(&sb, &cfg, &cat, lines);
        let mut have = committed(&killed);
        let resumed = sb.read(&cfg, &cat, Some(&last_states(&killed)));
        assert_eq!(resumed.code, 0, "resume after {lines} lines");
        have.extend(committed(&resumed.messages));
        let missing: Vec<&String> = everything.difference(&have).collect();
        assert!(missing.is_empty(), "killed after {lines} lines, lost {missing:?}");
    }
}
