//! Which of Meta's two rate limits a request counts against. Business discovery
//! (`fields=business_discovery…`) and hashtag search (`ig_hashtag_search`, `{hashtag-id}`,
//! `/top_media`, `/recent_media`) count against the platform rate limit (200 calls per user and
//! hour, reported in `X-App-Usage`, throttled with code 4 or 17); every other Instagram call
//! counts against the business use-case limit of its account (`X-Business-Use-Case-Usage`,
//! code 80002).
//!
//! Owns that classification and what it changes: a platform-limit throttle pauses only
//! platform-counted calls ([`super::pauses::Scope::Platform`]), and platform-counted calls are
//! paced by the platform usage alone. It must not send, sleep or parse anything but the
//! request line and batch operations.

use super::pauses::Scope;
use super::retry::BatchBody;
use super::usage::UsageReading;
use bytes::Bytes;

/// The limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Platform rate limit (business discovery, hashtag search).
    Platform,
    /// Business use-case limit of the account(s) the request is about.
    BusinessUseCase,
}

/// Whether one path-and-query is a platform-counted call.
fn counts_on_platform(path_and_query: &str) -> bool {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut segments = path.trim_start_matches('/').split('/').filter(|s| !s.is_empty());
    let mut first = segments.next().unwrap_or("");
    if first.starts_with('v') && first.contains('.') {
        first = segments.next().unwrap_or("");
    }
    let edge = segments.next().unwrap_or("");
    first == "ig_hashtag_search"
        || matches!(edge, "top_media" | "recent_media")
        || url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "fields" && v.contains("business_discovery"))
}

/// The limit of a request (a batch counts on the platform when any operation does).
pub fn limit_of(method: &http::Method, uri: &http::Uri, body: &Bytes) -> Limit {
    let own = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let platform = counts_on_platform(own)
        || (method == http::Method::POST
            && BatchBody::parse(body).is_some_and(|b| {
                b.ops.iter().filter_map(|op| op.get("relative_url")?.as_str()).any(counts_on_platform)
            }));
    if platform { Limit::Platform } else { Limit::BusinessUseCase }
}

/// The Graph objects a request is about: the account the guest named (`account`), else the
/// first path segment after the version, for the request itself or for each operation of a
/// batch (`me` and the root are about no account).
pub fn subjects(method: &http::Method, uri: &http::Uri, account: Option<&str>, body: &[u8]) -> Vec<String> {
    if let Some(account) = account {
        return vec![account.to_string()];
    }
    fn first_id(path: &str) -> Option<String> {
        let mut parts = path.trim_start_matches('/').split(['/', '?']).filter(|p| !p.is_empty());
        let mut first = parts.next()?;
        if first.starts_with('v') && first.contains('.') {
            first = parts.next()?;
        }
        (first != "me").then(|| first.to_string())
    }
    let mut ids: Vec<String> = match BatchBody::parse(body).filter(|_| method == http::Method::POST) {
        Some(batch) => batch.ops.iter().filter_map(|op| op.get("relative_url")?.as_str().and_then(first_id)).collect(),
        None => first_id(uri.path()).into_iter().collect(),
    };
    ids.sort();
    ids.dedup();
    ids
}

/// The scope a throttle of a platform-counted request pauses: Meta's platform limit codes
/// (4, 17) hold back only the platform-counted calls; other codes keep their usual scope.
pub fn throttle_scope(limit: Limit, codes: &[i64]) -> Option<Vec<Scope>> {
    (limit == Limit::Platform && codes.iter().any(|c| matches!(c, 4 | 17))).then(|| vec![Scope::Platform])
}

/// The usage a platform-counted response reports: `X-App-Usage` only (its business use-case
/// rows, if any, are not about this limit).
pub fn platform_reading(reading: &UsageReading) -> UsageReading {
    UsageReading { app_percent: reading.app_percent, accounts: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Discovery and hashtag calls count on the platform; the account's own calls do not.
    #[test]
    fn classification() {
        let get = |u: &str| limit_of(&http::Method::GET, &u.parse().unwrap(), &Bytes::new());
        assert_eq!(get("http://g/v25.0/ig_hashtag_search?user_id=1&q=sunset"), Limit::Platform);
        assert_eq!(get("http://g/v25.0/17843/recent_media?user_id=1"), Limit::Platform);
        assert_eq!(get("http://g/v25.0/17843/top_media"), Limit::Platform);
        assert_eq!(get("http://g/v25.0/1784?fields=business_discovery.username(rival)%7Bid%7D"), Limit::Platform);
        assert_eq!(get("http://g/v25.0/1784/media?fields=id,caption"), Limit::BusinessUseCase);
        assert_eq!(get("http://g/v25.0/me/accounts"), Limit::BusinessUseCase);
        assert_eq!(throttle_scope(Limit::Platform, &[17]), Some(vec![Scope::Platform]));
        assert_eq!(throttle_scope(Limit::Platform, &[80002]), None);
        assert_eq!(throttle_scope(Limit::BusinessUseCase, &[4]), None);
    }
}
