//! The guest's only way out: the `wasi:http` outgoing-request hook.
//!
//! Owns the network policy applied to every request the guest makes: the allow-list (only
//! the scheme, host and port of `api_base_url`, checked on the final request URI, never on
//! guest-supplied headers), credentials (the host adds the access token, so the guest never
//! holds it), timeouts, and observation of Meta's usage headers. Rate limiting and retries
//! belong here too. It must not interpret response bodies for the guest.

use crate::protocol::Output;
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Scheme, host and port: the unit of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute URL; `None` when it has no host or an unknown scheme.
    pub fn of_url(url: &str) -> Option<Origin> {
        let u = url::Url::parse(url).ok()?;
        Some(Origin { scheme: u.scheme().to_string(), host: u.host_str()?.to_ascii_lowercase(), port: u.port_or_known_default()? })
    }

    fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri.port_u16().or(match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })?;
        Some(Origin { scheme, host: uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(), port })
    }

    fn matches(&self, other: &Origin) -> bool {
        let strip = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_string();
        self.scheme == other.scheme && strip(&self.host) == strip(&other.host) && self.port == other.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Counters shared with the CLI (for summaries and tests).
#[derive(Debug, Default)]
pub struct NetStats {
    pub sent: AtomicU64,
    pub denied: AtomicU64,
}

/// The policy for one guest instance.
pub struct NetworkPolicy {
    allowed: Origin,
    token: Option<Arc<str>>,
    output: Output,
    stats: Arc<NetStats>,
}

impl NetworkPolicy {
    pub fn new(allowed: Origin, token: Option<String>, output: Output) -> Self {
        Self { allowed, token: token.map(Arc::from), output, stats: Arc::default() }
    }

    pub fn stats(&self) -> Arc<NetStats> {
        self.stats.clone()
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(300);
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(120);

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for NetworkPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let target = Origin::of_uri(request.uri());
        if !target.as_ref().is_some_and(|t| t.matches(&self.allowed)) {
            self.stats.denied.fetch_add(1, Ordering::Relaxed);
            let shown = target.map(|t| t.to_string()).unwrap_or_else(|| "a URL without a host".into());
            self.output.log(
                "WARN",
                &format!("Network policy refused a request from the connector to {shown}: only {} is allowed", self.allowed),
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if let Some(token) = &self.token {
            if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
                let mut value = value;
                value.set_sensitive(true);
                request.headers_mut().insert(http::header::AUTHORIZATION, value);
            }
        }
        let options = RequestOptions {
            connect_timeout: Some(options.as_ref().and_then(|o| o.connect_timeout).unwrap_or(CONNECT_TIMEOUT).min(CONNECT_TIMEOUT)),
            first_byte_timeout: Some(FIRST_BYTE_TIMEOUT),
            between_bytes_timeout: Some(BETWEEN_BYTES_TIMEOUT),
        };
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the exact scheme, host and port pass; default ports are implied.
    #[test]
    fn origins() {
        let allowed = Origin::of_url("https://graph.facebook.com").unwrap();
        let check = |u: &str| Origin::of_uri(&u.parse::<http::Uri>().unwrap()).is_some_and(|o| o.matches(&allowed));
        assert!(check("https://graph.facebook.com/v25.0/me"));
        assert!(check("https://GRAPH.facebook.com:443/x"));
        assert!(!check("http://graph.facebook.com/x"));
        assert!(!check("https://graph.facebook.com.evil.test/x"));
        assert!(!check("https://graph.facebook.com:8443/x"));
        assert!(!check("https://127.0.0.1/x"));
    }
}
