//! Graph API error values and their JSON bodies.
//!
//! Every failure the fake produces (auth, bad parameters, missing objects,
//! insights refusals, throttling, transient outages) is a [`GraphError`]. It
//! renders to Meta's envelope:
//! `{"error":{"message","type","code","error_subcode"?,"is_transient"?,
//! "error_user_title"?,"error_user_msg"?,"error_data"?,"fbtrace_id"}}`.
//! Constructors here hold the exact wording so it lives in one place.

use serde_json::{Map, Value, json};

use crate::stable_hash::{BASE62, encode_chars, hash_parts};

/// One Graph API error, with the HTTP status it is served with.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphError {
    pub http_status: u16,
    pub message: String,
    /// `type`: `OAuthException`, `GraphMethodException`, …
    pub error_type: &'static str,
    pub code: i64,
    pub error_subcode: Option<i64>,
    pub is_transient: Option<bool>,
    /// The rarely present extras, boxed to keep `Result<_, GraphError>` small.
    pub details: Option<Box<ErrorDetails>>,
}

/// `error_user_title`, `error_user_msg` and `error_data`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorDetails {
    pub error_user_title: Option<String>,
    pub error_user_msg: Option<String>,
    pub error_data: Option<Value>,
}

impl GraphError {
    /// A plain error with no subcode or user-facing texts.
    pub fn new(http_status: u16, code: i64, error_type: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            http_status,
            message: message.into(),
            error_type,
            code,
            error_subcode: None,
            is_transient: None,
            details: None,
        }
    }

    fn details_mut(&mut self) -> &mut ErrorDetails {
        self.details.get_or_insert_with(Box::default)
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.error_subcode = Some(subcode);
        self
    }

    pub fn transient(mut self, is_transient: bool) -> Self {
        self.is_transient = Some(is_transient);
        self
    }

    /// The JSON body, `{"error":{...}}`, with the given trace id.
    pub fn to_body(&self, fbtrace_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        error.insert("type".into(), json!(self.error_type));
        error.insert("code".into(), json!(self.code));
        let details = self.details.as_deref();
        if let Some(data) = details.and_then(|d| d.error_data.as_ref()) {
            error.insert("error_data".into(), data.clone());
        }
        if let Some(subcode) = self.error_subcode {
            error.insert("error_subcode".into(), json!(subcode));
        }
        if let Some(is_transient) = self.is_transient {
            error.insert("is_transient".into(), json!(is_transient));
        }
        if let Some(title) = details.and_then(|d| d.error_user_title.as_ref()) {
            error.insert("error_user_title".into(), json!(title));
        }
        if let Some(msg) = details.and_then(|d| d.error_user_msg.as_ref()) {
            error.insert("error_user_msg".into(), json!(msg));
        }
        error.insert("fbtrace_id".into(), json!(fbtrace_id));
        json!({ "error": Value::Object(error) })
    }

    // ---- authentication -------------------------------------------------

    /// No token at all (code 2500).
    pub fn missing_token() -> Self {
        GraphError::new(
            400,
            2500,
            "OAuthException",
            "An active access token must be used to query information about the current user.",
        )
    }

    /// A path deeper than any node and edge (code 2500, as Meta answers e.g. `/me/accounts/x`).
    /// Not a token problem, although it shares the token errors' code.
    pub fn unknown_path_components(rest: &[String]) -> Self {
        GraphError::new(400, 2500, "OAuthException", format!("Unknown path components: /{}", rest.join("/")))
    }

    /// A token that is not the dataset's token (code 190).
    pub fn invalid_token() -> Self {
        GraphError::new(400, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
    }

    /// The special token `expired-token` (190 / 463).
    pub fn expired_token(expired_at: &str, current_time: &str) -> Self {
        GraphError::new(
            400,
            190,
            "OAuthException",
            format!(
                "Error validating access token: Session has expired on {expired_at}. The current time is {current_time}."
            ),
        )
        .with_subcode(463)
    }

    // ---- request shape ----------------------------------------------------

    /// Version older than the oldest one the fake still serves (code 2635).
    pub fn deprecated_version(requested: &str, latest: &str) -> Self {
        GraphError::new(
            400,
            2635,
            "OAuthException",
            format!(
                "(#2635) You are calling a deprecated version of the Graph API ({requested}). Please update to the latest version: {latest}."
            ),
        )
    }

    /// Unknown object id, unknown edge, or an unsupported method on an object (100 / 33).
    pub fn unsupported_request(method: &str, object_id: &str) -> Self {
        GraphError::new(
            400,
            100,
            "GraphMethodException",
            format!(
                "Unsupported {} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
        )
        .with_subcode(33)
    }

    /// `fields=` names a field the node type does not have.
    pub fn nonexisting_field(field: &str, node_type: &str) -> Self {
        GraphError::new(
            400,
            100,
            "OAuthException",
            format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"),
        )
    }

    /// Generic parameter problem (code 100, no subcode); `text` follows "(#100) ".
    pub fn invalid_parameter(text: impl AsRef<str>) -> Self {
        GraphError::new(400, 100, "OAuthException", format!("(#100) {}", text.as_ref()))
    }

    // ---- insights refusals attached to individual media ------------------

    /// Media posted before the account became a business account (100 / 2108006).
    pub fn media_posted_before_business_conversion() -> Self {
        let mut e =
            GraphError::new(400, 100, "OAuthException", "Invalid parameter").with_subcode(2108006).transient(false);
        e.details = Some(Box::new(ErrorDetails {
            error_user_title: Some("Media posted before business account conversion".into()),
            error_user_msg: Some(
                "The media was posted before the most recent time that the user's account was converted to a business account from a personal account.".into(),
            ),
            error_data: Some(json!({ "blame_field_specs": [[""]] })),
        }));
        e
    }

    /// The app lacks the permission for this media's insights (code 10).
    pub fn no_permission() -> Self {
        GraphError::new(400, 10, "OAuthException", "(#10) Application does not have permission for this action")
    }

    /// Story with fewer than 5 viewers (code 10).
    pub fn not_enough_viewers() -> Self {
        GraphError::new(400, 10, "OAuthException", "(#10) Not enough viewers for the media to show insights")
            .with_user_title("Not enough viewers for the media to show insights")
    }

    fn with_user_title(mut self, title: &str) -> Self {
        self.details_mut().error_user_title = Some(title.to_string());
        self
    }

    // ---- business discovery and hashtag search ------------------------------

    /// `business_discovery` of a username that is not a business or creator account, or
    /// does not exist (Meta does not tell the two apart): 110 / 2207013.
    pub fn discovery_user_not_found(username: &str) -> Self {
        let mut e =
            GraphError::new(400, 110, "OAuthException", "Invalid user id").with_subcode(2207013).transient(false);
        e.details = Some(Box::new(ErrorDetails {
            error_user_title: Some("Cannot find User".into()),
            error_user_msg: Some(format!("The user with username: {username} cannot be found.")),
            error_data: None,
        }));
        e
    }

    /// The account searched 30 unique hashtags in the last 7 days (code 24, subcode 2207034).
    pub fn hashtag_search_limit() -> Self {
        let mut e = GraphError::new(
            400,
            24,
            "OAuthException",
            "(#24) This API call could not be completed: the hashtag search limit was reached",
        )
        .with_subcode(2207034)
        .transient(false);
        e.details = Some(Box::new(ErrorDetails {
            error_user_title: Some("Hashtag Search Reached Limit".into()),
            error_user_msg: Some(
                "You can query a maximum of 30 unique hashtags on behalf of an Instagram account within a rolling 7 day period.".into(),
            ),
            error_data: None,
        }));
        e
    }

    // ---- batch envelope ---------------------------------------------------

    pub fn batch_too_large(max: usize) -> Self {
        GraphError::invalid_parameter(format!("Too many requests in batch message. Maximum batch size is {max}"))
    }

    // ---- throttling and outages -------------------------------------------

    /// A rate-limit error for one of Meta's throttling codes (4, 17, 32, 613, 80001, 80002).
    pub fn throttled(code: i64) -> Self {
        let (status, message) = match code {
            4 => (403, "(#4) Application request limit reached".to_string()),
            17 => (400, "(#17) User request limit reached".to_string()),
            32 => (400, "(#32) Page request limit reached".to_string()),
            613 => (400, "(#613) Calls to this api have exceeded the rate limit.".to_string()),
            80001 => (
                400,
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.".to_string(),
            ),
            _ => (
                400,
                "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.".to_string(),
            ),
        };
        let code = if matches!(code, 4 | 17 | 32 | 613 | 80001) { code } else { 80002 };
        GraphError::new(status, code, "OAuthException", message).transient(true)
    }

    /// HTTP 500, code 1.
    pub fn unknown_error() -> Self {
        GraphError::new(500, 1, "OAuthException", "An unknown error occurred").transient(true)
    }

    /// HTTP 500, code 1, Meta's exact wording, without `is_transient`: how Meta answers a
    /// breakdown it does not serve for the metric asked (not code 100).
    pub fn unknown_error_has_occurred() -> Self {
        GraphError::new(500, 1, "OAuthException", "An unknown error has occurred.")
    }

    /// HTTP 500, code 1: an answer too large to build (Meta's wording; it comes, with no
    /// `is_transient`, for field expansions and pages that ask for too much at once).
    pub fn reduce_data() -> Self {
        GraphError::new(500, 1, "OAuthException", REDUCE_DATA_MESSAGE)
    }

    /// HTTP 503, code 2.
    pub fn service_unavailable() -> Self {
        GraphError::new(503, 2, "OAuthException", "Service temporarily unavailable").transient(true)
    }
}

/// Meta's message when an answer would hold too much data.
pub const REDUCE_DATA_MESSAGE: &str = "Please reduce the amount of data you're asking for, then retry your request";

/// A deterministic, Meta-looking trace id (`A` + 22 base62 chars) for a request key.
pub fn fbtrace_id(request_key: &str) -> String {
    format!("A{}", encode_chars(hash_parts(["fbtrace", request_key]), 22, BASE62))
}

/// The HTML page Meta's edge returns for a 503 that never reached the Graph tier.
pub const SERVICE_UNAVAILABLE_HTML: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Service Unavailable</title></head>\n<body><h1>Service Unavailable</h1><p>Sorry, something went wrong. We're working on getting this fixed as soon as we can.</p></body></html>\n";
