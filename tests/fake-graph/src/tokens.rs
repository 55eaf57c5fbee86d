//! Access tokens and the two endpoints that renew them, as Meta documents them.
//!
//! Owns which tokens are valid (the dataset's token, plus every token issued by a renewal,
//! minus the revoked ones), when each was issued, and the answers of
//! - `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…` (Instagram Login,
//!   graph.instagram.com; no version in Meta's path, one is accepted): a long-lived token at
//!   least 24 hours old gets a new 60-day token;
//! - `GET /{version}/oauth/access_token?grant_type=fb_exchange_token&client_id=…&client_secret=…&fb_exchange_token=…`
//!   (Facebook Login): a valid token is exchanged for a fresh long-lived one when the app id
//!   and secret are right.
//!
//! Both answer `{"access_token", "token_type": "bearer", "expires_in"}`. Errors, in Meta's
//! envelope: a wrong app id is code 101 ("Error validating application. Invalid application
//! ID."), a wrong secret code 1 ("Error validating client secret."), a bad or expired token
//! code 190, a wrong `grant_type` code 100. Meta does not document the answer for a token
//! younger than 24 hours; the fake refuses it with a code-100 `OAuthException` naming the
//! rule (a connector must treat any refusal alike). With `revoke_on_renewal`, the token a
//! renewal replaced is refused afterwards (190/460), so a test can prove a client only uses
//! the new one. With `require_appsecret_proof` (Meta's app setting "Require App Secret"), every
//! API call must carry `appsecret_proof`, the hex HMAC-SHA256 of its token keyed with the app
//! secret, or fails as Meta answers: code 100 `GraphMethodException` "API calls from the server
//! require an appsecret_proof argument", or "Invalid appsecret_proof provided in the API
//! argument" for a wrong one. Tokens also come from the OAuth code exchanges (`oauth`): those are short-lived
//! until `fb_exchange_token` or `ig_exchange_token` (here) trades them for long-lived ones.
//! Nothing here knows about HTTP (see `server`).

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, Utc};
use serde_json::Value;

use crate::dataset::Dataset;
use crate::graph_error::GraphError;
use crate::request::Params;
use crate::stable_hash::{BASE62, encode_chars, hash_parts};

/// The fake app's id (`client_id`) and secret (`client_secret`) by default.
pub const FAKE_APP_ID: &str = "1234567890123456";
pub const FAKE_APP_SECRET: &str = "fake-app-secret-0123456789abcdef";

/// The token that is answered with "session has expired" (190 / 463).
pub const EXPIRED_TOKEN: &str = "expired-token";

/// Seconds a renewed long-lived token is valid (about 60 days, as Meta's samples show).
pub const LONG_LIVED_EXPIRES_IN: i64 = 5_183_944;

/// How old a long-lived Instagram token must be before it can be refreshed.
pub const MIN_REFRESH_AGE_HOURS: i64 = 24;

/// What a token stands for, as Meta issues them (it decides which usage headers Meta sends,
/// see [`crate::usage_headers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A Facebook user (or system-user) token: `me` is a user, `me/accounts` lists Pages.
    User,
    /// A Facebook Page token.
    Page,
    /// An Instagram user token (Instagram Login, `IGAA…`).
    Instagram,
}

/// The tokens side of [`crate::FakeOptions`].
#[derive(Clone, Debug)]
pub struct TokenOptions {
    pub app_id: String,
    pub app_secret: String,
    /// How long before the dataset's "now" its token was issued (default 10 days); under
    /// 24 hours, Instagram refresh refuses it.
    pub token_age: ChronoDuration,
    /// Once a renewal succeeds, the token it replaced stops working.
    pub revoke_on_renewal: bool,
    /// How long an OAuth authorization code can be exchanged (Meta: 10 minutes for Facebook,
    /// 1 hour for Instagram); zero makes every code expired.
    pub code_lifetime: std::time::Duration,
    /// The login dialogs stand for a person who declines (`error=access_denied`).
    pub deny_consent: bool,
    /// The app's setting "Require App Secret": API calls without a valid `appsecret_proof`
    /// are refused.
    pub require_appsecret_proof: bool,
    /// What a renewal hands back (a working token, unless a test asks for an unusable one).
    pub renewal_gives: RenewalToken,
    /// Instagram's code exchange answers in the shape of Meta's Business Login page,
    /// `{"data": [{"access_token", "user_id", "permissions"}]}`, instead of the flat one.
    pub ig_code_answer_in_data: bool,
    /// What the dataset's token is (default: a user token).
    pub kind: TokenKind,
}

/// The token a renewal answers with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RenewalToken {
    /// A new token that works (issued and known to the fake).
    #[default]
    Working,
    /// A string with control characters in it.
    ControlCharacters,
    /// An 8 MB string.
    Huge,
    /// A token-shaped string the fake does not know: every call with it is refused (190).
    Rejected,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            app_id: FAKE_APP_ID.into(),
            app_secret: FAKE_APP_SECRET.into(),
            token_age: ChronoDuration::days(10),
            revoke_on_renewal: false,
            code_lifetime: std::time::Duration::from_secs(600),
            deny_consent: false,
            require_appsecret_proof: false,
            ig_code_answer_in_data: false,
            renewal_gives: RenewalToken::Working,
            kind: TokenKind::User,
        }
    }
}

/// One token the fake accepts.
struct Issued {
    token: String,
    at: DateTime<Utc>,
    /// From an OAuth code exchange, not yet exchanged for a long-lived token.
    short: bool,
}

struct Book {
    issued: Vec<Issued>,
    revoked: BTreeSet<String>,
}

/// The valid tokens of one server.
pub(crate) struct Tokens {
    options: TokenOptions,
    book: Mutex<Book>,
}

impl Tokens {
    pub(crate) fn new(ds: &Dataset, options: TokenOptions) -> Tokens {
        let first = Issued { token: ds.token().to_string(), at: ds.now() - options.token_age, short: false };
        Tokens { options, book: Mutex::new(Book { issued: vec![first], revoked: BTreeSet::new() }) }
    }

    /// Whether `token` may call the API.
    pub(crate) fn check(&self, ds: &Dataset, token: Option<&str>) -> Result<(), GraphError> {
        match token {
            None | Some("") => Err(GraphError::missing_token()),
            Some(EXPIRED_TOKEN) => {
                let pdt = FixedOffset::west_opt(7 * 3600).unwrap();
                let now = ds.now().with_timezone(&pdt);
                let expired = (ds.now() - ChronoDuration::days(2)).with_timezone(&pdt);
                let expired = expired.date_naive().and_hms_opt(10, 0, 0).unwrap();
                let format = "%A, %d-%b-%y %H:%M:%S PDT";
                Err(GraphError::expired_token(&expired.format(format).to_string(), &now.format(format).to_string()))
            }
            Some(t) => {
                let book = self.book.lock().unwrap();
                if book.revoked.contains(t) {
                    Err(session_invalidated())
                } else if book.issued.iter().any(|i| i.token == t) {
                    Ok(())
                } else {
                    Err(GraphError::invalid_token())
                }
            }
        }
    }

    pub(crate) fn options(&self) -> &TokenOptions {
        &self.options
    }

    /// Whether a call with `token` carrying `proof` passes the app's "Require App Secret".
    pub(crate) fn check_proof(&self, token: Option<&str>, proof: Option<&str>) -> Result<(), GraphError> {
        if !self.options.require_appsecret_proof {
            return Ok(());
        }
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.options.app_secret.as_bytes()).expect("any key length");
        mac.update(token.unwrap_or_default().as_bytes());
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        match proof {
            None | Some("") => Err(GraphError::new(
                400,
                100,
                "GraphMethodException",
                "API calls from the server require an appsecret_proof argument",
            )),
            Some(p) if p == expected => Ok(()),
            Some(_) => Err(GraphError::new(
                400,
                100,
                "GraphMethodException",
                "Invalid appsecret_proof provided in the API argument",
            )),
        }
    }

    /// What `token` is: the dataset's token is of the configured kind; a renewed token is an
    /// Instagram token when Instagram's refresh issued it (`IGAA…`), else a user token.
    pub(crate) fn kind_of(&self, ds: &Dataset, token: &str) -> TokenKind {
        if token == ds.token() {
            self.options.kind
        } else if token.starts_with("IGAA") {
            TokenKind::Instagram
        } else {
            TokenKind::User
        }
    }

    /// Every token issued by a renewal or an exchange so far, oldest first.
    pub(crate) fn renewed(&self) -> Vec<String> {
        self.book.lock().unwrap().issued.iter().skip(1).map(|i| i.token.clone()).collect()
    }

    /// The answer of a token endpoint, or `None` when `segments` is not one.
    pub(crate) fn answer(
        &self,
        ds: &Dataset,
        segments: &[String],
        params: &Params,
    ) -> Option<Result<Value, GraphError>> {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["refresh_access_token"] => Some(self.ig_refresh(ds, params)),
            ["oauth", "access_token"] => Some(self.fb_exchange(ds, params)),
            _ => None,
        }
    }

    fn ig_refresh(&self, ds: &Dataset, params: &Params) -> Result<Value, GraphError> {
        if params.get("grant_type") != Some("ig_refresh_token") {
            return Err(unsupported_grant_type(params.get("grant_type"), "ig_refresh_token"));
        }
        let old = params.get("access_token");
        self.check(ds, old)?;
        let old = old.unwrap_or_default();
        let issued_at = self.issued_at(old).unwrap_or_else(|| ds.now());
        if ds.now() - issued_at < ChronoDuration::hours(MIN_REFRESH_AGE_HOURS) {
            return Err(GraphError::new(
                400,
                100,
                "OAuthException",
                format!(
                    "The access token cannot be refreshed yet: a long-lived access token can be refreshed once it is at least {MIN_REFRESH_AGE_HOURS} hours old"
                ),
            ));
        }
        Ok(self.renew(ds, old, "IGAA"))
    }

    fn fb_exchange(&self, ds: &Dataset, params: &Params) -> Result<Value, GraphError> {
        if params.get("grant_type") != Some("fb_exchange_token") {
            return Err(unsupported_grant_type(params.get("grant_type"), "fb_exchange_token"));
        }
        match params.get("client_id") {
            None | Some("") => return Err(GraphError::new(400, 101, "OAuthException", "Missing client_id parameter.")),
            Some(id) if id != self.options.app_id => {
                return Err(GraphError::new(
                    400,
                    101,
                    "OAuthException",
                    "Error validating application. Invalid application ID.",
                ));
            }
            Some(_) => {}
        }
        if params.get("client_secret") != Some(self.options.app_secret.as_str()) {
            return Err(GraphError::new(400, 1, "OAuthException", "Error validating client secret."));
        }
        let old = params.get("fb_exchange_token");
        self.check(ds, old)?;
        Ok(self.renew(ds, old.unwrap_or_default(), "EAAG"))
    }

    fn issued_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.book.lock().unwrap().issued.iter().find(|i| i.token == token).map(|i| i.at)
    }

    /// Issue a new token derived from `seed` (issued "now"), short-lived or not.
    pub(crate) fn issue(&self, ds: &Dataset, seed: &str, prefix: &str, short: bool) -> String {
        let mut book = self.book.lock().unwrap();
        let n = book.issued.len().to_string();
        let token = format!("{prefix}{}", encode_chars(hash_parts([seed, n.as_str()]), 40, BASE62));
        book.issued.push(Issued { token: token.clone(), at: ds.now(), short });
        token
    }

    /// Issue a new long-lived token for `old`, revoking `old` if so configured.
    fn renew(&self, ds: &Dataset, old: &str, prefix: &str) -> Value {
        let token = match self.options.renewal_gives {
            RenewalToken::Working => self.issue(ds, old, prefix, false),
            RenewalToken::ControlCharacters => format!("{prefix}bad\u{7}token\r\nX-Injected: 1"),
            RenewalToken::Huge => format!("{prefix}{}", "A".repeat(8 << 20)),
            RenewalToken::Rejected => format!("{prefix}{}", encode_chars(hash_parts([old, "unknown"]), 40, BASE62)),
        };
        if self.options.revoke_on_renewal {
            self.book.lock().unwrap().revoked.insert(old.to_string());
        }
        crate::oauth::long_lived_answer(&token)
    }

    /// `GET /access_token?grant_type=ig_exchange_token&client_secret=…&access_token=…`
    /// (Instagram Login): a short-lived token from the code exchange for a 60-day one.
    pub(crate) fn ig_exchange(&self, ds: &Dataset, params: &Params) -> Result<Value, GraphError> {
        if params.get("grant_type") != Some("ig_exchange_token") {
            return Err(unsupported_grant_type(params.get("grant_type"), "ig_exchange_token"));
        }
        if params.get("client_secret") != Some(self.options.app_secret.as_str()) {
            return Err(GraphError::new(400, 1, "OAuthException", "Error validating client secret."));
        }
        let old = params.get("access_token");
        self.check(ds, old)?;
        let old = old.unwrap_or_default();
        let short = self.book.lock().unwrap().issued.iter().any(|i| i.token == old && i.short);
        if !short {
            return Err(GraphError::new(
                400,
                100,
                "OAuthException",
                "Only a short-lived access token can be exchanged for a long-lived one",
            ));
        }
        Ok(self.renew(ds, old, "IGAA"))
    }
}

/// A token a later renewal replaced (when the fake revokes replaced tokens).
fn session_invalidated() -> GraphError {
    GraphError::new(
        400,
        190,
        "OAuthException",
        "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
    )
    .with_subcode(460)
}

fn unsupported_grant_type(given: Option<&str>, supported: &str) -> GraphError {
    GraphError::new(
        400,
        100,
        "OAuthException",
        format!("Invalid grant_type: '{}'. Supported types: {supported}", given.unwrap_or_default()),
    )
}
