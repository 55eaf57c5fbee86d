//! The stdout emitter of the composed command (`source-instagram component --command`).
//!
//! Owns the `airbyte:connector/emitter` export for stock runtimes: each call becomes one Airbyte
//! message (a JSON line) on stdout, in the same envelopes `source-instagram` prints (RECORD,
//! STATE with `sourceStats`, LOG, TRACE STREAM_STATUS / ESTIMATE). It must not add policy: no
//! output limits, no secret masking, no progress display (only the native host has those; the
//! connector itself never emits its token).

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "stdout-emitter",
    });
}

use bindings::exports::airbyte::connector::emitter::{ConnectorError, Guest, LogLevel, StreamStatus};
use bindings::exports::airbyte::connector::types::FailureType;
use serde_json::{Value, json, value::RawValue};
use std::io::Write;

struct StdoutEmitter;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn line(message: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves nobody to tell; the connector carries on as Airbyte's CDK does.
    let _ = writeln!(out, "{message}");
}

fn log_line(level: &str, message: &str) {
    line(&json!({"type": "LOG", "log": {"level": level, "message": message}}).to_string());
}

impl Guest for StdoutEmitter {
    fn emit_record(stream: String, data: String) {
        match serde_json::from_str::<&RawValue>(&data) {
            Ok(raw) if raw.get().trim_start().starts_with('{') => line(&format!(
                r#"{{"type":"RECORD","record":{{"stream":{},"data":{},"emitted_at":{}}}}}"#,
                Value::String(stream),
                raw.get(),
                now_ms()
            )),
            _ => log_line("ERROR", &format!("The connector emitted an invalid record of {stream}: not a JSON object")),
        }
    }

    fn emit_state(stream: String, state: String, record_count: u64) {
        match serde_json::from_str::<Value>(&state) {
            Ok(state) => line(
                &json!({"type": "STATE", "state": {
                    "type": "STREAM",
                    "stream": {"stream_descriptor": {"name": stream}, "stream_state": state},
                    "sourceStats": {"recordCount": record_count as f64},
                }})
                .to_string(),
            ),
            Err(e) => log_line("ERROR", &format!("The connector emitted an invalid state of {stream}: {e}")),
        }
        let _ = std::io::stdout().flush();
    }

    fn log(level: LogLevel, message: String) {
        let level = match level {
            LogLevel::Fatal => "FATAL",
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        };
        log_line(level, &message);
    }

    fn status(stream: String, status: StreamStatus) {
        let status = match status {
            StreamStatus::Started => "STARTED",
            StreamStatus::Running => "RUNNING",
            StreamStatus::Complete => "COMPLETE",
            StreamStatus::Incomplete => "INCOMPLETE",
        };
        line(
            &json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms(),
                "stream_status": {"stream_descriptor": {"name": stream}, "status": status}}})
            .to_string(),
        );
    }

    fn stream_error(error: ConnectorError) {
        line(&error_trace(error).to_string());
    }

    fn estimate(stream: String, row_estimate: u64) {
        line(
            &json!({"type": "TRACE", "trace": {"type": "ESTIMATE", "emitted_at": now_ms(),
                "estimate": {"name": stream, "type": "STREAM", "row_estimate": row_estimate}}})
            .to_string(),
        );
    }
}

/// A stream's TRACE ERROR, as `source-instagram` prints it.
fn error_trace(e: ConnectorError) -> Value {
    let failure_type = match e.failure_type {
        FailureType::ConfigError => "config_error",
        FailureType::SystemError => "system_error",
        FailureType::TransientError => "transient_error",
    };
    let mut error = json!({"message": e.message, "failure_type": failure_type});
    if let Some(internal) = e.internal_message {
        error["internal_message"] = json!(internal);
    }
    if let Some(stream) = e.stream {
        error["stream_descriptor"] = json!({"name": stream});
    }
    json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms(), "error": error}})
}

bindings::export!(StdoutEmitter with_types_in bindings);
