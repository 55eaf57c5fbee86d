//! A tiny HTTP client for the tests (ureq, with 4xx/5xx answers as values).

#![allow(dead_code)]

use fake_graph::{Dataset, DatasetSpec, FakeGraph, FakeOptions};
use serde_json::Value;

pub const TOKEN: &str = "fake-token-0123456789";

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_json(&self, name: &str) -> Value {
        serde_json::from_str(self.header(name).unwrap_or_else(|| panic!("no {name} header"))).unwrap()
    }

    /// The Graph error object, asserting the status.
    pub fn error(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        let body = self.json();
        let error = body.get("error").unwrap_or_else(|| panic!("no error in {}", self.body)).clone();
        assert!(error["fbtrace_id"].is_string(), "fbtrace_id missing: {error}");
        assert!(error["type"].is_string() && error["message"].is_string() && error["code"].is_i64());
        error
    }

    /// The JSON body, asserting HTTP 200.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "unexpected status; body: {}", self.body);
        self.json()
    }
}

fn to_reply(response: ureq::Response) -> Reply {
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or("").to_string();
            (name, value)
        })
        .collect();
    Reply { status, headers, body: response.into_string().expect("readable body") }
}

fn send(result: Result<ureq::Response, ureq::Error>) -> Reply {
    match result {
        Ok(response) => to_reply(response),
        Err(ureq::Error::Status(_, response)) => to_reply(response),
        Err(e) => panic!("transport error: {e}"),
    }
}

/// GET with `Authorization: Bearer TOKEN`.
pub fn get(url: &str) -> Reply {
    get_with_token(url, Some(TOKEN))
}

pub fn get_with_token(url: &str, token: Option<&str>) -> Reply {
    let mut request = ureq::get(url);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    send(request.call())
}

/// GET without an Authorization header (token, if any, in the URL).
pub fn get_plain(url: &str) -> Reply {
    send(ureq::get(url).call())
}

/// POST a form with `Authorization: Bearer TOKEN`.
pub fn post_form(url: &str, form: &[(&str, &str)]) -> Reply {
    send(ureq::post(url).set("Authorization", &format!("Bearer {TOKEN}")).send_form(form))
}

pub fn post_form_plain(url: &str, form: &[(&str, &str)]) -> Reply {
    send(ureq::post(url).send_form(form))
}

pub fn start_small() -> FakeGraph {
    start(DatasetSpec::small(), FakeOptions::default())
}

/// A server with `options`, except that Meta's intermittent "Unsupported get request" is off
/// (these tests ask each request once and check its answer; `quirks.rs` tests it on its own).
pub fn start(spec: DatasetSpec, mut options: FakeOptions) -> FakeGraph {
    options.quirks.unsupported_get = None;
    FakeGraph::start(Dataset::generate(&spec), options).expect("server starts")
}
