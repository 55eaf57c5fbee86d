//! Shared harness for end-to-end tests: runs the real `source-instagram` binary (with the
//! real embedded component) against the fake Graph API, and checks every line it prints.
#![allow(dead_code)]

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

pub mod checks;
pub mod front;
pub mod hostile;
pub mod reverse_proxy;

pub const BIN: &str = env!("CARGO_BIN_EXE_source-instagram");

/// Where the tests keep compiled components (shared, so only the first run compiles).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/component-cache")
}

static WARM: Once = Once::new();

/// Compile the component once before tests run in parallel.
pub fn warm_cache() {
    WARM.call_once(|| {
        let out = Command::new(BIN).arg("spec").env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir()).output().unwrap();
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
    });
}

/// One run of the binary: its parsed messages, exit code and stderr.
#[derive(Debug)]
pub struct Run {
    pub messages: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["type"] == t).collect()
    }
    pub fn records(&self, stream: &str) -> Vec<&Value> {
        self.messages
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == stream)
            .map(|m| &m["record"]["data"])
            .collect()
    }
    pub fn all_records(&self) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["type"] == "RECORD").collect()
    }
    /// The messages of every LOG line.
    pub fn logs(&self) -> Vec<&str> {
        self.of_type("LOG").into_iter().filter_map(|l| l["log"]["message"].as_str()).collect()
    }
    /// The TRACE ERROR, if any.
    pub fn error(&self) -> Option<&Value> {
        self.messages
            .iter()
            .find(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
            .map(|m| &m["trace"]["error"])
    }
    pub fn connection_status(&self) -> &Value {
        &self.of_type("CONNECTION_STATUS").first().expect("a CONNECTION_STATUS message")["connectionStatus"]
    }
    /// The last STATE of each stream, as a state file's contents.
    pub fn final_state(&self) -> Value {
        let mut last = std::collections::BTreeMap::new();
        for m in self.of_type("STATE") {
            let name = m["state"]["stream"]["stream_descriptor"]["name"].as_str().unwrap().to_string();
            last.insert(name, m["state"].clone());
        }
        Value::Array(last.into_values().collect())
    }
}

/// Check that `m` is a well-formed AirbyteMessage of protocol v0.
pub fn assert_airbyte_message(m: &Value) {
    let t = m["type"].as_str().unwrap_or_else(|| panic!("message without type: {m}"));
    let obj = m.as_object().unwrap();
    match t {
        "RECORD" => {
            let r = &m["record"];
            assert!(r["stream"].is_string() && r["data"].is_object() && r["emitted_at"].is_i64(), "bad RECORD {m}");
        }
        "STATE" => {
            let s = &m["state"];
            assert_eq!(s["type"], "STREAM", "{m}");
            assert!(s["stream"]["stream_descriptor"]["name"].is_string(), "{m}");
            assert!(s["stream"]["stream_state"].is_object(), "{m}");
            assert!(s["sourceStats"]["recordCount"].is_number(), "{m}");
        }
        "LOG" => {
            let level = m["log"]["level"].as_str().unwrap();
            assert!(["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level), "{m}");
            assert!(m["log"]["message"].is_string(), "{m}");
        }
        "SPEC" => assert!(m["spec"]["connectionSpecification"].is_object(), "{m}"),
        "CONTROL" => {
            let c = &m["control"];
            assert_eq!(c["type"], "CONNECTOR_CONFIG", "{m}");
            assert!(c["emitted_at"].is_number(), "{m}");
            assert!(c["connectorConfig"]["config"].is_object(), "{m}");
        }
        "CATALOG" => assert!(m["catalog"]["streams"].is_array(), "{m}"),
        "CONNECTION_STATUS" => {
            let s = m["connectionStatus"]["status"].as_str().unwrap();
            assert!(s == "SUCCEEDED" || s == "FAILED", "{m}");
        }
        "TRACE" => {
            let tr = &m["trace"];
            assert!(tr["emitted_at"].is_number(), "{m}");
            match tr["type"].as_str().unwrap() {
                "ERROR" => {
                    assert!(tr["error"]["message"].is_string(), "{m}");
                    let ft = tr["error"]["failure_type"].as_str().unwrap();
                    assert!(["config_error", "system_error", "transient_error"].contains(&ft), "{m}");
                }
                "STREAM_STATUS" => {
                    let s = tr["stream_status"]["status"].as_str().unwrap();
                    assert!(["STARTED", "RUNNING", "COMPLETE", "INCOMPLETE"].contains(&s), "{m}");
                    assert!(tr["stream_status"]["stream_descriptor"]["name"].is_string(), "{m}");
                }
                "ESTIMATE" => assert!(tr["estimate"]["name"].is_string(), "{m}"),
                other => panic!("unexpected trace type {other}: {m}"),
            }
        }
        other => panic!("unexpected message type {other}: {m}"),
    }
    assert!(obj.len() == 2, "a message has exactly `type` and its body: {m}");
}

/// Run the binary with `args`; every stdout line must be an AirbyteMessage and `secret`
/// must appear nowhere.
pub fn run(args: &[&str], now: Option<&str>, secret: &str) -> Run {
    warm_cache();
    run_env(args, now, secret, &[("SOURCE_INSTAGRAM_TIME_SCALE", "60000")])
}

/// `run` with extra environment variables.
pub fn run_env(args: &[&str], now: Option<&str>, secret: &str, env: &[(&str, &str)]) -> Run {
    warm_cache();
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(now) = now {
        cmd.env("SOURCE_INSTAGRAM_FAKE_NOW", now);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stdout.contains(secret), "the access token leaked to stdout");
    assert!(!stderr.contains(secret), "the access token leaked to stderr");
    save_transcript(args, &stdout);
    let messages: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect();
    messages.iter().for_each(assert_airbyte_message);
    Run { messages, stdout, stderr, code: out.status.code().unwrap_or(-1) }
}

/// With `SOURCE_INSTAGRAM_TRANSCRIPTS=DIR`, keep every run's stdout there, so the acceptance
/// suite can validate each message against Airbyte's protocol models.
pub fn save_transcript(args: &[&str], stdout: &str) {
    let Some(dir) = std::env::var_os("SOURCE_INSTAGRAM_TRANSCRIPTS") else { return };
    if stdout.is_empty() {
        return;
    }
    let _ = std::fs::create_dir_all(&dir);
    let test = std::thread::current().name().unwrap_or("run").replace("::", "-");
    let name = format!("{}-{}-{}-{}.jsonl", test, args.first().unwrap_or(&"x"), std::process::id(), fastrand_name());
    let _ = std::fs::write(Path::new(&dir).join(name), stdout);
}

/// A message without its `emitted_at` (the only field that differs between identical runs).
pub fn without_emitted_at(mut m: Value) -> Value {
    for k in ["record", "trace"] {
        if let Some(o) = m.get_mut(k).and_then(Value::as_object_mut) {
            o.remove("emitted_at");
        }
    }
    m
}

/// Every stdout line of a run, without `emitted_at`.
pub fn lines_without_emitted_at(text: &str) -> Vec<Value> {
    text.lines().map(|l| without_emitted_at(serde_json::from_str(l).unwrap())).collect()
}

/// A running fake Graph API plus files for one test.
pub struct Sandbox {
    pub fake: FakeGraph,
    pub dir: tempfile::TempDir,
    pub now: String,
    pub token: String,
}

impl Sandbox {
    /// Every rate-limit-counted call the fake served so far, as `path?query`: each GET, and
    /// each operation of a batch (media pages after the first travel as batch operations).
    pub fn calls(&self) -> Vec<String> {
        let mut out = Vec::new();
        for q in self.fake.requests() {
            if q.is_batch() {
                out.extend(q.batch_relative_urls().into_iter().map(|u| format!("/{}", u.trim_start_matches('/'))));
            } else {
                let query: Vec<String> = q.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!("{}?{}", q.path, query.join("&")));
            }
        }
        out
    }

    /// How many calls read a page of the media edge.
    pub fn media_pages(&self) -> usize {
        self.calls().iter().filter(|c| c.split('?').next().is_some_and(|p| p.ends_with("/media"))).count()
    }

    pub fn start(spec: DatasetSpec) -> Sandbox {
        Sandbox::start_with(spec, FakeOptions::default())
    }

    pub fn start_with(spec: DatasetSpec, options: FakeOptions) -> Sandbox {
        let data = Dataset::generate(&spec);
        let now = data.now().to_rfc3339();
        let token = data.token().to_string();
        Sandbox { fake: FakeGraph::start(data, options).unwrap(), dir: tempfile::tempdir().unwrap(), now, token }
    }

    pub fn dataset(&self) -> &Dataset {
        self.fake.dataset()
    }

    /// Write `value` to a file in the sandbox dir and return its path.
    pub fn file(&self, name: &str, value: &Value) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, value.to_string()).unwrap();
        p.to_string_lossy().into_owned()
    }

    /// A config for this sandbox with `extra` fields merged in.
    pub fn config(&self, extra: Value) -> String {
        let mut c = json!({"access_token": self.token, "api_base_url": self.fake.base_url()});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        self.file(&format!("config-{}.json", fastrand_name()), &c)
    }

    /// A configured catalog of `streams` (`name` or `name:incremental`).
    pub fn catalog(&self, streams: &[&str]) -> String {
        let entries: Vec<Value> = streams
            .iter()
            .map(|s| {
                let (name, mode) = s.split_once(':').unwrap_or((s, "full_refresh"));
                json!({"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                       "sync_mode": mode, "destination_sync_mode": "append"})
            })
            .collect();
        self.file(&format!("catalog-{}.json", fastrand_name()), &json!({"streams": entries}))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run(args, Some(&self.now), &self.token)
    }

    pub fn read(&self, config: &str, catalog: &str, state: Option<&Value>) -> Run {
        match state {
            Some(s) => {
                let st = self.file(&format!("state-{}.json", fastrand_name()), s);
                self.run(&["read", "--config", config, "--catalog", catalog, "--state", &st])
            }
            None => self.run(&["read", "--config", config, "--catalog", catalog]),
        }
    }
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

pub const ALL_STREAMS: &[&str] = &[
    "users",
    "media",
    "media_insights",
    "stories",
    "story_insights",
    "user_insights",
    "user_insights_breakdowns",
    "user_lifetime_insights",
    "media_comments",
    "tagged_media",
];

/// The streams of public content (business discovery, hashtag search); they read only what
/// `competitor_usernames` and `hashtags` name.
pub const PUBLIC_STREAMS: &[&str] = &["competitor_profiles", "competitor_media", "hashtag_media"];

/// Config lists for [`PUBLIC_STREAMS`] against the fake's public world (one unknown of each).
pub fn public_lists() -> Value {
    json!({
        "competitor_usernames": ["rival_roasters", "@Summit_Gear", "quiet_studio", "nobody_here"],
        "hashtags": ["#sunset", "coffee", "nosuchtag"],
    })
}

/// Every stream, incremental where it has a cursor.
pub const INCREMENTAL: &[&str] = &[
    "users",
    "media:incremental",
    "media_insights:incremental",
    "stories",
    "story_insights",
    "user_insights:incremental",
    "user_insights_breakdowns:incremental",
    "user_lifetime_insights",
];

/// The JSON schema of each stream, from `schemas/`.
pub fn schema(stream: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas").join(format!("{stream}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Each stream's primary key fields.
pub fn primary_key(stream: &str) -> Vec<&'static str> {
    match stream {
        "user_insights" => vec!["business_account_id", "date"],
        "user_lifetime_insights" => vec!["business_account_id", "breakdown", "metric", "timeframe", "date"],
        "user_insights_breakdowns" => vec!["business_account_id", "date", "metric", "breakdown", "dimension_value"],
        "competitor_profiles" => vec!["business_account_id", "username", "date"],
        "hashtag_media" => vec!["hashtag_id", "edge", "id"],
        _ => vec!["id"],
    }
}
