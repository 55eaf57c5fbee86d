//! The unit of the allow-list: scheme, host and port of a URL or request URI.
//!
//! Owns parsing and comparing origins (default ports implied, hosts compared without case and
//! IPv6 brackets). It does not decide what is allowed (see `mod.rs`).

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
        Some(Origin {
            scheme: u.scheme().to_string(),
            host: u.host_str()?.to_ascii_lowercase(),
            port: u.port_or_known_default()?,
        })
    }

    pub(super) fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri.port_u16().or(match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })?;
        Some(Origin {
            scheme,
            host: uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(),
            port,
        })
    }

    pub(super) fn matches(&self, other: &Origin) -> bool {
        let strip = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_string();
        self.scheme == other.scheme && strip(&self.host) == strip(&other.host) && self.port == other.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
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
