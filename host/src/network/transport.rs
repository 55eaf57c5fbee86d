//! The HTTP client behind the `wasi:http` hook: one attempt of one request.
//!
//! Owns connections and their security: a keep-alive pool per origin (reqwest on hyper-util),
//! HTTP/2 through ALPN where the server offers it, TLS with rustls trusting Mozilla's roots,
//! the operating system's store, `SSL_CERT_FILE` / `SSL_CERT_DIR` and the operator's
//! `SOURCE_INSTAGRAM_CA_FILE`, and proxies from `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` /
//! `NO_PROXY` (either case; CONNECT for https; credentials from the proxy URL, never printed).
//! Failures come back in plain words and say whether retrying can help. It must not retry,
//! pace, or decide which origins are allowed (the policy in `mod.rs` does, before this runs).

use super::limits::{MAX_RESPONSE_SETTING, RETRY_BUDGET_SETTING, Timeouts};
use super::proxy::{PROXY_WORDS, proxy_configured, proxy_shown, proxy_wants_credentials};
use bytes::Bytes;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use std::error::Error as StdError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why an attempt failed.
#[derive(Debug)]
pub struct AttemptError {
    /// What happened, in plain words (what the guest and the user see).
    pub text: String,
    /// Retrying cannot help (an untrusted certificate, a proxy that refuses): fail at once.
    pub is_final: bool,
}

/// Marker words the guest uses to tell a configuration problem from a network hiccup (and
/// `proxy::PROXY_WORDS`).
pub const CERTIFICATE_WORDS: &str = "TLS certificate of";

/// A pooled client for one app token and origin.
pub struct Transport {
    /// For `http` URIs when no proxy variable is set: no TLS, so no trust store.
    plain: reqwest::Client,
    /// For everything else, with the trust store: built when first needed, so a read over
    /// plain http never loads (or holds) the roots.
    tls: std::sync::OnceLock<Result<reqwest::Client, String>>,
    roots: fn() -> rustls::RootCertStore,
    timeouts: Timeouts,
    keep_alive: bool,
}

/// Where CA certificates came from, for logs.
#[derive(Debug, Default, Clone)]
pub struct TrustSources {
    pub mozilla: usize,
    pub system: usize,
    pub extra_files: Vec<String>,
}

/// Every root the client trusts: Mozilla's (webpki-roots), the system store, and the PEM
/// files named by `SSL_CERT_FILE`, `SSL_CERT_DIR` (every file in it) and
/// `SOURCE_INSTAGRAM_CA_FILE`. Unreadable or malformed files are skipped (logged by the caller).
pub fn root_store() -> (rustls::RootCertStore, TrustSources, Vec<String>) {
    let mut roots = rustls::RootCertStore::empty();
    let mut sources = TrustSources::default();
    let mut problems = Vec::new();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    sources.mozilla = roots.len();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        if roots.add(cert).is_ok() {
            sources.system += 1;
        }
    }
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for var in ["SSL_CERT_FILE", "SOURCE_INSTAGRAM_CA_FILE"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            files.push(v.into());
        }
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs) {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let mut in_dir: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
                in_dir.sort();
                files.extend(in_dir);
            }
        }
    }
    for file in files {
        match add_pem_file(&mut roots, &file) {
            Ok(n) if n > 0 => sources.extra_files.push(format!("{} ({n})", file.display())),
            Ok(_) => problems.push(format!("{} holds no PEM certificate", file.display())),
            Err(e) => problems.push(format!("{}: {e}", file.display())),
        }
    }
    (roots, sources, problems)
}

fn add_pem_file(roots: &mut rustls::RootCertStore, file: &Path) -> Result<usize, String> {
    let iter = CertificateDer::pem_file_iter(file).map_err(|e| format!("cannot read it ({e})"))?;
    let mut n = 0;
    for cert in iter {
        let cert = cert.map_err(|e| format!("not a PEM certificate file ({e})"))?;
        if roots.add(cert).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

impl Transport {
    /// A client trusting `roots` (called once, when a request first needs TLS or a proxy);
    /// `keep_alive: false` opens a new connection per request (the benchmark's baseline).
    pub fn new(
        roots: fn() -> rustls::RootCertStore,
        timeouts: &Timeouts,
        keep_alive: bool,
    ) -> Result<Transport, String> {
        let plain = Self::client(rustls::RootCertStore::empty(), timeouts, keep_alive)?;
        Ok(Transport { plain, tls: std::sync::OnceLock::new(), roots, timeouts: timeouts.clone(), keep_alive })
    }

    /// The client for `uri`.
    fn for_uri(&self, uri: &http::Uri) -> Result<&reqwest::Client, AttemptError> {
        if uri.scheme_str() == Some("http") && !proxy_configured() {
            return Ok(&self.plain);
        }
        self.tls
            .get_or_init(|| Self::client((self.roots)(), &self.timeouts, self.keep_alive))
            .as_ref()
            .map_err(|e| AttemptError { text: e.clone(), is_final: true })
    }

    fn client(roots: rustls::RootCertStore, timeouts: &Timeouts, keep_alive: bool) -> Result<reqwest::Client, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.between_bytes)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true);
        if !keep_alive {
            builder = builder.pool_max_idle_per_host(0);
        }
        builder.build().map_err(|e| format!("HTTP client set-up: {e}"))
    }

    /// One attempt: send, wait for the head (first-byte limit), read the whole body (silence
    /// limit between chunks, never past `cap` bytes: a longer answer is dropped as soon as it
    /// shows, unread), all within the attempt's total limit.
    pub async fn send(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: Bytes,
        timeouts: &Timeouts,
        cap: u64,
    ) -> Result<http::Response<Bytes>, AttemptError> {
        let attempt = async {
            let request =
                self.for_uri(uri)?.request(method.clone(), uri.to_string()).headers(headers.clone()).body(body);
            let mut response = match tokio::time::timeout(timeouts.first_byte, request.send()).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(describe(&e, uri)),
                Err(_) => {
                    return Err(AttemptError {
                        text: format!("the server did not answer within {}", super::human(timeouts.first_byte)),
                        is_final: false,
                    });
                }
            };
            let status = response.status();
            if status == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
                // Meta never answers 407: a proxy (named by a variable, or a transparent one) did.
                return Err(proxy_wants_credentials(uri));
            }
            let version = response.version();
            let head = std::mem::take(response.headers_mut());
            if let Some(declared) = response.content_length().filter(|n| *n > cap) {
                return Err(too_large(uri, cap, &format!("it announces {}", megabytes(declared))));
            }
            let mut bytes = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) if (bytes.len() + chunk.len()) as u64 > cap => {
                        return Err(too_large(uri, cap, "it went on past that"));
                    }
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => return Err(describe(&e, uri)),
                }
            }
            let mut out = http::Response::new(Bytes::from(bytes));
            *out.status_mut() = status;
            *out.version_mut() = version;
            *out.headers_mut() = head;
            Ok(out)
        };
        match tokio::time::timeout(timeouts.total, attempt).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError {
                text: match timeouts.budget_left {
                    Some(budget) => format!(
                        "no complete answer within {} (what was left of the {} one request may spend on failed attempts, {RETRY_BUDGET_SETTING})",
                        super::human(timeouts.total),
                        super::human(budget)
                    ),
                    None => format!(
                        "no complete answer within {} (the time limit of one request)",
                        super::human(timeouts.total)
                    ),
                },
                is_final: false,
            }),
        }
    }
}

/// Words of the failure of an answer longer than the cap (the guest fails the request's stream).
pub const TOO_LARGE_WORDS: &str = "the cap on one answer";

/// An answer past the cap on one body: final (the same request gets the same answer).
fn too_large(uri: &http::Uri, cap: u64, how: &str) -> AttemptError {
    AttemptError {
        text: format!(
            "the answer to {} is larger than {}, {TOO_LARGE_WORDS} ({MAX_RESPONSE_SETTING}; {how}), so it was not read",
            uri.path(),
            megabytes(cap),
        ),
        is_final: true,
    }
}

/// A size in MiB, for messages.
fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1u64 << 20) as f64;
    if mb >= 10.0 || mb.fract() == 0.0 { format!("{mb:.0} MB") } else { format!("{mb:.1} MB") }
}

/// A reqwest failure in plain words, final when retrying cannot help.
fn describe(e: &reqwest::Error, uri: &http::Uri) -> AttemptError {
    let host = uri.host().unwrap_or("the server");
    let mut texts = Vec::new();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(reason) = certificate_problem(c) {
            return AttemptError {
                text: format!(
                    "the {CERTIFICATE_WORDS} {host} is not trusted: {reason}. If a company proxy or CA signs it, trust that CA with SSL_CERT_FILE, SSL_CERT_DIR or SOURCE_INSTAGRAM_CA_FILE"
                ),
                is_final: true,
            };
        }
        texts.push(c.to_string());
        cause = c.source();
    }
    let all = texts.join(": ");
    // The typed error did not surface through the chain: rustls's own words still name it.
    if let Some(at) = all.find("invalid peer certificate: ") {
        let rest = &all[at + "invalid peer certificate: ".len()..];
        let reason = certificate_reason_from_text(rest);
        return AttemptError {
            text: format!(
                "the {CERTIFICATE_WORDS} {host} is not trusted: {reason}. If a company proxy or CA signs it, trust that CA with SSL_CERT_FILE, SSL_CERT_DIR or SOURCE_INSTAGRAM_CA_FILE"
            ),
            is_final: true,
        };
    }
    let lower = all.to_ascii_lowercase();
    if lower.contains("proxy authorization required") || lower.contains("proxy authentication required") {
        return proxy_wants_credentials(uri);
    }
    if lower.contains("tunnel") || lower.contains("proxy") {
        return AttemptError {
            text: format!(
                "{PROXY_WORDS} {} did not open a connection to {host} ({}). Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY",
                proxy_shown(uri),
                texts.last().cloned().unwrap_or_default()
            ),
            is_final: true,
        };
    }
    let text = if lower.contains("connection closed before message completed") || lower.contains("connection reset") {
        "the server closed the connection before answering".to_string()
    } else if e.is_timeout() {
        "the server stopped sending data (read timeout)".to_string()
    } else if e.is_connect() {
        if lower.contains("refused") {
            format!("the connection to {host} was refused (nothing accepts connections at that address and port)")
        } else if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
            format!("the host name {host} could not be resolved")
        } else {
            format!("could not connect to {host} ({})", texts.last().cloned().unwrap_or_default())
        }
    } else if e.is_body() || e.is_decode() {
        "the answer ended before it was complete".to_string()
    } else {
        format!("the request failed ({})", texts.iter().skip(1).cloned().collect::<Vec<_>>().join(": "))
    };
    AttemptError { text, is_final: false }
}

/// The certificate problem behind an error, if it is one (rustls errors may sit inside an
/// `io::Error`, whose `source()` skips them).
fn certificate_problem(e: &(dyn StdError + 'static)) -> Option<String> {
    let rustls_error = e.downcast_ref::<rustls::Error>().or_else(|| {
        e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref())
    })?;
    use rustls::CertificateError as C;
    let reason = match rustls_error {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
            C::UnknownIssuer => "it is signed by an unknown issuer (no trusted CA)".to_string(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "it is not valid for this host name (name mismatch)".to_string()
            }
            C::Revoked => "it has been revoked".to_string(),
            C::BadSignature => "its signature is invalid".to_string(),
            other => format!("it was rejected ({other:?})"),
        },
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".to_string(),
        _ => return None,
    };
    Some(reason)
}

/// A certificate problem from rustls's `Display` text (`UnknownIssuer`, `Expired…`, …).
fn certificate_reason_from_text(text: &str) -> String {
    let known = [
        ("UnknownIssuer", "it is signed by an unknown issuer (no trusted CA)"),
        ("Expired", "it has expired"),
        ("NotValidYet", "it is not valid yet"),
        ("NotValidForName", "it is not valid for this host name (name mismatch)"),
        ("Revoked", "it has been revoked"),
        ("BadSignature", "its signature is invalid"),
    ];
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("certificate not valid for name") {
        return format!("it is not valid for this host name (name mismatch: {})", text.trim_end_matches(')'));
    }
    if lower.starts_with("certificate expired") {
        return "it has expired".to_string();
    }
    if lower.starts_with("certificate not valid yet") {
        return "it is not valid yet".to_string();
    }
    known
        .iter()
        .find(|(name, _)| text.starts_with(name))
        .map(|(_, words)| words.to_string())
        .unwrap_or_else(|| format!("it was rejected ({})", text.split([')', ':']).next().unwrap_or(text).trim()))
}
