//! The Airbyte protocol on stdout: one AirbyteMessage JSON object per line.
//!
//! Owns message envelopes, `emitted_at`, framing, per-stream counts and secret redaction: every
//! line passes through `Output::line`, which replaces any configured secret before writing;
//! the one exception is `connector_config`, the CONTROL message handing a renewed token to the
//! platform.
//! Nothing else in the host may write to stdout.

use serde_json::{Value, json, value::RawValue};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

pub use crate::failure::{Failure, FailureType};

fn redact_with(secrets: &[String], text: &str) -> String {
    let mut text = text.to_string();
    for s in secrets {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), "**********");
        }
    }
    text
}

/// Text of the error a guest gets (as a trap) once its output passes its limit.
pub const OUTPUT_LIMIT_MARKER: &str = "output limit exceeded";

struct Inner {
    sink: Box<dyn Write + Send>,
    secrets: Vec<String>,
    records: BTreeMap<String, u64>,
    /// Streams STARTED and not yet COMPLETE/INCOMPLETE.
    active: std::collections::BTreeSet<String>,
    /// A one-line human progress display on stderr (never stdout), when enabled.
    progress: Option<Progress>,
    /// Bytes this output may write (a tenant's cap); `None` = unlimited.
    limit: Option<u64>,
    written: u64,
    exceeded: bool,
}

/// The stderr progress line's timing.
struct Progress {
    started: std::time::Instant,
    drawn: Option<std::time::Instant>,
}

impl Inner {
    /// Redraw the progress line (at most ~6 times a second unless `force`).
    fn draw_progress(&mut self, force: bool) {
        let Some(p) = &mut self.progress else { return };
        if !force && p.drawn.is_some_and(|d| d.elapsed() < std::time::Duration::from_millis(150)) {
            return;
        }
        p.drawn = Some(std::time::Instant::now());
        let counts: Vec<String> = self.records.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let line = format!(
            "\r\x1b[2Kread {:.1} s: {}",
            p.started.elapsed().as_secs_f64(),
            if counts.is_empty() { "starting…".into() } else { counts.join(" · ") }
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
}

/// The protocol writer, shared by the guest's emitter, the network policy and the CLI.
#[derive(Clone)]
pub struct Output {
    inner: Arc<Mutex<Inner>>,
}

/// Milliseconds since the Unix epoch (real time, for `emitted_at`).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Output {
    pub fn new(sink: Box<dyn Write + Send>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                sink,
                secrets: Vec::new(),
                records: BTreeMap::new(),
                active: Default::default(),
                progress: None,
                limit: None,
                written: 0,
                exceeded: false,
            })),
        }
    }

    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    /// Stop writing after `bytes` (the writer then reports `exceeded`).
    pub fn with_limit(self, bytes: u64) -> Self {
        self.inner.lock().unwrap().limit = Some(bytes);
        self
    }

    /// Whether the output limit was reached (later messages were dropped).
    pub fn exceeded(&self) -> bool {
        self.inner.lock().unwrap().exceeded
    }

    /// Show a progress line on stderr: when stderr is a terminal, unless
    /// `SOURCE_INSTAGRAM_PROGRESS=0`; `=1` forces it on.
    pub fn with_progress_from_env(self) -> Self {
        use std::io::IsTerminal;
        let on = match std::env::var("SOURCE_INSTAGRAM_PROGRESS").as_deref() {
            Ok("0") => false,
            Ok("1") => true,
            _ => std::io::stderr().is_terminal(),
        };
        if on {
            self.inner.lock().unwrap().progress = Some(Progress { started: std::time::Instant::now(), drawn: None });
        }
        self
    }

    /// End the progress line (if any) with a final count and a newline.
    pub fn finish_progress(&self) {
        let mut inner = self.inner.lock().unwrap();
        if inner.progress.is_some() {
            inner.draw_progress(true);
            let _ = std::io::stderr().write_all(b"\n");
            inner.progress = None;
        }
    }

    /// Never print `secret` (replaced by `**********` wherever it appears).
    pub fn add_secret(&self, secret: &str) {
        if secret.len() >= 4 {
            let mut inner = self.inner.lock().unwrap();
            inner.secrets.push(secret.to_string());
            // Its JSON-escaped form too, in case it contains characters JSON escapes.
            let escaped = serde_json::to_string(secret).unwrap();
            inner.secrets.push(escaped[1..escaped.len() - 1].to_string());
            // Longest first, so a secret that contains another is masked whole.
            inner.secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            inner.secrets.dedup();
        }
    }

    /// `text` with every registered secret masked (for text that leaves the host by another
    /// way than this output, such as `run-many`'s summary).
    pub fn redact(&self, text: &str) -> String {
        let inner = self.inner.lock().unwrap();
        redact_with(&inner.secrets, text)
    }

    /// Records written per stream so far.
    pub fn record_counts(&self) -> BTreeMap<String, u64> {
        self.inner.lock().unwrap().records.clone()
    }

    /// Write one message line (redacted), within the output limit.
    fn line(&self, text: String) {
        self.write_line(text, false);
    }

    /// Write one line; `force` ignores the output limit (for the final TRACE ERROR).
    fn write_line(&self, text: String, force: bool) {
        self.write_maybe_redacted(text, force, true);
    }

    /// Write one line, redacted unless it is the CONTROL message that hands the platform
    /// the updated config (see `connector_config`).
    fn write_maybe_redacted(&self, mut text: String, force: bool, redact: bool) {
        let mut inner = self.inner.lock().unwrap();
        if redact && inner.secrets.iter().any(|s| text.contains(s.as_str())) {
            text = redact_with(&inner.secrets, &text);
        }
        text.push('\n');
        if inner.exceeded && !force {
            return;
        }
        if let (Some(limit), false) = (inner.limit, force)
            && inner.written + text.len() as u64 > limit
        {
            inner.exceeded = true;
            return;
        }
        inner.written += text.len() as u64;
        // A closed stdout (e.g. `| head`) must not crash the host.
        let _ = inner.sink.write_all(text.as_bytes());
    }

    fn message(&self, v: Value) {
        self.line(v.to_string());
    }

    pub fn flush(&self) {
        let _ = self.inner.lock().unwrap().sink.flush();
    }

    /// A RECORD; `data` must be a JSON object.
    pub fn record(&self, stream: &str, data: &str) -> Result<(), String> {
        let raw: &RawValue = serde_json::from_str(data).map_err(|e| format!("record of {stream} is not JSON: {e}"))?;
        if !raw.get().trim_start().starts_with('{') {
            return Err(format!("record of {stream} is not a JSON object"));
        }
        let line = format!(
            r#"{{"type":"RECORD","record":{{"stream":{},"data":{},"emitted_at":{}}}}}"#,
            Value::String(stream.into()),
            raw.get(),
            now_ms()
        );
        self.line(line);
        let mut inner = self.inner.lock().unwrap();
        *inner.records.entry(stream.to_string()).or_default() += 1;
        inner.draw_progress(false);
        Ok(())
    }

    /// A per-stream STATE with `sourceStats.recordCount`.
    pub fn state(&self, stream: &str, state: &str, record_count: u64) -> Result<(), String> {
        let state: Value = serde_json::from_str(state).map_err(|e| format!("state of {stream} is not JSON: {e}"))?;
        self.message(json!({
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {"stream_descriptor": {"name": stream}, "stream_state": state},
                "sourceStats": {"recordCount": record_count as f64},
            }
        }));
        self.flush();
        Ok(())
    }

    pub fn log(&self, level: &str, message: &str) {
        self.message(json!({"type": "LOG", "log": {"level": level, "message": message}}));
    }

    pub fn stream_status(&self, stream: &str, status: &str) {
        {
            let mut inner = self.inner.lock().unwrap();
            match status {
                "STARTED" => {
                    inner.active.insert(stream.to_string());
                }
                "COMPLETE" | "INCOMPLETE" => {
                    inner.active.remove(stream);
                }
                _ => {}
            }
        }
        self.message(json!({
            "type": "TRACE",
            "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms(),
                      "stream_status": {"stream_descriptor": {"name": stream}, "status": status}}
        }));
    }

    /// INCOMPLETE for every stream STARTED and not ended (the guest was stopped).
    pub fn incomplete_active(&self) {
        let active: Vec<String> = self.inner.lock().unwrap().active.iter().cloned().collect();
        for stream in active {
            self.stream_status(&stream, "INCOMPLETE");
        }
    }

    /// RUNNING with reason RATE_LIMITED for every active stream; `quota_reset` is when the
    /// wait ends (ms since the epoch).
    pub fn rate_limited(&self, quota_reset_ms: i64) {
        let active: Vec<String> = self.inner.lock().unwrap().active.iter().cloned().collect();
        for stream in active {
            self.message(json!({
                "type": "TRACE",
                "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms(),
                          "stream_status": {"stream_descriptor": {"name": stream}, "status": "RUNNING",
                                            "reasons": [{"type": "RATE_LIMITED", "rate_limited": {"quota_reset": quota_reset_ms}}]}}
            }));
        }
        self.flush();
    }

    pub fn estimate(&self, stream: &str, rows: u64) {
        self.message(json!({
            "type": "TRACE",
            "trace": {"type": "ESTIMATE", "emitted_at": now_ms(),
                      "estimate": {"name": stream, "type": "STREAM", "row_estimate": rows}}
        }));
    }

    pub fn error(&self, failure: &Failure) {
        let mut error = json!({"message": failure.message, "failure_type": failure.failure_type.as_str()});
        if let Some(internal) = &failure.internal {
            error["internal_message"] = json!(internal);
        }
        if let Some(stream) = &failure.stream {
            error["stream_descriptor"] = json!({"name": stream});
        }
        self.write_line(
            json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms(), "error": error}}).to_string(),
            true,
        );
        self.flush();
    }

    /// A CONTROL `CONNECTOR_CONFIG` message carrying `config`, the full updated config (a
    /// renewed token), so the platform stores it. The only message that is not redacted: the
    /// platform must receive the secrets it has to store. Forced past the output limit like the
    /// final TRACE ERROR, since losing it loses the new token.
    pub fn connector_config(&self, config: &Value) {
        let line = json!({
            "type": "CONTROL",
            "control": {"type": "CONNECTOR_CONFIG", "emitted_at": now_ms() as f64, "connectorConfig": {"config": config}}
        });
        self.write_maybe_redacted(line.to_string(), true, false);
        self.flush();
    }

    pub fn spec(&self, spec: Value) {
        self.message(json!({"type": "SPEC", "spec": spec}));
    }

    pub fn catalog(&self, catalog: Value) {
        self.message(json!({"type": "CATALOG", "catalog": catalog}));
    }

    pub fn connection_status(&self, succeeded: bool, message: Option<&str>) {
        let mut status = json!({"status": if succeeded { "SUCCEEDED" } else { "FAILED" }});
        if let Some(m) = message {
            status["message"] = json!(m);
        }
        self.message(json!({"type": "CONNECTION_STATUS", "connectionStatus": status}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Secrets are replaced in every message, records are framed and counted.
    #[test]
    fn redacts_and_frames() {
        let buf = Buf::default();
        let out = Output::new(Box::new(buf.clone()));
        out.add_secret("s3cr3t-token");
        out.log("INFO", "token is s3cr3t-token");
        out.record("users", r#"{"id":"1","note":"s3cr3t-token"}"#).unwrap();
        assert!(out.record("users", "[1]").is_err());
        assert!(out.record("users", "{").is_err());
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("s3cr3t-token"));
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(v["type"].is_string());
        }
        assert_eq!(out.record_counts()["users"], 1);
    }

    /// The CONTROL message carries the config as given (secrets included); every other
    /// message masks the same secrets.
    #[test]
    fn control_message_is_the_only_unredacted_one() {
        let buf = Buf::default();
        let out = Output::new(Box::new(buf.clone())).with_limit(10);
        out.add_secret("new-s3cr3t-token");
        out.connector_config(&json!({"access_token": "new-s3cr3t-token", "login": "instagram"}));
        out.log("INFO", "token new-s3cr3t-token");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 1, "past the output limit only the CONTROL message is forced out");
        assert_eq!(lines[0]["type"], "CONTROL");
        assert_eq!(lines[0]["control"]["type"], "CONNECTOR_CONFIG");
        assert!(lines[0]["control"]["emitted_at"].is_number());
        assert_eq!(lines[0]["control"]["connectorConfig"]["config"]["access_token"], "new-s3cr3t-token");
        out.redact("new-s3cr3t-token").contains("****").then_some(()).unwrap();
    }
}
