//! Proxies as the operator sets them: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (either case).
//!
//! Owns checking those variables (one the HTTP client could not use is refused, never skipped
//! with traffic going around the proxy), naming the proxy in messages without its credentials,
//! and the failure of a proxy asking for credentials (407). It must not connect: reqwest reads
//! the variables and speaks to the proxy (see `transport`).

use super::transport::AttemptError;

/// Marker words the guest uses to tell a proxy problem (a config error) from a network hiccup.
pub const PROXY_WORDS: &str = "the proxy";

/// The variables that name a proxy (either case).
const PROXY_VARIABLES: [&str; 6] = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// A proxy variable is set: requests may go through a proxy (which may speak TLS).
pub fn proxy_configured() -> bool {
    PROXY_VARIABLES.iter().any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

/// The first proxy variable the client could not use (HTTP's client would skip it and send
/// around the proxy): its name and what is wrong, never its value (it may hold a password).
pub fn proxy_variable_problem() -> Option<String> {
    const HOW: &str = "write it as http://host:port or https://host:port (credentials as http://user:password@host:port), or unset it";
    for name in PROXY_VARIABLES {
        let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) else { continue };
        let Some(value) = value.to_str().map(str::trim) else {
            return Some(format!("the proxy variable {name} is not valid UTF-8; {HOW}"));
        };
        let problem = match url::Url::parse(value) {
            _ if !value.contains("://") => "has no scheme".to_string(),
            Err(e) => format!("is not a valid URL ({e})"),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                format!("names the scheme `{}`, which the connector does not support", u.scheme())
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => "names no host".to_string(),
            Ok(_) => continue,
        };
        return Some(format!("the proxy variable {name} {problem}; {HOW}"));
    }
    None
}

/// A proxy answered 407 (to a CONNECT or a forwarded request): final, naming the proxy.
pub(super) fn proxy_wants_credentials(uri: &http::Uri) -> AttemptError {
    AttemptError {
        text: format!(
            "{PROXY_WORDS} {} asks for credentials (HTTP 407 Proxy Authentication Required) and did not pass the request on to {}. Put them in the proxy URL (http://user:password@host:port) of HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, or exempt the host with NO_PROXY",
            proxy_shown(uri),
            uri.host().unwrap_or("the server")
        ),
        is_final: true,
    }
}

/// The proxy that applies to `uri`, without credentials, for messages.
pub(super) fn proxy_shown(uri: &http::Uri) -> String {
    let https = uri.scheme_str() == Some("https");
    let names: &[&str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    for name in names {
        if let Ok(v) = std::env::var(name)
            && !v.trim().is_empty()
        {
            return match url::Url::parse(v.trim()) {
                Ok(mut u) => {
                    let _ = u.set_username("");
                    let _ = u.set_password(None);
                    format!("{} (from {name})", u.as_str().trim_end_matches('/'))
                }
                Err(_) => format!("named by {name}"),
            };
        }
    }
    "in use".to_string()
}
