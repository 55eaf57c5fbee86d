//! Hostile input, end to end: configs, catalogs and states of any JSON shape never make the
//! host print a secret; run-many validates its jobs file line by line; config mistakes are
//! named up front in plain words.

mod common;

use common::hostile::{Behaviour, HostileServer};
use common::*;
use fake_graph::DatasetSpec;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::process::Command;

const SECRET: &str = "EAAB-known-secret-4242-in-any-shape";

/// Any JSON value, a few levels deep, sometimes holding the secret as a string.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z0-9 :/._-]{0,12}".prop_map(Value::String),
        Just(json!(SECRET)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("access_token".to_string()),
                    Just("client_secret".to_string()),
                    Just("streams".to_string()),
                    Just("stream".to_string()),
                    Just("name".to_string()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A config that holds the secret where a user could put it: under a secret field (as any
/// shape of value), inside an array of configs, or as the whole document.
fn config_with_secret() -> impl Strategy<Value = Value> {
    let field = prop_oneof![Just("access_token"), Just("client_secret"), Just("client_id")];
    let secret_value = prop_oneof![
        Just(json!(SECRET)),
        Just(json!(format!("  {SECRET}  "))),
        Just(json!([SECRET])),
        Just(json!({"value": SECRET})),
    ];
    let others = prop::collection::btree_map(
        prop_oneof![
            Just("num_workers"),
            Just("start_date"),
            Just("api_base_url"),
            Just("login"),
            Just("account_ids"),
            Just("usage_slowdown_percent")
        ],
        any_json(),
        0..3,
    );
    (field, secret_value, others, 0..4u8).prop_map(|(field, secret, others, wrap)| {
        let mut obj = serde_json::Map::new();
        for (k, v) in others {
            obj.insert(k.to_string(), v);
        }
        obj.insert(field.to_string(), secret);
        if field != "access_token" {
            obj.insert("access_token".into(), json!("other-token-value"));
        }
        // Never reach out: an unused local port.
        obj.entry("api_base_url").or_insert(json!("http://127.0.0.1:9"));
        match wrap {
            0 => Value::Array(vec![Value::Object(obj)]),
            1 => json!(SECRET),
            _ => Value::Object(obj),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the shapes of config, catalog and state, no output of check, discover, read or
    /// run-many's summary contains the secret (`run_env` asserts it for stdout and stderr).
    #[test]
    fn secrets_never_appear(config in config_with_secret(), catalog in any_json(), state in any_json()) {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, v: &Value| {
            let p = dir.path().join(name);
            std::fs::write(&p, v.to_string()).unwrap();
            p.to_string_lossy().into_owned()
        };
        let (c, k, s) = (write("config.json", &config), write("catalog.json", &catalog), write("state.json", &state));
        let env = [("SOURCE_INSTAGRAM_TIME_SCALE", "60000"), ("SOURCE_INSTAGRAM_REQUEST_TIMEOUT_SECS", "1")];
        run_env(&["check", "--config", &c], None, SECRET, &env);
        run_env(&["discover", "--config", &c], None, SECRET, &env);
        run_env(&["read", "--config", &c, "--catalog", &k, "--state", &s], None, SECRET, &env);
        let jobs = dir.path().join("jobs.jsonl");
        std::fs::write(&jobs, format!(
            "{}\n{}\n",
            json!({"id": "c", "command": "check", "config": config}),
            json!({"id": "r", "command": "read", "config": config, "catalog": catalog, "state": state}),
        )).unwrap();
        let out = dir.path().join("out");
        let o = Command::new(BIN)
            .args(["run-many", "--jobs", jobs.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
            .envs(env)
            .output()
            .unwrap();
        prop_assert!(!String::from_utf8_lossy(&o.stderr).contains(SECRET));
        for entry in std::fs::read_dir(&out).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            prop_assert!(!text.contains(SECRET), "{}", text);
        }
    }
}

/// The reported cases: a config that is an array or a bare string, and a secret of the
/// wrong type, are rejected without echoing the value.
#[test]
fn reported_shapes_do_not_leak() {
    let dir = tempfile::tempdir().unwrap();
    for (i, config) in [
        json!([{"access_token": SECRET}]),
        json!(SECRET),
        json!({"access_token": "a-token-value", "client_secret": [SECRET]}),
    ]
    .iter()
    .enumerate()
    {
        let p = dir.path().join(format!("c{i}.json"));
        std::fs::write(&p, config.to_string()).unwrap();
        let r = run(&["check", "--config", p.to_str().unwrap()], None, SECRET);
        let status = r.connection_status();
        assert_eq!(status["status"], "FAILED");
        assert!(status["message"].as_str().unwrap().starts_with("Invalid configuration"), "{status}");
    }
}

fn run_many(jobs: &[Value], dir: &tempfile::TempDir) -> (std::process::Output, Value) {
    let file = dir.path().join("jobs.jsonl");
    let mut text: String = jobs.iter().map(|j| format!("{j}\n")).collect();
    text += "this line is not JSON\n";
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(BIN)
        .args(["run-many", "--jobs", file.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_TIME_SCALE", "60000")
        .output()
        .unwrap();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (o, summary)
}

/// Colliding ids get distinct files; duplicate ids, a read without a catalog, limits of 0 or
/// below and a line that is not JSON are each reported and not run, while good jobs run; a
/// failed check is a failure in the summary; a memory cap too small to start says so.
#[test]
fn run_many_validates_jobs_one_by_one() {
    warm_cache();
    let sb = Sandbox::start(DatasetSpec::small());
    let dir = tempfile::tempdir().unwrap();
    let good = json!({"access_token": sb.token, "api_base_url": sb.fake.base_url()});
    let bad_token = json!({"access_token": "not-the-right-token", "api_base_url": sb.fake.base_url()});
    let check = |id: &str, config: &Value| json!({"id": id, "command": "check", "config": config});
    let mut jobs = vec![check("a/b", &good), check("a_b", &good), check("a b", &good), check("a_b", &good)];
    jobs.push(json!({"id": "no-catalog", "command": "read", "config": good}));
    jobs.push(json!({"id": "zero-memory", "command": "check", "config": good, "memory_mb": 0}));
    jobs.push(json!({"id": "negative-deadline", "command": "check", "config": good, "deadline_secs": -1}));
    jobs.push(check("wrong-token", &bad_token));
    jobs.push(json!({"id": "tiny", "command": "check", "config": good, "memory_mb": 1}));
    let (o, summary) = run_many(&jobs, &dir);
    assert_eq!(o.status.code(), Some(2), "invalid lines make run-many exit 2");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let results = summary["results"].as_array().unwrap();
    let by_line =
        |line: u64| results.iter().find(|r| r["line"] == line).unwrap_or_else(|| panic!("line {line}: {summary}"));
    // Three distinct ids, three distinct files, all succeeded.
    let files: std::collections::BTreeSet<&str> = (1..=3).map(|l| by_line(l)["output"].as_str().unwrap()).collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for l in 1..=3 {
        assert_eq!(by_line(l)["outcome"], "succeeded", "{}", by_line(l));
        let text =
            std::fs::read_to_string(dir.path().join("out").join(by_line(l)["output"].as_str().unwrap())).unwrap();
        assert_eq!(text.lines().filter(|l| l.contains("CONNECTION_STATUS")).count(), 1, "one check per file");
    }
    for (line, words) in [
        (4, "already used by line 2"),
        (5, "needs a `catalog`"),
        (6, "`memory_mb` must be a number above 0"),
        (7, "`deadline_secs` must be a number above 0"),
        (10, "not a job"),
    ] {
        let r = by_line(line);
        assert_eq!(r["outcome"], "invalid_job", "{r}");
        assert!(r["message"].as_str().unwrap().contains(words), "{r}");
        assert!(stderr.contains(&format!(":{line}: job")), "one stderr line per bad job: {stderr}");
    }
    let wrong = by_line(8);
    assert_eq!(wrong["outcome"], "failed", "a FAILED check is a failure: {wrong}");
    assert_eq!(wrong["failure_type"], "config_error");
    assert!(wrong["message"].as_str().unwrap().contains("access token was rejected"), "{wrong}");
    let tiny = by_line(9);
    assert_eq!(tiny["outcome"], "failed");
    assert!(tiny["message"].as_str().unwrap().contains("memory limit of 1 MiB"), "{tiny}");
    assert_eq!(summary["invalid"], 5);
}

/// `--concurrency 0` is refused by the command line, not silently run as 1.
#[test]
fn run_many_refuses_zero_concurrency() {
    let o = Command::new(BIN).args(["run-many", "--jobs", "x", "--out", "y", "--concurrency", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("concurrency"));
}

/// Credentials in `api_base_url` are a config error at once, without echoing them.
#[test]
fn credentials_in_the_base_url_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(&p, json!({"access_token": SECRET, "api_base_url": "http://user:pa55word@127.0.0.1:9"}).to_string())
        .unwrap();
    let started = std::time::Instant::now();
    let r = run(&["check", "--config", p.to_str().unwrap()], None, SECRET);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let status = r.connection_status();
    assert_eq!(status["status"], "FAILED");
    let m = status["message"].as_str().unwrap();
    assert!(m.contains("`api_base_url` must not contain a user name or password") && !m.contains("pa55word"), "{m}");
}

/// A refused connection is told in plain words; absurd usage figures are clamped in messages.
#[test]
fn transport_and_usage_messages_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let p = dir.path().join("c.json");
    std::fs::write(&p, json!({"access_token": SECRET, "api_base_url": format!("http://127.0.0.1:{port}")}).to_string())
        .unwrap();
    let r = run(&["check", "--config", p.to_str().unwrap()], None, SECRET);
    let m = r.error().expect("a TRACE ERROR")["message"].as_str().unwrap().to_string();
    assert!(m.contains("was refused"), "{m}");
    assert!(!m.contains("ErrorCode") && !m.contains("Some("), "{m}");

    let huge = format!(r#"{{"call_count":{:e},"total_time":1}}"#, f64::MAX);
    let server = HostileServer::start(Behaviour::Canned {
        status: 200,
        headers: vec![("x-app-usage".into(), huge)],
        body: json!({"data": [{"id": "1", "instagram_business_account": {"id": "17841400000000001"}}],
                     "paging": {"next": "{base}/v25.0/me/accounts?after=again"}})
        .to_string(),
    });
    std::fs::write(&p, json!({"access_token": SECRET, "api_base_url": server.base_url()}).to_string()).unwrap();
    let r = run(&["check", "--config", p.to_str().unwrap()], None, SECRET);
    let logs = r.logs();
    assert!(logs.iter().all(|l| l.len() < 400), "{logs:#?}");
    assert!(logs.iter().any(|l| l.contains("1000%")), "{logs:#?}");
}
