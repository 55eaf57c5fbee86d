//! `run-many`: normal tenants next to hostile ones in one process. Each hostile tenant ends
//! with its own distinct error; every normal tenant's output equals its solo run (apart from
//! `emitted_at`).

mod common;

use common::*;
use fake_graph::DatasetSpec;
use serde_json::{Value, json};
use std::process::Command;

#[test]
fn hostile_tenants_do_not_disturb_normal_ones() {
    let sb = Sandbox::start(DatasetSpec::small());
    let elsewhere = Sandbox::start(DatasetSpec::small());
    let config = json!({"access_token": sb.token, "api_base_url": sb.fake.base_url()});
    let first = sb.dataset().accounts()[0].ig_user_id.clone();
    let catalog = |streams: &[&str]| -> Value {
        json!({"streams": streams.iter().map(|s| json!({"stream": {"name": s, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "append"})).collect::<Vec<_>>()})
    };
    let hostile = env!("HOSTILE_GUEST_WASM");
    let with = |extra: Value| -> Value {
        let mut c = config.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let normal = vec![
        json!({"id": "all-streams", "command": "read", "config": config, "catalog": catalog(ALL_STREAMS)}),
        json!({"id": "one-account", "command": "read", "config": with(json!({"account_ids": [first]})), "catalog": catalog(&["users", "media"])}),
        json!({"id": "check", "command": "check", "config": config}),
    ];
    let hostile_jobs = vec![
        (
            json!({"id": "busy", "command": "read", "catalog": catalog(&["users"]), "config": with(json!({"mode": "busy-loop"})), "component": hostile, "deadline_secs": 1.0}),
            "execution deadline",
        ),
        (
            json!({"id": "hog", "command": "read", "catalog": catalog(&["users"]), "config": with(json!({"mode": "memory"})), "component": hostile, "memory_mb": 64.0}),
            "memory limit",
        ),
        (
            json!({"id": "sneaky", "command": "read", "catalog": catalog(&["users"]), "config": with(json!({"mode": "other-host", "target": elsewhere.fake.base_url()})), "component": hostile}),
            "HttpRequestDenied",
        ),
        (
            json!({"id": "flood", "command": "read", "catalog": catalog(&["users"]), "config": with(json!({"mode": "flood", "count": 100000, "size": 1048576})), "component": hostile, "max_output_mb": 8.0}),
            "output limit",
        ),
    ];
    let mut lines = String::new();
    // Interleave hostile and normal jobs so they run side by side.
    for (i, job) in normal.iter().enumerate() {
        lines += &format!("{job}\n");
        if let Some((h, _)) = hostile_jobs.get(i) {
            lines += &format!("{h}\n");
        }
    }
    lines += &format!("{}\n", hostile_jobs[3].0);
    let jobs = sb.dir.path().join("jobs.jsonl");
    std::fs::write(&jobs, lines).unwrap();
    let out = sb.dir.path().join("out");
    warm_cache();
    let status = Command::new(BIN)
        .args(["run-many", "--jobs", jobs.to_str().unwrap(), "--out", out.to_str().unwrap(), "--concurrency", "4"])
        .env("SOURCE_INSTAGRAM_CACHE_DIR", cache_dir())
        .env("SOURCE_INSTAGRAM_FAKE_NOW", &sb.now)
        .status()
        .unwrap();
    assert!(status.success());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let result = |id: &str| summary["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();

    let mut messages = std::collections::BTreeSet::new();
    for (job, needle) in &hostile_jobs {
        let r = result(job["id"].as_str().unwrap());
        assert_eq!(r["exit_code"], 1, "{r}");
        let message = r["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(needle), "{}: {message}", job["id"]);
        assert!(messages.insert(message), "hostile errors are distinct");
    }
    assert!(elsewhere.fake.requests().is_empty());
    let flood = std::fs::metadata(out.join("flood.jsonl")).unwrap().len();
    assert!(flood <= 9 << 20, "the flood was capped ({flood} bytes)");

    for job in &normal {
        let id = job["id"].as_str().unwrap();
        let r = result(id);
        assert_eq!(r["exit_code"], 0, "{r}");
        let tenant = std::fs::read_to_string(out.join(format!("{id}.jsonl"))).unwrap();
        let cfg = sb.file(&format!("{id}-config.json"), &job["config"]);
        let solo = if job["command"] == "check" {
            sb.run(&["check", "--config", &cfg])
        } else {
            let cat = sb.file(&format!("{id}-catalog.json"), &job["catalog"]);
            sb.run(&["read", "--config", &cfg, "--catalog", &cat])
        };
        assert_eq!(
            lines_without_emitted_at(&tenant),
            lines_without_emitted_at(&solo.stdout),
            "tenant {id} differs from its solo run"
        );
        assert!(!tenant.contains(&sb.token));
    }
    assert!(summary["instantiate_ms_median"].as_f64().unwrap() > 0.0);
}
