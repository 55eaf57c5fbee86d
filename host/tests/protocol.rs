//! The Airbyte command contract, end to end: the real binary, the real component, the fake
//! Graph API. Every stdout line of every run is checked to be an AirbyteMessage and to hold
//! no access token (see `common::run`).

mod common;

use common::*;
use fake_graph::DatasetSpec;
use serde_json::{Value, json};

/// `spec` prints one SPEC whose token field is a secret, and needs no config or network.
#[test]
fn spec_is_one_message_with_a_secret_token() {
    let r = run(&["spec"], None, "no-secret-here");
    assert_eq!(r.code, 0);
    assert_eq!(r.messages.len(), 1);
    let spec = &r.messages[0]["spec"]["connectionSpecification"];
    assert_eq!(spec["properties"]["access_token"]["airbyte_secret"], true);
    assert_eq!(spec["required"], json!(["access_token"]));
}

/// `discover` gives each of the seven streams its schema, sync modes, keys and cursor.
#[test]
fn discover_describes_every_stream() {
    let sb = Sandbox::start(DatasetSpec::small());
    let r = sb.run(&["discover", "--config", &sb.config(json!({}))]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let streams = r.of_type("CATALOG")[0]["catalog"]["streams"].as_array().unwrap().clone();
    let names: Vec<&str> = streams.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let mut expected = [ALL_STREAMS, PUBLIC_STREAMS].concat();
    expected.sort();
    assert_eq!(sorted, expected);
    let by_name = |n: &str| streams.iter().find(|s| s["name"] == n).unwrap().clone();
    for s in &streams {
        assert_eq!(s["json_schema"], schema(s["name"].as_str().unwrap()), "{} schema", s["name"]);
        assert!(!s["source_defined_primary_key"].as_array().unwrap().is_empty(), "{} has a primary key", s["name"]);
    }
    assert_eq!(by_name("user_insights")["source_defined_primary_key"], json!([["business_account_id"], ["date"]]));
    assert_eq!(by_name("user_insights")["default_cursor_field"], json!(["date"]));
    assert_eq!(by_name("user_insights")["supported_sync_modes"], json!(["full_refresh", "incremental"]));
    assert_eq!(by_name("media")["default_cursor_field"], json!(["timestamp"]));
    assert_eq!(by_name("story_insights")["source_defined_primary_key"], json!([["id"]]));
    assert_eq!(by_name("users")["supported_sync_modes"], json!(["full_refresh"]));
    assert_eq!(
        by_name("user_lifetime_insights")["source_defined_primary_key"],
        json!([["business_account_id"], ["breakdown"], ["metric"], ["timeframe"], ["date"]])
    );
    assert_eq!(
        by_name("user_insights_breakdowns")["source_defined_primary_key"],
        json!([["business_account_id"], ["date"], ["metric"], ["breakdown"], ["dimension_value"]])
    );
    assert_eq!(by_name("user_insights_breakdowns")["default_cursor_field"], json!(["date"]));
    assert_eq!(streams.len(), 13);
}

/// `check` succeeds with a good token and fails (exit 0, FAILED) with a bad one, naming the
/// token problem without printing the token.
#[test]
fn check_succeeds_and_fails_cleanly() {
    let sb = Sandbox::start(DatasetSpec::small());
    let ok = sb.run(&["check", "--config", &sb.config(json!({}))]);
    assert_eq!(ok.code, 0);
    assert_eq!(ok.connection_status()["status"], "SUCCEEDED");

    let bad_token = "wrong-token-4f9c2a";
    let cfg = sb.config(json!({"access_token": bad_token}));
    let bad = run(&["check", "--config", &cfg], Some(&sb.now), bad_token);
    assert_eq!(bad.code, 0);
    let status = bad.connection_status();
    assert_eq!(status["status"], "FAILED");
    let msg = status["message"].as_str().unwrap();
    assert!(msg.contains("access token") && msg.contains("190"), "{msg}");

    let missing = sb.run(&["check", "--config", "/nonexistent/config.json"]);
    assert_eq!(missing.code, 0);
    assert_eq!(missing.connection_status()["status"], "FAILED");
    assert!(missing.connection_status()["message"].as_str().unwrap().contains("/nonexistent/config.json"));

    let no_token = sb.run(&["check", "--config", &sb.file("nt.json", &json!({"api_base_url": sb.fake.base_url()}))]);
    assert_eq!(no_token.connection_status()["status"], "FAILED");
    assert!(no_token.connection_status()["message"].as_str().unwrap().contains("access_token"));
}

/// A read with a rejected token ends with a config_error TRACE that names the token
/// problem, a non-zero exit, and no token anywhere.
#[test]
fn read_with_bad_token_is_a_config_error() {
    let sb = Sandbox::start(DatasetSpec::small());
    let bad_token = "expired-or-wrong-77a1";
    let cfg = sb.config(json!({"access_token": bad_token}));
    let r = run(&["read", "--config", &cfg, "--catalog", &sb.catalog(&["users"])], Some(&sb.now), bad_token);
    assert_ne!(r.code, 0);
    let e = r.error().expect("a TRACE ERROR");
    assert_eq!(e["failure_type"], "config_error");
    assert!(e["message"].as_str().unwrap().contains("access token"), "{e}");
    assert!(r.all_records().is_empty());
}

/// `users` yields exactly one record per business account; pages without one are skipped.
#[test]
fn users_one_record_per_business_account() {
    let sb = Sandbox::start(DatasetSpec::small());
    let pages = sb.dataset().pages().len();
    let accounts = sb.dataset().accounts().to_vec();
    assert!(pages > accounts.len(), "the dataset has a page without an Instagram account");
    let r = sb.read(&sb.config(json!({})), &sb.catalog(&["users"]), None);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let users = r.records("users");
    assert_eq!(users.len(), accounts.len());
    for a in &accounts {
        let u = users.iter().find(|u| u["id"] == a.ig_user_id.as_str()).expect("a record per account");
        assert_eq!(u["page_id"], a.page_id.as_str());
        assert_eq!(u["business_account_id"], a.ig_user_id.as_str());
        assert_eq!(u["username"], a.username.as_str());
        assert!(!u["profile_picture_url"].as_str().unwrap().contains("ccb="), "volatile ccb removed");
    }
    // The account list alone: it brings every user node (field expansion).
    let reqs = sb.fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert!(reqs[0].query.iter().any(|(k, v)| k == "fields" && v.contains("followers_count")), "{reqs:#?}");
}

/// `account_ids` restricts the read; an id the token cannot see is a config error naming it.
#[test]
fn account_ids_select_accounts() {
    let sb = Sandbox::start(DatasetSpec::small());
    let first = sb.dataset().accounts()[0].ig_user_id.clone();
    let r = sb.read(&sb.config(json!({"account_ids": [first]})), &sb.catalog(&["users"]), None);
    assert_eq!(r.records("users").len(), 1);
    let r = sb.read(&sb.config(json!({"account_ids": ["99999"]})), &sb.catalog(&["users"]), None);
    let e = r.error().unwrap();
    assert_eq!(e["failure_type"], "config_error");
    assert!(e["message"].as_str().unwrap().contains("99999"));
}

/// Bad config, catalog and state inputs are config errors with a message naming the problem.
#[test]
fn bad_inputs_are_config_errors() {
    let sb = Sandbox::start(DatasetSpec::small());
    let good_cfg = sb.config(json!({}));
    let good_cat = sb.catalog(&["users"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![sb.config(json!({"start_date": "yesterday"})), good_cat.clone()], "start_date"),
        (vec![sb.config(json!({"start_date": "2099-01-01T00:00:00Z"})), good_cat.clone()], "future"),
        (vec![sb.config(json!({"api_version": "latest"})), good_cat.clone()], "api_version"),
        (vec![good_cfg.clone(), sb.catalog(&["Api"])], "Api"),
        (vec![good_cfg.clone(), sb.catalog(&["users:sometimes"])], "sync_mode"),
        (vec![good_cfg.clone(), sb.file("cat.json", &json!({"nope": 1}))], "streams"),
        (vec![good_cfg.clone(), "/nonexistent/catalog.json".into()], "catalog"),
    ];
    for (files, needle) in cases {
        let r = sb.run(&["read", "--config", &files[0], "--catalog", &files[1]]);
        assert_ne!(r.code, 0, "{needle}");
        let e = r.error().unwrap_or_else(|| panic!("{needle}: no error in {}", r.stdout));
        assert_eq!(e["failure_type"], "config_error", "{needle}: {e}");
        assert!(e["message"].as_str().unwrap().contains(needle), "{needle}: {e}");
    }
    let bad_states: Vec<(Value, &str)> = vec![
        (json!("just a string"), "state"),
        (
            json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "user_insights"}, "stream_state": {"states": [{"cursor": {"date": "soon"}}]}}}]),
            "user_insights",
        ),
        (json!([{"type": "GLOBAL", "global": {}}]), "GLOBAL"),
    ];
    let cat = sb.catalog(&["user_insights:incremental"]);
    for (state, needle) in bad_states {
        let r = sb.read(&good_cfg, &cat, Some(&state));
        assert_ne!(r.code, 0);
        let e = r.error().unwrap();
        assert_eq!(e["failure_type"], "config_error", "{e}");
        assert!(e["message"].as_str().unwrap().contains(needle), "{needle}: {e}");
        assert!(r.all_records().is_empty(), "nothing is read on a bad state");
    }
    // An empty state array is valid.
    let r = sb.read(&good_cfg, &good_cat, Some(&json!([])));
    assert_eq!(r.code, 0);
    // Incremental on a stream without a cursor reads it in full, as Airbyte's CDK does (PyAirbyte
    // asks every stream for incremental).
    let r = sb.read(&good_cfg, &sb.catalog(&["users:incremental"]), None);
    assert_eq!(r.code, 0);
    assert_eq!(r.records("users").len(), sb.dataset().accounts().len());
}

/// Answers that are not what Meta documents are retried when they may be transient, and
/// then fail with the right failure type, a clear message and what was received (never the
/// token, even when the API echoes it).
#[test]
fn bad_api_responses_fail_clearly() {
    use fake_graph::{FakeOptions, FaultPlan};
    let spec = DatasetSpec::small();
    let ig = fake_graph::Dataset::generate(&spec).accounts()[0].ig_user_id.clone();
    let token = spec.token.clone();
    let perm = r#"{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10,"fbtrace_id":"x"}}"#;
    let echo = format!(
        r#"{{"error":{{"message":"Invalid OAuth access token {token}","type":"OAuthException","code":190,"fbtrace_id":"x"}}}}"#
    );
    // (path, status, body, catalog, failure type, message needle, internal needle)
    let cases: Vec<(String, u16, String, &str, &str, &str, &str)> = vec![
        (
            "/me/accounts".into(),
            200,
            "<html>oops</html>".into(),
            "users",
            "system_error",
            "not what Meta documents",
            "<html>oops",
        ),
        (
            "/me/accounts".into(),
            200,
            r#"{"data":"nope"}"#.into(),
            "users",
            "system_error",
            "not what Meta documents",
            "data",
        ),
        (
            "/me/accounts".into(),
            200,
            r#"{"data":[{"id":"1""#.into(),
            "users",
            "system_error",
            "not what Meta documents",
            "invalid JSON",
        ),
        (
            format!("/{ig}/media"),
            200,
            r#"{"data":[{"caption":"no id"}]}"#.into(),
            "media",
            "system_error",
            "without `id`",
            "no id",
        ),
        ("/me/accounts".into(), 403, perm.into(), "users", "config_error", "instagram_basic", "(#10)"),
        (
            "/me/accounts".into(),
            502,
            "<html>Bad gateway</html>".into(),
            "users",
            "transient_error",
            "HTTP 502",
            "Bad gateway",
        ),
        ("/me/accounts".into(), 400, echo, "users", "config_error", "access token", "190"),
    ];
    for (path, status, body, stream, failure, needle, internal) in cases {
        let faults = FaultPlan::none().force_error(&path, status, body.clone());
        // Pages of 5: the first media page comes with the account list, the second is asked
        // on the media edge.
        let sb = Sandbox::start_with(
            DatasetSpec::small(),
            FakeOptions { faults, page_size_cap: 5, ..FakeOptions::default() },
        );
        let r = sb.read(&sb.config(json!({})), &sb.catalog(&[stream]), None);
        assert_ne!(r.code, 0, "{path} {status}");
        let e = r.error().unwrap_or_else(|| panic!("{path} {status}: no error: {}", r.stdout));
        assert_eq!(e["failure_type"], failure, "{path} {status} {body}: {e}");
        assert!(e["message"].as_str().unwrap().contains(needle), "{path} {status}: {e}");
        assert!(e["internal_message"].as_str().unwrap_or("").contains(internal), "{path} {status}: {e}");
    }
}

/// Each media page is checkpointed, and an incremental read stops paging the
/// (newest-first) media edge once it is past the cursor minus the lookback.
#[test]
fn media_pages_are_checkpointed_and_incremental_stops_early() {
    use fake_graph::FakeOptions;
    let sb = Sandbox::start_with(DatasetSpec::small(), FakeOptions { page_size_cap: 2, ..FakeOptions::default() });
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&["media:incremental"]);
    let first = sb.read(&cfg, &cat, None);
    assert_eq!(first.code, 0);
    let pages_first = sb.media_pages();
    assert!(pages_first > 2);
    // The account list's answer (both accounts' first pages) is one checkpoint; every other
    // media page one more.
    assert_eq!(first.of_type("STATE").len(), pages_first + 1, "one checkpoint per media page answer");
    let second = sb.read(&cfg, &cat, Some(&first.final_state()));
    assert_eq!(second.code, 0);
    let pages_second = sb.media_pages() - pages_first;
    assert!(pages_second < pages_first, "the second read pages less ({pages_second} vs {pages_first})");
}

/// With a progress display requested, stderr shows per-stream counts while stdout still
/// carries only Airbyte messages.
#[test]
fn progress_goes_to_stderr_only() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cfg = sb.config(json!({}));
    let cat = sb.catalog(&["users", "media"]);
    let r = run_env(
        &["read", "--config", &cfg, "--catalog", &cat],
        Some(&sb.now),
        &sb.token,
        &[("SOURCE_INSTAGRAM_PROGRESS", "1"), ("SOURCE_INSTAGRAM_TIME_SCALE", "60000")],
    );
    assert_eq!(r.code, 0);
    let posts: usize = sb.dataset().accounts().iter().map(|a| a.media.len()).sum();
    assert!(r.stderr.contains(&format!("media {posts}")), "{}", r.stderr);
    assert!(r.stderr.contains("users 2"), "{}", r.stderr);
    // run_env already checked that every stdout line is an AirbyteMessage.
    assert_eq!(r.records("media").len(), posts);
}

/// `discover` advertises exactly what `read` accepts: every stream in every sync mode it
/// lists reads successfully, with its advertised primary key present in every record.
#[test]
fn discover_and_read_agree() {
    let sb = Sandbox::start(DatasetSpec::small());
    let cfg = sb.config(public_lists());
    let catalog = sb.run(&["discover", "--config", &cfg]).of_type("CATALOG")[0]["catalog"].clone();
    for stream in catalog["streams"].as_array().unwrap() {
        for mode in stream["supported_sync_modes"].as_array().unwrap() {
            let configured = json!({"streams": [{"stream": stream, "sync_mode": mode, "destination_sync_mode": "append",
                "cursor_field": stream.get("default_cursor_field").cloned().unwrap_or(json!([]))}]});
            let cat = sb.file("agree.json", &configured);
            let r = sb.run(&["read", "--config", &cfg, "--catalog", &cat]);
            let name = stream["name"].as_str().unwrap();
            assert_eq!(r.code, 0, "{name} {mode}: {}", r.stdout);
            let records = r.records(name);
            assert!(!records.is_empty(), "{name} {mode}");
            for key in stream["source_defined_primary_key"].as_array().unwrap() {
                let field = key[0].as_str().unwrap();
                assert!(records.iter().all(|x| !x[field].is_null()), "{name}: {field}");
            }
            if let Some(cursor) = stream["default_cursor_field"][0].as_str() {
                assert!(records.iter().all(|x| x[cursor].is_string()), "{name}: cursor {cursor}");
            }
        }
    }
}

/// The README's run command: `demo` reads every stream from the built-in sandbox and prints a
/// summary with a count per stream; every stdout line is an AirbyteMessage.
#[test]
fn demo_reads_every_stream_from_the_sandbox() {
    let r = run(&["demo", "--dataset", "small"], None, "fake-token-0123456789");
    assert_eq!(r.code, 0, "{}", r.stderr);
    for stream in ALL_STREAMS {
        assert!(!r.records(stream).is_empty(), "{stream}");
        assert!(r.stderr.contains(&format!("{stream:<24}")), "summary names {stream}: {}", r.stderr);
    }
    assert!(r.stderr.contains("0 refused"), "{}", r.stderr);
}
