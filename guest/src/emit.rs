//! The guest's voice: thin, typed wrappers over the `emitter` import.
//!
//! Owns the translation to WIT calls and one holding area: between [`hold`] and [`release`],
//! messages wait (in order) and go out at `release`, so the engine can send its next requests
//! before it spends time on output. It must not build Airbyte envelopes or timestamps (the host
//! adds those), reorder messages, nor write to stdout. Native builds (unit tests) have no
//! emitter: there, messages go to stderr.

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

    pub fn failed_stream(e: &crate::error::ConnectorError) {
        stream_error(&crate::to_wit(e.clone()));
    }
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
    pub fn failed_stream(e: &crate::error::ConnectorError) {
        eprintln!("STREAM ERROR {:?} {}", e.stream, e.message);
    }
}

use imp as wit;
use std::cell::RefCell;

/// A message waiting in the holding area.
enum Held {
    Record(String, String),
    State(String, String, u64),
    Log(bool, String),
    Status(String, Status),
    Estimate(String, u64),
    StreamError(crate::error::ConnectorError),
}

thread_local! {
    /// `Some` while held: the messages not yet sent, in emission order.
    static HELD: RefCell<Option<Vec<Held>>> = const { RefCell::new(None) };
}

/// Hold every message until [`release`] (records, checkpoints and logs keep their order).
pub fn hold() {
    HELD.with(|h| {
        h.borrow_mut().get_or_insert_with(Vec::new);
    });
}

/// Send the held messages, in order, and stop holding.
pub fn release() {
    let held = HELD.with(|h| h.borrow_mut().take()).unwrap_or_default();
    for m in held {
        match m {
            Held::Record(stream, data) => wit::emit_record(&stream, &data),
            Held::State(stream, state, count) => wit::emit_state(&stream, &state, count),
            Held::Log(warn, message) => log(warn, &message),
            Held::Status(stream, s) => status_now(&stream, s),
            Held::Estimate(stream, rows) => wit::estimate(&stream, rows),
            Held::StreamError(e) => wit::failed_stream(&e),
        }
    }
}

/// Keep `m` if messages are held; otherwise give it back.
fn held(m: Held) -> Option<Held> {
    HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(list) => {
            list.push(m);
            None
        }
        None => Some(m),
    })
}

/// Emit one record of `stream`.
pub fn record(stream: &str, data: &Value) {
    // Held as text: a page of records as JSON is a fraction of its parsed size.
    if let Some(Held::Record(_, data)) = held(Held::Record(stream.to_string(), data.to_string())) {
        wit::emit_record(stream, &data);
    }
}

/// Emit a per-stream checkpoint covering every record of `stream` emitted before it.
pub fn state(stream: &str, state: &Value, record_count: u64) {
    if let Some(Held::State(_, state, _)) = held(Held::State(stream.to_string(), state.to_string(), record_count)) {
        wit::emit_state(stream, &state, record_count);
    }
}

fn log(warn: bool, message: &str) {
    wit::log(if warn { wit::LogLevel::Warn } else { wit::LogLevel::Info }, message);
}

/// Emit a stream status.
pub fn status(stream: &str, status: Status) {
    if held(Held::Status(stream.to_string(), status)).is_some() {
        status_now(stream, status);
    }
}

fn status_now(stream: &str, status: Status) {
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
    if held(Held::Estimate(stream.to_string(), rows)).is_some() {
        wit::estimate(stream, rows);
    }
}

/// Report that one stream failed (its TRACE ERROR); `e.stream` names it.
pub fn stream_error(e: &crate::error::ConnectorError) {
    if let Some(Held::StreamError(e)) = held(Held::StreamError(e.clone())) {
        wit::failed_stream(&e);
    }
}

pub fn info(message: &str) {
    if held(Held::Log(false, message.to_string())).is_some() {
        log(false, message);
    }
}

pub fn warn(message: &str) {
    if held(Held::Log(true, message.to_string())).is_some() {
        log(true, message);
    }
}
