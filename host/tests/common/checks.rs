//! Checks the end-to-end tests share on a read's output: log lines of one level, records by
//! id, schema and primary-key checks, and a stream's final status.

use super::{Run, primary_key, schema};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The messages of the LOG lines of `level`.
pub fn logs(r: &Run, level: &str) -> Vec<String> {
    r.of_type("LOG")
        .into_iter()
        .filter(|l| l["log"]["level"] == level)
        .map(|l| l["log"]["message"].as_str().unwrap().to_string())
        .collect()
}

/// The records of `stream` by `id`.
pub fn by_id<'a>(r: &'a Run, stream: &str) -> BTreeMap<String, &'a Value> {
    r.records(stream).into_iter().map(|x| (x["id"].as_str().unwrap().to_string(), x)).collect()
}

/// Records of `stream` match its schema and have unique primary keys.
pub fn check_schema_and_keys(r: &Run, stream: &str) {
    let validator = jsonschema::validator_for(&schema(stream)).unwrap();
    let mut keys = BTreeSet::new();
    for rec in r.records(stream) {
        let errors: Vec<String> = validator.iter_errors(rec).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{stream} record {rec} violates its schema: {errors:?}");
        let key: Vec<String> = primary_key(stream).iter().map(|k| rec[*k].to_string()).collect();
        assert!(key.iter().all(|k| k != "null"), "{stream} record without its key: {rec}");
        assert!(keys.insert(key.clone()), "{stream} duplicate primary key {key:?}");
    }
}

/// Whether `stream` ended COMPLETE.
pub fn complete(r: &Run, stream: &str) -> bool {
    r.of_type("TRACE").into_iter().any(|t| {
        t["trace"]["type"] == "STREAM_STATUS"
            && t["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
            && t["trace"]["stream_status"]["status"] == "COMPLETE"
    })
}
