//! Property tests: every parser of outside input (config, catalog, state, Graph responses,
//! batch items, timestamps) answers random bytes and random JSON with a value or an error,
//! never a panic. Bounded in cases so CI time stays fixed.

use proptest::prelude::*;
use serde_json::Value;
use source_instagram_guest::{catalog, config, engine, graph, state, streams, transform};

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-01T12:00:00Z".parse().unwrap()
}

/// Arbitrary JSON values, biased toward the keys our parsers look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("streams".to_string()),
        Just("stream".to_string()),
        Just("name".to_string()),
        Just("sync_mode".to_string()),
        Just("type".to_string()),
        Just("states".to_string()),
        Just("partition".to_string()),
        Just("cursor".to_string()),
        Just("date".to_string()),
        Just("business_account_id".to_string()),
        Just("error".to_string()),
        Just("code".to_string()),
        Just("data".to_string()),
        Just("paging".to_string()),
        Just("next".to_string()),
        Just("start_date".to_string()),
        Just("account_ids".to_string()),
        Just("api_version".to_string()),
        Just("api_base_url".to_string()),
        Just("body".to_string()),
        Just("message".to_string()),
        Just("stream_descriptor".to_string()),
        Just("stream_state".to_string()),
        "[a-z0-9_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        ".{0,20}".prop_map(Value::String),
        Just(Value::String("2026-10-01T07:00:00+0000".into())),
        Just(Value::String("full_refresh".into())),
        Just(Value::String("STREAM".into())),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn config_parser(v in json_value(), s in ".{0,64}") {
        let _ = config::Config::parse(&v.to_string(), now());
        let _ = config::Config::parse(&s, now());
    }

    #[test]
    fn catalog_parser(v in json_value(), s in ".{0,64}") {
        let _ = catalog::Selection::parse(&v.to_string(), streams::STREAMS);
        let _ = catalog::Selection::parse(&s, streams::STREAMS);
    }

    #[test]
    fn state_parsers(v in json_value(), s in ".{0,64}") {
        let text = v.to_string();
        let _ = state::parse_input(Some(&text));
        let _ = state::parse_input(Some(&s));
        let _ = state::AccountCursors::parse("user_insights", "date", Some(&v));
        if let Ok(streams) = state::parse_input(Some(&text)) {
            for s in streams.values() {
                let _ = state::AccountCursors::parse("media", "timestamp", Some(s));
            }
        }
    }

    #[test]
    fn response_parsers(status in 0u16..600, v in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = graph::parse_response(status, &bytes, "https://g/x");
        let text = v.to_string();
        if let Ok(page) = graph::parse_response(status, text.as_bytes(), "https://g/x") {
            let _ = graph::parse_page(page, "https://g/x");
        }
        let _ = graph::parse_batch_item(v.clone(), "https://g/x");
        let _ = engine::ops::flatten_insights(&v);
        let _ = streams::demographics::demographic_record(&v, "age,gender", "this_month");
        if let Err(e) = graph::parse_response(status, text.as_bytes(), "https://g/x") {
            let _ = e.into_connector("fuzzing");
        }
    }

    #[test]
    fn timestamps_and_urls(s in ".{0,40}") {
        let _ = transform::normalize_timestamp(&s);
        let _ = transform::strip_query_param(&s, "ccb");
        let _ = graph::redact_url(&s);
    }
}
