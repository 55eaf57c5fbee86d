//! `read --record FILE` and `check --record FILE`: every exchange the host carries for the
//! component, as JSON lines in the format of `fake_graph::recording` (the fake Graph API
//! replays such a file: `fake-graph --replay FILE`; `tests/cassettes/` holds some).
//!
//! What is recorded is the final answer the component received for each of its requests,
//! after the host's waits and retries (for a batch, with the operations sent again spliced
//! in), so a replay gives the component the same view; the waits and retries themselves are
//! not recorded. The token renewal at the start of a read is the host's own exchange and is not
//! recorded either.
//!
//! Owns the first line (what a replay needs: the read's clock, config without secrets, catalog,
//! state), each exchange's line, and redaction, which every line passes before it is written:
//! - every credential parameter (`fake_graph::recording::CREDENTIAL_PARAMS`) is removed from
//!   every URL: the request's, each batch operation's, and every URL inside a body (a
//!   `paging.next` that carries `access_token`), at any depth, batch items included;
//! - every `access_token` field of a body is blanked;
//! - every secret the host knows (the token and a renewed one, the app's id and secret, every
//!   `airbyte_secret` of the config, the credentials of a proxy) is masked wherever it still
//!   appears in the line;
//! - with `redact_text`, free text and content links (captions, comment text, usernames,
//!   names, biographies, websites, media URLs, permalinks) are replaced by placeholders of the
//!   same type, so the records stay valid and the file can be shared.
//!
//! A write that fails is logged once and recording stops; the command goes on. It must not
//! change what is sent or received.

use crate::protocol::{Failure, Output};
use bytes::Bytes;
use fake_graph::recording::{self, CREDENTIAL_PARAMS, RECORDED_HEADERS};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Keys whose string values are free text (blanked with `redact_text`). `name` is kept in
/// insights objects (a metric's name), see [`is_metric`].
const FREE_TEXT: &[&str] = &["caption", "text", "username", "name", "biography", "website", "alt_text", "message"];
/// Keys whose string values are links to the user's content (replaced with `redact_text`).
const CONTENT_LINKS: &[&str] = &["media_url", "thumbnail_url", "permalink", "profile_picture_url", "shortcode"];
const TEXT_PLACEHOLDER: &str = "redacted";
const LINK_PLACEHOLDER: &str = "https://redacted.invalid/";

/// What the first line says about the command recorded.
pub struct Header<'a> {
    pub command: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The whole config (secrets are left out here).
    pub config: &'a Value,
    pub catalog: Option<&'a Value>,
    pub state: Option<&'a Value>,
}

/// An open recording.
pub struct Recording {
    file: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
    /// The path of `api_base_url` (a gateway's prefix), taken off recorded URLs.
    base_path: String,
    redact_text: bool,
    /// Masks every secret registered with the command's output.
    output: Output,
    /// Proxy credentials (not config secrets, so not registered with the output).
    proxy_secrets: Vec<String>,
}

impl Recording {
    /// Create `path` and write the first line.
    pub fn create(
        path: &Path,
        header: Header<'_>,
        api_base_url: &str,
        redact_text: bool,
        output: &Output,
    ) -> Result<Recording, Failure> {
        let file = std::fs::File::create(path)
            .map_err(|e| Failure::config(format!("Could not create the recording file {}: {e}", path.display())))?;
        let base_path =
            url::Url::parse(api_base_url).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default();
        let recording = Recording {
            file: Mutex::new(Some(std::io::BufWriter::new(file))),
            base_path,
            redact_text,
            output: output.clone(),
            proxy_secrets: proxy_secrets(),
        };
        let config = crate::settings::shareable(header.config);
        let api_version = config
            .get("api_version")
            .cloned()
            .or_else(|| crate::settings::spec_default("api_version").cloned())
            .unwrap_or(Value::Null);
        let first = json!({
            "recording": recording::FORMAT,
            "version": recording::VERSION,
            "command": header.command,
            "now": header.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "connector_version": env!("CARGO_PKG_VERSION"),
            "login": config.get("login").cloned().unwrap_or_else(|| json!("facebook")),
            "api_version": api_version,
            "redacted_text": redact_text,
            "config": config,
            "catalog": header.catalog,
            "state": header.state,
        });
        // What the user gave (config, catalog, state) keeps its text: only secrets are masked.
        recording.write(first, false);
        Ok(recording)
    }

    /// One exchange: the request (`uri`, and `body` for a POST) and its final answer.
    pub fn exchange(&self, method: &http::Method, uri: &http::Uri, body: &[u8], answer: &http::Response<Bytes>) {
        let mut line = self.request(method, uri, body);
        line.insert("status".into(), json!(answer.status().as_u16()));
        let mut headers = Map::new();
        for name in RECORDED_HEADERS {
            if let Some(value) = answer.headers().get(*name).and_then(|v| v.to_str().ok()) {
                headers.insert(name.to_string(), json!(value));
            }
        }
        line.insert("headers".into(), Value::Object(headers));
        let text = String::from_utf8_lossy(answer.body());
        let (key, mut value) = recording::body_field(&text);
        if line.contains_key("request")
            && let Value::Array(items) = &value
        {
            value = Value::Array(recording::batch_items_recorded(items));
        }
        line.insert(key.into(), value);
        self.write(Value::Object(line), self.redact_text);
    }

    /// A request that got no answer (the host gave up on the connection).
    pub fn failed(&self, method: &http::Method, uri: &http::Uri, body: &[u8], error: &str) {
        let mut line = self.request(method, uri, body);
        line.insert("error".into(), json!(error));
        self.write(Value::Object(line), self.redact_text);
    }

    /// `method`, `url` (under `api_base_url`) and, for a POST, the form sent.
    fn request(&self, method: &http::Method, uri: &http::Uri, body: &[u8]) -> Map<String, Value> {
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let under_base = path_and_query.strip_prefix(self.base_path.as_str()).unwrap_or(path_and_query);
        let mut line = Map::new();
        line.insert("method".into(), json!(method.as_str()));
        line.insert("url".into(), json!(recording::without_credentials(under_base)));
        if method == http::Method::POST && !body.is_empty() {
            let mut form = Map::new();
            for (k, v) in url::form_urlencoded::parse(body) {
                if CREDENTIAL_PARAMS.contains(&k.as_ref()) {
                    continue;
                }
                let value = match serde_json::from_str::<Value>(&v) {
                    Ok(parsed @ Value::Array(_)) if k == "batch" => parsed,
                    _ => json!(v),
                };
                form.insert(k.into_owned(), value);
            }
            line.insert("request".into(), Value::Object(form));
        }
        line
    }

    fn write(&self, mut line: Value, redact_text: bool) {
        redact(&mut line, redact_text);
        let mut text = self.output.redact(&line.to_string());
        for secret in &self.proxy_secrets {
            text = text.replace(secret.as_str(), "**********");
        }
        let mut file = self.file.lock().unwrap();
        let Some(writer) = file.as_mut() else { return };
        if let Err(e) = writeln!(writer, "{text}").and_then(|()| writer.flush()) {
            *file = None;
            self.output.log("WARN", &format!("Recording stopped: the recording file could not be written ({e})"));
        }
    }
}

/// `env` for `command` recording to `path`, with the guest's clock fixed (to `env`'s fixed
/// "now", else this second): the recorded requests, whose time windows follow that clock, are
/// asked again the same way by a replay that sets it (`SOURCE_INSTAGRAM_FAKE_NOW`).
pub fn recording_env(
    env: &crate::commands::RunEnv,
    path: &Path,
    redact_text: bool,
    command: &str,
    settings: &crate::settings::Settings,
    (catalog, state): (Option<&Value>, Option<&Value>),
    output: &Output,
) -> Result<crate::commands::RunEnv, Failure> {
    let now = env.now.unwrap_or_else(|| {
        let now = chrono::Utc::now();
        chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
    });
    let header = Header { command, now, config: &settings.config, catalog, state };
    let recording = Recording::create(path, header, &settings.api_base_url, redact_text, output)?;
    Ok(crate::commands::RunEnv { now: Some(now), recording: Some(std::sync::Arc::new(recording)), ..env.clone() })
}

/// Credentials in the proxy variables (`http://user:pass@proxy:3128`), raw and decoded.
fn proxy_secrets() -> Vec<String> {
    let mut out = Vec::new();
    for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let Some(u) = std::env::var(name).ok().and_then(|v| url::Url::parse(v.trim()).ok()) else { continue };
        for part in [u.username().to_string(), u.password().unwrap_or_default().to_string()] {
            if part.len() >= 3 {
                let decoded = url::form_urlencoded::parse(format!("x={part}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                out.push(part);
                out.push(decoded);
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// An insights metric object (its `name` is the metric's, not free text).
fn is_metric(o: &Map<String, Value>) -> bool {
    ["period", "values", "total_value"].iter().any(|k| o.contains_key(*k))
}

/// Redact a recorded value in place (see the module doc).
fn redact(v: &mut Value, redact_text: bool) {
    match v {
        Value::Object(o) => {
            let metric = is_metric(o);
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if k == "access_token" => *s = "REDACTED".into(),
                    Value::String(s) if redact_text && !s.is_empty() && CONTENT_LINKS.contains(&k.as_str()) => {
                        *s = LINK_PLACEHOLDER.into()
                    }
                    Value::String(s)
                        if redact_text
                            && !s.is_empty()
                            && FREE_TEXT.contains(&k.as_str())
                            && !(metric && k == "name") =>
                    {
                        *s = TEXT_PLACEHOLDER.into()
                    }
                    _ => redact(x, redact_text),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| redact(x, redact_text)),
        Value::String(s) => {
            if let Some(clean) = without_credential_params(s) {
                *s = clean;
            }
        }
        _ => {}
    }
}

/// `s` without credential parameters in any URL (or relative URL) it is or holds (a message
/// may quote one), when there was one.
fn without_credential_params(s: &str) -> Option<String> {
    let has_credential = |word: &str| {
        word.split_once('?').is_some_and(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| CREDENTIAL_PARAMS.contains(&k.as_ref()))
        })
    };
    if !s.split_whitespace().any(has_credential) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        out.push_str(&if has_credential(word) { recording::without_credentials(word) } else { word.to_string() });
        let space_end = rest[end..].find(|c: char| !c.is_whitespace()).map_or(rest.len(), |i| end + i);
        out.push_str(&rest[end..space_end]);
        rest = &rest[space_end..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Credentials leave every URL at any depth; `access_token` fields are blanked; free text
    /// and content links go with `redact_text`, a metric's name stays.
    #[test]
    fn redaction() {
        let mut v = json!({
            "data": [{"id": "1", "caption": "Our secret launch", "permalink": "https://www.instagram.com/p/X/",
                      "comments": {"data": [{"text": "hi", "from": {"username": "anna"}}],
                                   "paging": {"next": "https://graph.facebook.com/v27.0/1/comments?access_token=EAAT&after=x"}}},
                     {"name": "reach", "period": "day", "values": [{"value": 1}]}],
            "access_token": "page-token",
            "relative_url": "v27.0/me?fields=id&appsecret_proof=abc",
            "paging": {"next": "https://graph.facebook.com/v27.0/me/accounts?after=a&access_token=EAAT"}
        });
        redact(&mut v, false);
        assert_eq!(v["paging"]["next"], "https://graph.facebook.com/v27.0/me/accounts?after=a");
        assert_eq!(v["data"][0]["comments"]["paging"]["next"], "https://graph.facebook.com/v27.0/1/comments?after=x");
        assert_eq!(v["relative_url"], "v27.0/me?fields=id");
        let mut quoted = json!("(#100) see https://g/v1/x?access_token=EAAT&a=1 and /v1/y?appsecret_proof=p then");
        redact(&mut quoted, false);
        assert_eq!(quoted, "(#100) see https://g/v1/x?a=1 and /v1/y then");
        assert_eq!(v["access_token"], "REDACTED");
        assert_eq!(v["data"][0]["caption"], "Our secret launch", "text stays without redact_text");
        redact(&mut v, true);
        assert_eq!(v["data"][0]["caption"], TEXT_PLACEHOLDER);
        assert_eq!(v["data"][0]["permalink"], LINK_PLACEHOLDER);
        assert_eq!(v["data"][0]["comments"]["data"][0]["text"], TEXT_PLACEHOLDER);
        assert_eq!(v["data"][0]["comments"]["data"][0]["from"]["username"], TEXT_PLACEHOLDER);
        assert_eq!(v["data"][1]["name"], "reach", "a metric's name is not free text");
        assert_eq!(v["data"][0]["id"], "1");
    }
}
