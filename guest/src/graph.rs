//! The Graph API client: URLs, GET, cursor paging, batch requests and Meta's error shapes.
//!
//! Owns how a Graph response is turned into JSON or a typed error, and how that error is
//! classified for Airbyte. Every answer it parses has its paging links moved onto
//! `api_base_url` (see `links`). It does not retry, sleep or add credentials: the host's network
//! policy does all three for every request, including the pages this client follows.

use crate::config::Config;
use crate::error::ConnectorError;
use crate::http;
use crate::links::Links;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Meta's documented maximum of operations per batch request.
pub const MAX_BATCH_OPS: usize = 50;
/// Page size asked of every edge (Meta caps it per edge).
pub const PAGE_LIMIT: &str = "100";
/// The permissions a Facebook-Login token needs for every stream.
pub const REQUIRED_PERMISSIONS: &str = "instagram_basic, instagram_manage_insights, pages_show_list, pages_read_engagement (and business_management if the account is managed in Business Manager)";

/// The `error` object of a Graph API error response.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GraphError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub is_transient: Option<bool>,
    pub fbtrace_id: Option<String>,
}

/// What Meta's message says when an answer would hold too much data (code 1).
pub const TOO_MUCH_DATA: &str = "reduce the amount of data";

/// Graph codes that mean "you are being throttled".
pub const THROTTLE_CODES: &[i64] =
    &[4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014];

impl GraphError {
    pub fn is_throttle(&self) -> bool {
        THROTTLE_CODES.contains(&self.code)
    }
    pub fn is_permission(&self) -> bool {
        self.code == 10 || self.code == 3 || (200..=299).contains(&self.code)
    }
    /// The token was rejected. Code 2500 is that only when it speaks of the token ("An
    /// active access token must be used…"); "Unknown path components" shares the code.
    pub fn is_token(&self) -> bool {
        matches!(self.code, 190 | 102 | 104)
            || (self.code == 2500 && self.message.to_ascii_lowercase().contains("access token"))
    }
    /// Code 100 about `appsecret_proof`: the app requires one ("Require App Secret") and the
    /// call had none ("API calls from the server require an appsecret_proof argument") or a
    /// wrong one ("Invalid appsecret_proof provided in the API argument").
    pub fn is_appsecret_proof(&self) -> bool {
        self.code == 100 && self.message.contains("appsecret_proof")
    }
    /// Code 1 "Please reduce the amount of data you're asking for, then retry your request":
    /// the same request fails again; a smaller one may not.
    pub fn is_too_much_data(&self) -> bool {
        self.code == 1 && self.message.contains(TOO_MUCH_DATA)
    }
    fn describe(&self) -> String {
        match self.error_subcode {
            Some(sub) => format!("Graph API error {}/{}: {}", self.code, sub, self.message),
            None => format!("Graph API error {}: {}", self.code, self.message),
        }
    }
}

/// Why one API call failed.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// Meta answered with its error shape.
    Graph { status: u16, error: GraphError, url: String },
    /// A non-2xx answer that is not Meta's error shape (e.g. an HTML error page).
    Status { status: u16, body: String, url: String },
    /// A 2xx answer whose body is not the JSON expected.
    Body { detail: String, url: String },
    /// No answer: connection refused, timeout, or refused by the host's network policy.
    Transport { detail: String, url: String },
}

impl ApiError {
    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            ApiError::Graph { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Turn the failure into what the user sees; `doing` says what the call was for.
    pub fn into_connector(self, doing: &str) -> ConnectorError {
        match self {
            ApiError::Graph { status, error, url } => {
                let detail = error.describe();
                let internal = format!(
                    "HTTP {status} from {url}: {detail} (fbtrace_id {})",
                    error.fbtrace_id.clone().unwrap_or_default()
                );
                let e = if error.is_appsecret_proof() && error.message.contains("Invalid") {
                    ConnectorError::config(format!(
                        "Meta refused {doing}: the app requires an app secret proof and the one sent does not match ({detail}). `client_secret` is not the secret of the app that issued the token: set it to that app's secret (App settings > Basic)."
                    ))
                    .for_whole_read()
                } else if error.is_appsecret_proof() {
                    ConnectorError::config(format!(
                        "Meta refused {doing}: the app's setting \"Require App Secret\" is on, so every call needs an app secret proof ({detail}). Set `client_secret` to the app's secret (the connector then signs every call), or turn \"Require App Secret\" off in the app's Advanced settings."
                    ))
                    .for_whole_read()
                } else if error.is_token() {
                    ConnectorError::config(format!(
                        "The access token was rejected while {doing} ({detail}). It is invalid or has expired: generate a new long-lived token with the permissions {REQUIRED_PERMISSIONS} and update `access_token`."
                    ))
                    .for_whole_read()
                } else if error.is_permission() {
                    ConnectorError::config(format!(
                        "The access token lacks a permission needed for {doing} ({detail}). The token needs {REQUIRED_PERMISSIONS}."
                    ))
                } else if error.code == 2635 || error.code == 12 {
                    ConnectorError::config(format!(
                        "Meta no longer serves the configured `api_version` ({detail}); set `api_version` to a current version."
                    ))
                    .for_whole_read()
                } else if error.is_throttle() {
                    ConnectorError::transient(format!(
                        "Meta's rate limit stopped {doing} ({detail}); the sync can be retried later."
                    ))
                } else if error.is_too_much_data() {
                    ConnectorError::system(format!("Meta refused {doing} as too much data at once ({detail})."))
                } else if error.is_transient == Some(true) || matches!(error.code, 1 | 2) || status >= 500 {
                    ConnectorError::transient(format!("Meta had a temporary failure while {doing} ({detail})."))
                } else {
                    ConnectorError::system(format!("The Graph API refused {doing} ({detail})."))
                };
                e.with_internal(internal)
            }
            ApiError::Status { status, body, url } => {
                let e = if status >= 500 || status == 429 {
                    ConnectorError::transient(format!("The Graph API answered HTTP {status} while {doing}."))
                } else {
                    ConnectorError::system(format!(
                        "The Graph API answered HTTP {status} with a body that is not a Graph error while {doing}."
                    ))
                };
                e.with_internal(format!("HTTP {status} from {url}; body starts: {body}"))
            }
            ApiError::Body { detail, url } => ConnectorError::system(format!(
                "The Graph API sent a response that is not what Meta documents while {doing}: {detail}."
            ))
            .with_internal(format!("from {url}: {detail}")),
            ApiError::Transport { detail, url } => {
                let detail = crate::error::transport_words(&detail);
                if detail.contains("TLS certificate of") || detail.starts_with("the proxy ") {
                    // The host says retrying cannot help: the user must trust a CA or fix a proxy.
                    ConnectorError::config(format!("Could not reach the Graph API while {doing}: {detail}."))
                        .with_internal(format!("request to {url} failed: {detail}"))
                        .for_whole_read()
                } else if detail.contains("network policy refused") {
                    ConnectorError::system(format!(
                        "The host's network policy refused a request while {doing}: only the configured `api_base_url` may be reached."
                    ))
                    .with_internal(format!("request to {url} denied: {detail}"))
                } else {
                    ConnectorError::transient(format!("Could not reach the Graph API while {doing}: {detail}."))
                        .with_internal(format!("request to {url} failed: {detail}"))
                }
            }
        }
    }
}

/// Remove `access_token` from a URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.query_pairs().any(|(k, _)| k == "access_token") => {
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    if k == "access_token" {
                        (k.into_owned(), "REDACTED".into())
                    } else {
                        (k.into_owned(), v.into_owned())
                    }
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(kept);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".into(),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// Interpret one Graph answer (status + body) the way Meta documents it.
pub fn parse_response(status: u16, body: &[u8], url: &str) -> Result<Value, ApiError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    if (200..300).contains(&status) {
        return match parsed {
            Ok(v) => match v.get("error") {
                Some(err) => graph_error(status, err, url, body),
                None => Ok(v),
            },
            Err(e) => Err(ApiError::Body {
                detail: format!("invalid JSON ({e}); body starts: {}", excerpt(body)),
                url: redact_url(url),
            }),
        };
    }
    match parsed.ok().and_then(|v| v.get("error").cloned()) {
        Some(err) => graph_error(status, &err, url, body),
        None => Err(ApiError::Status { status, body: excerpt(body), url: redact_url(url) }),
    }
}

fn graph_error(status: u16, err: &Value, url: &str, body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_value::<GraphError>(err.clone()) {
        Ok(error) => Err(ApiError::Graph { status, error, url: redact_url(url) }),
        Err(_) => Err(ApiError::Status {
            status: if status < 300 { 500 } else { status },
            body: excerpt(body),
            url: redact_url(url),
        }),
    }
}

/// One page of an edge: `data` plus the absolute URL of the next page, if any.
#[derive(Debug)]
pub struct Page {
    pub data: Vec<Value>,
    pub next: Option<String>,
    /// `paging.cursors.after`, if Meta sent it.
    pub after: Option<String>,
}

/// Split an edge response into its items and `paging.next`.
pub fn parse_page(v: Value, url: &str) -> Result<Page, ApiError> {
    let next = v.pointer("/paging/next").and_then(Value::as_str).map(str::to_string);
    let after = v.pointer("/paging/cursors/after").and_then(Value::as_str).map(str::to_string);
    match v {
        Value::Object(mut o) if o.get("data").is_some_and(Value::is_array) => {
            let Some(Value::Array(data)) = o.remove("data") else { unreachable!("checked above") };
            Ok(Page { data, next, after })
        }
        _ => Err(ApiError::Body { detail: "an edge response has no `data` array".into(), url: redact_url(url) }),
    }
}

/// The Graph API, as the guest reaches it through `wasi:http`.
pub struct GraphClient {
    base: String,
    version: String,
    client: waki::Client,
    /// Where paging links are followed.
    links: Links,
    /// Graph batch requests are a graph.facebook.com feature; with Instagram Login the
    /// operations are sent as concurrent GETs instead.
    batch_supported: bool,
}

impl GraphClient {
    pub fn new(config: &Config) -> Self {
        Self {
            base: config.api_base_url.clone(),
            version: config.api_version.clone(),
            client: waki::Client::new(),
            links: Links::new(&config.api_base_url),
            batch_supported: config.login == crate::config::Login::Facebook,
        }
    }

    /// `{base}/{version}/{path}?{query}`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut u = format!("{}/{}/{}", self.base, self.version, path);
        if !query.is_empty() {
            u.push('?');
            u.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
        }
        u
    }

    /// `{version}/{path}?{query}` for a batch operation.
    pub fn relative_url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let full = self.url(path, query);
        full[self.base.len() + 1..].to_string()
    }

    /// GET an absolute URL and return its JSON.
    pub fn get_url(&self, url: &str) -> Result<Value, ApiError> {
        let response = self
            .client
            .get(url)
            .headers(crate::auth::headers_for(url))
            .connect_timeout(Duration::from_secs(30))
            .send()
            .map_err(|e| ApiError::Transport { detail: format!("{e:#}"), url: redact_url(url) })?;
        let status = response.status_code();
        let body = response
            .body()
            .map_err(|e| ApiError::Transport { detail: format!("reading the body: {e:#}"), url: redact_url(url) })?;
        self.moved(parse_response(status, &body, url))
    }

    /// An answer with its paging links moved onto `api_base_url`.
    fn moved(&self, answer: Result<Value, ApiError>) -> Result<Value, ApiError> {
        answer.map(|mut v| {
            self.links.rewrite(&mut v);
            v
        })
    }

    /// GET `path` under the API version.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        self.get_url(&self.url(path, query))
    }

    /// Walk an edge page by page, following `paging.next` until it is absent or `on_page`
    /// returns `false`. No request is made after the last page.
    pub fn for_each_page(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut on_page: impl FnMut(Vec<Value>) -> Result<bool, ConnectorError>,
        doing: &str,
    ) -> Result<(), ConnectorError> {
        let mut url = self.url(path, query);
        let mut seen = std::collections::BTreeSet::from([url.clone()]);
        loop {
            let value = self.get_url(&url).map_err(|e| e.into_connector(doing))?;
            let page = parse_page(value, &url).map_err(|e| e.into_connector(doing))?;
            if !on_page(page.data)? {
                return Ok(());
            }
            match page.next {
                Some(next) if seen.insert(next.clone()) => url = next,
                _ => return Ok(()),
            }
        }
    }

    /// Whether operations go out as Graph batch requests (Facebook Login) or as single GETs.
    pub fn batch_supported(&self) -> bool {
        self.batch_supported
    }

    /// The absolute URL of a batch operation's relative URL.
    pub fn absolute(&self, relative_url: &str) -> String {
        format!("{}/{relative_url}", self.base)
    }

    /// A GET of an absolute URL, for the scheduler.
    pub fn get_request(&self, url: &str) -> http::Request {
        http::Request { method: http::Method::Get, url: url.to_string(), body: None, account: None }
    }

    /// One Graph batch request (at most [`MAX_BATCH_OPS`] GET operations, relative URLs).
    pub fn batch_request(&self, relative_urls: &[&str]) -> http::Request {
        let batch: Vec<Value> =
            relative_urls.iter().map(|u| serde_json::json!({"method": "GET", "relative_url": u})).collect();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("batch", &Value::Array(batch).to_string())
            .append_pair("include_headers", "false")
            .finish();
        http::Request {
            method: http::Method::Post,
            url: format!("{}/{}/", self.base, self.version),
            body: Some(("application/x-www-form-urlencoded", body.into_bytes())),
            account: None,
        }
    }

    /// Split a batch answer into each operation's own outcome; the outer error is for the
    /// batch call itself.
    pub fn parse_batch(
        &self,
        answer: Result<http::Response, String>,
        relative_urls: &[&str],
    ) -> Result<Vec<Result<Value, ApiError>>, ApiError> {
        let url = format!("{}/{}/", self.base, self.version);
        let answer = answer.map_err(|detail| ApiError::Transport { detail, url: url.clone() })?;
        let value = parse_response(answer.status, &answer.body, &url)?;
        let Value::Array(items) = value else {
            return Err(ApiError::Body { detail: "a batch response is not a JSON array".into(), url });
        };
        if items.len() != relative_urls.len() {
            return Err(ApiError::Body {
                detail: format!("a batch of {} operations returned {} results", relative_urls.len(), items.len()),
                url,
            });
        }
        Ok(items
            .into_iter()
            .zip(relative_urls)
            .map(|(item, op)| self.moved(parse_batch_item(item, &self.absolute(op))))
            .collect())
    }

    /// One GET answer as JSON (or its typed error).
    pub fn parse_get(&self, answer: Result<http::Response, String>, url: &str) -> Result<Value, ApiError> {
        match answer {
            Ok(r) => self.moved(parse_response(r.status, &r.body, url)),
            Err(detail) => Err(ApiError::Transport { detail, url: redact_url(url) }),
        }
    }
}

/// One element of a batch response: `{"code": 200, "body": "<json string>"}`, or `null` when
/// Meta could not run the operation in time (retryable).
pub fn parse_batch_item(item: Value, url: &str) -> Result<Value, ApiError> {
    if item.is_null() {
        return Err(ApiError::Status {
            status: 503,
            body: "batch operation did not complete (null result)".into(),
            url: redact_url(url),
        });
    }
    let code = item.get("code").and_then(Value::as_u64).unwrap_or(0) as u16;
    let body = item.get("body").and_then(Value::as_str).unwrap_or("");
    if code == 0 {
        return Err(ApiError::Body { detail: "a batch result has no `code`".into(), url: redact_url(url) });
    }
    parse_response(code, body.as_bytes(), url)
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
