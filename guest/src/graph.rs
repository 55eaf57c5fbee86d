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
use serde_json::Value;
use std::time::Duration;

/// Meta's documented maximum of operations per batch request.
pub const MAX_BATCH_OPS: usize = 50;
/// Page size asked of every edge (Meta caps it per edge).
pub const PAGE_LIMIT: &str = "100";
mod errors;
pub use errors::*;

/// The permissions a Facebook-Login token needs for every stream.
pub const REQUIRED_PERMISSIONS: &str = "instagram_basic, instagram_manage_insights, pages_show_list, pages_read_engagement (and business_management if the account is managed in Business Manager)";

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
