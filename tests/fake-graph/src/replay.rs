//! Replaying a recording ([`crate::recording`]): a [`crate::FakeGraph`] started with
//! [`crate::FakeGraph::replay`] (`fake-graph --replay FILE`) answers every request with the
//! recorded answer to the same request ([`crate::recording::request_key`]: method, path and
//! query, credentials ignored). The operations of a Graph batch are matched one by one,
//! wherever they were recorded (in a batch or as plain GETs), so a batch that the host sends
//! again with only its failed operations is answered too. Repeated requests get the recorded
//! answers in order; past the last, the last again (the host retrying a final transient
//! answer gets it again, as it did when recording). A recorded connection failure is answered
//! with HTTP 502 naming it. A request with no recorded answer gets HTTP 400 with a Graph error
//! naming it (for a batch operation: that operation's item), and is listed by
//! [`crate::FakeGraph::unmatched`].
//!
//! Owns parsing a recording (with errors naming the line), the answers' queues and building
//! each answer. It does not know what a request means (no dataset is consulted).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::recording::{self, FORMAT, batch_item_sent, body_text, request_key};

/// A recording, read and checked.
#[derive(Clone, Debug)]
pub struct Replay {
    header: Value,
    exchanges: Vec<Value>,
}

impl Replay {
    /// Read a recording file.
    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Replay::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse a recording; a line that is not one names its number.
    pub fn parse(text: &str) -> Result<Replay, String> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines.next().ok_or("the recording is empty")?;
        let header: Value = serde_json::from_str(first).map_err(|e| format!("line 1 is not JSON: {e}"))?;
        if header.get("recording").and_then(Value::as_str) != Some(FORMAT) {
            return Err(format!("line 1 is not a recording header (`\"recording\": \"{FORMAT}\"`)"));
        }
        match header.get("version").and_then(Value::as_u64) {
            Some(recording::VERSION) => {}
            other => {
                return Err(format!("format version {other:?} is not supported (expected {})", recording::VERSION));
            }
        }
        let mut exchanges = Vec::new();
        for (i, line) in lines {
            let exchange: Value = serde_json::from_str(line).map_err(|e| format!("line {} is not JSON: {e}", i + 1))?;
            let ok = exchange.get("method").is_some_and(Value::is_string)
                && exchange.get("url").is_some_and(Value::is_string)
                && (exchange.get("status").is_some_and(Value::is_u64) || exchange.get("error").is_some());
            if !ok {
                return Err(format!("line {} is not an exchange (`method`, `url`, `status` or `error`)", i + 1));
            }
            exchanges.push(exchange);
        }
        Ok(Replay { header, exchanges })
    }

    pub fn header(&self) -> &Value {
        &self.header
    }

    pub fn exchanges(&self) -> &[Value] {
        &self.exchanges
    }

    /// `read` or `check`.
    pub fn command(&self) -> &str {
        self.header.get("command").and_then(Value::as_str).unwrap_or("read")
    }

    /// The recorded read's "now" (the component's clock; replay reads must use it).
    pub fn now(&self) -> Option<DateTime<Utc>> {
        let text = self.header.get("now")?.as_str()?;
        DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The config of a replay: the recorded one, with this server's URL, any token, and no token
    /// renewal (the recording holds none).
    pub fn config(&self, api_base_url: &str, token: &str) -> Value {
        let mut config = self.header.get("config").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        config["api_base_url"] = json!(api_base_url);
        config["access_token"] = json!(token);
        config["renew_access_token"] = json!(false);
        config
    }

    pub fn catalog(&self) -> Value {
        self.header.get("catalog").cloned().unwrap_or_else(|| json!({"streams": []}))
    }

    pub fn state(&self) -> Option<Value> {
        self.header.get("state").cloned().filter(|s| !s.is_null())
    }
}

/// One recorded answer.
#[derive(Clone, Debug)]
enum Answer {
    /// A whole HTTP answer.
    Plain { status: u16, headers: Vec<(String, String)>, body: String },
    /// One batch item (as Meta sends it), with the headers of its batch's answer.
    Item { item: Value, envelope: Vec<(String, String)> },
    /// The answer of a whole batch that failed (not an array of items).
    Envelope { status: u16, headers: Vec<(String, String)>, body: String },
    /// No answer: the connection failed.
    Failed(String),
}

#[derive(Debug, Default)]
struct Queue {
    answers: Vec<Answer>,
    next: usize,
}

impl Queue {
    /// The next answer in order; past the last, the last again.
    fn take(&mut self) -> Answer {
        let i = self.next.min(self.answers.len() - 1);
        self.next = (self.next + 1).min(self.answers.len());
        self.answers[i].clone()
    }
}

/// What the server sends back.
pub(crate) struct ReplayAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A running replay: the answers still to give, and the requests nothing answered.
pub(crate) struct ReplayState {
    queues: Mutex<HashMap<String, Queue>>,
    unmatched: Mutex<Vec<String>>,
}

fn headers_of(exchange: &Value) -> Vec<(String, String)> {
    let Some(Value::Object(h)) = exchange.get("headers") else { return Vec::new() };
    h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

/// The path of a batch operation with its version (`v27.0/x` or `x` → `/v27.0/x`).
fn op_path(relative_url: &str, version: &str) -> String {
    let trimmed = relative_url.trim_start_matches('/');
    let first = trimmed.split(['/', '?']).next().unwrap_or_default();
    let versioned =
        first.starts_with('v') && first[1..].split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if versioned { format!("/{trimmed}") } else { format!("{}/{trimmed}", version.trim_end_matches('/')) }
}

/// The version part of a batch POST's path (`/v27.0/` → `/v27.0`).
fn version_of(url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default().trim_end_matches('/');
    if path.is_empty() { "/".into() } else { path.to_string() }
}

fn ops_of(form: &Value) -> Vec<(String, String)> {
    let ops = match form.get("batch") {
        Some(Value::Array(ops)) => ops.clone(),
        Some(Value::String(text)) => serde_json::from_str::<Vec<Value>>(text).unwrap_or_default(),
        _ => Vec::new(),
    };
    ops.iter()
        .map(|op| {
            let method = op.get("method").and_then(Value::as_str).unwrap_or("GET").to_string();
            (method, op.get("relative_url").and_then(Value::as_str).unwrap_or_default().to_string())
        })
        .collect()
}

impl ReplayState {
    pub(crate) fn new(replay: &Replay) -> ReplayState {
        let mut queues: HashMap<String, Queue> = HashMap::new();
        let mut push = |key: String, answer: Answer| queues.entry(key).or_default().answers.push(answer);
        for x in &replay.exchanges {
            let method = x["method"].as_str().unwrap_or("GET");
            let url = x["url"].as_str().unwrap_or("/");
            let headers = headers_of(x);
            let ops = x.get("request").map(ops_of).unwrap_or_default();
            if let Some(error) = x.get("error") {
                let text = error.as_str().map_or_else(|| error.to_string(), str::to_string);
                if ops.is_empty() {
                    push(request_key(method, url), Answer::Failed(text));
                } else {
                    let version = version_of(url);
                    ops.iter()
                        .for_each(|(m, u)| push(request_key(m, &op_path(u, &version)), Answer::Failed(text.clone())));
                }
                continue;
            }
            let status = x["status"].as_u64().unwrap_or(200) as u16;
            let items = x.get("json").and_then(Value::as_array).filter(|i| status == 200 && i.len() == ops.len());
            match items {
                Some(items) if !ops.is_empty() => {
                    let version = version_of(url);
                    for ((m, u), item) in ops.iter().zip(items) {
                        let item = batch_item_sent(item);
                        push(request_key(m, &op_path(u, &version)), Answer::Item { item, envelope: headers.clone() });
                    }
                }
                _ if ops.is_empty() => {
                    push(request_key(method, url), Answer::Plain { status, headers, body: body_text(x) })
                }
                _ => {
                    // The whole batch failed: each of its operations gets that answer.
                    let answer = Answer::Envelope { status, headers, body: body_text(x) };
                    let version = version_of(url);
                    ops.iter().for_each(|(m, u)| push(request_key(m, &op_path(u, &version)), answer.clone()));
                }
            }
        }
        ReplayState { queues: Mutex::new(queues), unmatched: Mutex::new(Vec::new()) }
    }

    /// Requests no recorded answer matched, as `METHOD path?query`.
    pub(crate) fn unmatched(&self) -> Vec<String> {
        self.unmatched.lock().unwrap().clone()
    }

    fn take(&self, key: &str) -> Option<Answer> {
        self.queues.lock().unwrap().get_mut(key).map(Queue::take)
    }

    fn miss(&self, key: &str) -> String {
        eprintln!("fake-graph replay: no recorded answer for {key}");
        self.unmatched.lock().unwrap().push(key.to_string());
        json!({"error": {
            "message": format!("fake-graph replay: no recorded answer for {key}"),
            "type": "FakeGraphReplay",
            "code": 100,
            "fbtrace_id": "ReplayMismatch",
        }})
        .to_string()
    }

    /// The answer to one HTTP request (`path_and_query` as received, `body` its form).
    pub(crate) fn answer(&self, method: &str, path_and_query: &str, body: &str) -> ReplayAnswer {
        let form = crate::request::Params::parse(body);
        let batch = (method.eq_ignore_ascii_case("POST")).then(|| form.get("batch")).flatten();
        let Some(batch) = batch else {
            let key = request_key(method, path_and_query);
            return match self.take(&key) {
                Some(Answer::Plain { status, headers, body } | Answer::Envelope { status, headers, body }) => {
                    ReplayAnswer { status, headers, body }
                }
                Some(Answer::Item { item, envelope }) => ReplayAnswer {
                    status: item["code"].as_u64().unwrap_or(200) as u16,
                    headers: envelope,
                    body: item["body"].as_str().unwrap_or_default().to_string(),
                },
                Some(Answer::Failed(text)) => failed(&text),
                None => ReplayAnswer { status: 400, headers: json_type(), body: self.miss(&key) },
            };
        };
        let version = version_of(path_and_query);
        let ops = ops_of(&json!({"batch": batch}));
        let include_headers = form.get("include_headers") != Some("false");
        let mut items = Vec::with_capacity(ops.len());
        let mut envelope = None;
        for (m, u) in &ops {
            let key = request_key(m, &op_path(u, &version));
            let item = match self.take(&key) {
                Some(Answer::Item { mut item, envelope: headers }) => {
                    envelope.get_or_insert(headers);
                    if !include_headers && let Value::Object(o) = &mut item {
                        o.remove("headers");
                    }
                    item
                }
                Some(Answer::Plain { status, headers, body }) => {
                    let mut item = json!({"code": status, "body": body});
                    if include_headers {
                        let named: Vec<Value> = headers.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
                        item["headers"] = Value::Array(named);
                    }
                    item
                }
                Some(Answer::Envelope { status, headers, body }) => return ReplayAnswer { status, headers, body },
                Some(Answer::Failed(text)) => return failed(&text),
                None => json!({"code": 400, "body": self.miss(&key)}),
            };
            items.push(item);
        }
        let mut headers = envelope.unwrap_or_else(json_type);
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            headers.extend(json_type());
        }
        ReplayAnswer { status: 200, headers, body: Value::Array(items).to_string() }
    }
}

fn json_type() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json; charset=UTF-8".into())]
}

/// A recorded connection failure, as an answer the host treats the same way (transient).
fn failed(text: &str) -> ReplayAnswer {
    ReplayAnswer {
        status: 502,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: format!("fake-graph replay: the recorded request got no answer ({text})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDING: &str = r#"{"recording":"source-instagram","version":1,"command":"read","now":"2026-11-01T12:00:00Z","config":{"start_date":"2026-01-01T00:00:00Z"},"catalog":{"streams":[]},"state":null}
{"method":"GET","url":"/v27.0/me/accounts?fields=id&limit=100","status":200,"headers":{"content-type":"application/json; charset=UTF-8","x-app-usage":"{\"call_count\":1}"},"json":{"data":[{"id":"1"}]}}
{"method":"POST","url":"/v27.0/","request":{"batch":[{"method":"GET","relative_url":"v27.0/5/insights?metric=reach"},{"method":"GET","relative_url":"v27.0/6/insights?metric=reach"}],"include_headers":"false"},"status":200,"headers":{"x-app-usage":"{\"call_count\":3}"},"json":[{"code":200,"json":{"data":[]}},{"code":500,"json":{"error":{"code":1}}}]}
{"method":"GET","url":"/v27.0/me/accounts?fields=id&limit=100","status":200,"headers":{},"json":{"data":[{"id":"2"}]}}
{"method":"GET","url":"/v27.0/gone","error":"the connection was refused"}
"#;

    /// Plain answers in order (then the last again), batch operations one by one (also when
    /// sent again alone), failures and misses named.
    #[test]
    fn answers() {
        let replay = Replay::parse(RECORDING).unwrap();
        assert_eq!(replay.now().unwrap().to_rfc3339(), "2026-11-01T12:00:00+00:00");
        let state = ReplayState::new(&replay);
        let get = |u: &str| state.answer("GET", u, "");
        assert!(get("/v27.0/me/accounts?limit=100&fields=id&access_token=X").body.contains("\"1\""));
        assert!(get("/v27.0/me/accounts?fields=id&limit=100").body.contains("\"2\""));
        assert!(get("/v27.0/me/accounts?fields=id&limit=100").body.contains("\"2\""), "the last again");
        let form = |ops: &[&str]| {
            let ops: Vec<Value> = ops.iter().map(|u| json!({"method": "GET", "relative_url": u})).collect();
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("batch", &Value::Array(ops).to_string())
                .append_pair("include_headers", "false")
                .finish()
        };
        let both =
            state.answer("POST", "/v27.0/", &form(&["v27.0/5/insights?metric=reach", "v27.0/6/insights?metric=reach"]));
        let items: Vec<Value> = serde_json::from_str(&both.body).unwrap();
        assert_eq!((items[0]["code"].as_u64(), items[1]["code"].as_u64()), (Some(200), Some(500)));
        assert_eq!(items[0]["body"], "{\"data\":[]}");
        assert!(both.headers.iter().any(|(k, v)| k == "x-app-usage" && v.contains('3')));
        let again = state.answer("POST", "/v27.0/", &form(&["/v27.0/6/insights?metric=reach", "7/insights"]));
        let items: Vec<Value> = serde_json::from_str(&again.body).unwrap();
        assert_eq!(items[0]["code"], 500, "an operation sent again alone");
        assert_eq!(items[1]["code"], 400);
        assert!(items[1]["body"].as_str().unwrap().contains("no recorded answer for GET /v27.0/7/insights?"));
        assert_eq!(get("/v27.0/gone").status, 502);
        let missing = get("/v27.0/other");
        assert_eq!(missing.status, 400);
        assert!(missing.body.contains("no recorded answer for GET /v27.0/other?"));
        assert_eq!(state.unmatched(), ["GET /v27.0/7/insights?", "GET /v27.0/other?"]);
        assert!(Replay::parse("{\"x\":1}").unwrap_err().contains("not a recording header"));
        let bad = RECORDING.replace("\"status\":200,\"headers\":{},", "");
        assert!(Replay::parse(&bad).unwrap_err().contains("line 4"));
    }
}
