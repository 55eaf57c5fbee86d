//! The guest's voice: thin, typed wrappers over the `emitter` import.
//!
//! Owns nothing but the translation to WIT calls. It must not build Airbyte envelopes or
//! timestamps (the host adds those) and must not write to stdout. Native builds (unit tests)
//! have no emitter: there, messages go to stderr.

use serde_json::Value;

/// A stream's lifecycle status (TRACE STREAM_STATUS).
#[derive(Debug, Clone, Copy)]
pub enum Status {
    Started,
    Running,
    Complete,
    Incomplete,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::airbyte::connector::emitter::*;
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_docs_in_private_items)]
mod imp {
    #[derive(Debug)]
    pub enum StreamStatus {
        Started,
        Running,
        Complete,
        Incomplete,
    }
    #[derive(Debug)]
    pub enum LogLevel {
        Info,
        Warn,
    }
    pub fn emit_record(stream: &str, data: &str) {
        eprintln!("RECORD {stream} {data}");
    }
    pub fn emit_state(stream: &str, state: &str, count: u64) {
        eprintln!("STATE {stream} {state} ({count})");
    }
    pub fn status(stream: &str, s: StreamStatus) {
        eprintln!("STATUS {stream} {s:?}");
    }
    pub fn estimate(stream: &str, rows: u64) {
        eprintln!("ESTIMATE {stream} {rows}");
    }
    pub fn log(level: LogLevel, message: &str) {
        eprintln!("{level:?} {message}");
    }
}

use imp as wit;

/// Emit one record of `stream`.
pub fn record(stream: &str, data: &Value) {
    wit::emit_record(stream, &data.to_string());
}

/// Emit a per-stream checkpoint covering every record of `stream` emitted before it.
pub fn state(stream: &str, state: &Value, record_count: u64) {
    wit::emit_state(stream, &state.to_string(), record_count);
}

/// Emit a stream status.
pub fn status(stream: &str, status: Status) {
    let s = match status {
        Status::Started => wit::StreamStatus::Started,
        Status::Running => wit::StreamStatus::Running,
        Status::Complete => wit::StreamStatus::Complete,
        Status::Incomplete => wit::StreamStatus::Incomplete,
    };
    wit::status(stream, s);
}

/// Emit a record-count estimate for `stream`.
pub fn estimate(stream: &str, rows: u64) {
    wit::estimate(stream, rows);
}

pub fn info(message: &str) {
    wit::log(wit::LogLevel::Info, message);
}

pub fn warn(message: &str) {
    wit::log(wit::LogLevel::Warn, message);
}
