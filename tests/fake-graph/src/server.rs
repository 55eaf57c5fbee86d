//! The HTTP side: listening on 127.0.0.1 (hyper, HTTP/1.1 with keep-alive; each request is
//! answered on its own blocking thread), access-token checks, batch envelopes, fault
//! injection, usage headers, added latency (per request, and per new connection) and the
//! request log. What a call *means* is delegated to [`crate::api`].
//!
//! Responses carry Meta's usage headers as [`crate::usage_headers`] decides (by default none
//! for the first calls, then the one that fits the token): `X-App-Usage`, and for responses
//! about an IG user or its objects `X-Business-Use-Case-Usage` (a batch envelope carries one
//! entry per IG user its operations touched).

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{self, ApiContext};
use crate::dataset::Dataset;
use crate::faults::{FaultPlan, FaultState, InjectedFailure, UsageNumbers, UsageSnapshot};
use crate::graph_error::{GraphError, fbtrace_id};
use crate::request::{GraphCall, GraphPath, LATEST_VERSION, Params};
use crate::tokens::{TokenKind, TokenOptions, Tokens};
use crate::usage_headers::{UsageHeaderState, UsageHeaders};

/// Meta's public Graph origin, on which the fake writes its paging links by default.
pub const META_GRAPH_ORIGIN: &str = "https://graph.facebook.com";

/// Maximum number of operations in one batch request.
pub const MAX_BATCH_OPERATIONS: usize = 50;

/// How the server behaves, beyond the dataset.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Added to every response (a batch counts once).
    pub latency: Duration,
    /// Added once per new TCP connection before its first request is read: the set-up cost of
    /// a connection (TCP and TLS handshakes to a distant server). Reused connections skip it.
    pub connection_delay: Duration,
    /// Largest `limit` honoured on edges (Meta caps edges; default 100).
    pub page_size_cap: usize,
    pub faults: FaultPlan,
    /// Port to bind on 127.0.0.1; 0 (default) picks an ephemeral one.
    pub port: u16,
    /// Metrics Meta has retired since the dataset was made: media insights requests naming
    /// them fail like any unknown metric (code 100, `metric[i] must be one of …`).
    pub retired_metrics: Vec<String>,
    /// Fields Meta has retired since the dataset was made, as (node type, field): a request
    /// naming one in `fields=` fails with code 100 "Tried accessing nonexisting field (x) on
    /// node type (T)".
    pub retired_fields: Vec<(String, String)>,
    /// Comment ids deleted after they were listed: still in listings, but their `replies`
    /// edge answers 100/33.
    pub deleted_comments: Vec<String>,
    /// Most media objects (posts and carousel children) one answer may hold through `media{…}`
    /// expansions of IG users (e.g. `me/accounts?fields=instagram_business_account{media…}`);
    /// past it the call fails with HTTP 500, code 1 "Please reduce the amount of data you're
    /// asking for, then retry your request". Meta does not publish its limit (it depends on
    /// the size and cost of the answer); `None` (default) sets none.
    pub max_expanded_media: Option<usize>,
    /// Most objects one answer may hold, counting every item of every `data` array at any
    /// depth (an edge page and what its items expand): past it the call fails with HTTP 500,
    /// code 1 "Please reduce the amount of data…", as Meta answers a page too large to build
    /// (insights answers, whose `data` lists one object's metrics, are not counted).
    /// `None` (default): no limit.
    pub max_answer_objects: Option<usize>,
    /// Base of the absolute `paging.next`/`previous` links. Meta writes them on its public
    /// origin whatever origin the request reached (a gateway, a proxy); so does the fake, by
    /// default on [`META_GRAPH_ORIGIN`], so every client must move them onto its own base.
    /// `None`: this server's own URL. Tests also point it at another origin to model a hostile
    /// or misdirected link.
    pub paging_base_url: Option<String>,
    /// The app's id and secret, the token's age, and whether renewal revokes the old token.
    pub tokens: TokenOptions,
    /// Platform rate limit of business discovery and hashtag calls (Meta: 200 per user and
    /// hour); past it they fail with code 17.
    pub platform_calls_per_hour: u32,
    /// The rolling window of that limit (Meta: one hour; tests shorten it).
    pub platform_window: Duration,
    /// Behaviours real captures show (see [`crate::quirks`]); the default is as Meta answers.
    pub quirks: crate::quirks::Quirks,
    /// Which usage headers are sent, and from which call (default: Meta's, see
    /// [`crate::usage_headers`]).
    pub usage_headers: UsageHeaders,
    /// Which login's host the fake answers as: `Facebook` (graph.facebook.com, the default) or
    /// `Instagram` (graph.instagram.com), which refuses what Meta reserves for Facebook Login
    /// as an unknown name: media and IG user fields ("nonexisting field") and media insight
    /// metrics ("metric[i] must be one of"); see `api`, `ig_user` and `insights::media`.
    pub login: crate::oauth::Login,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            latency: Duration::ZERO,
            connection_delay: Duration::ZERO,
            page_size_cap: 100,
            faults: FaultPlan::none(),
            port: 0,
            retired_metrics: Vec::new(),
            retired_fields: Vec::new(),
            deleted_comments: Vec::new(),
            max_expanded_media: None,
            max_answer_objects: None,
            paging_base_url: Some(META_GRAPH_ORIGIN.to_string()),
            tokens: TokenOptions::default(),
            platform_calls_per_hour: crate::public::DEFAULT_PLATFORM_CALLS_PER_HOUR,
            platform_window: Duration::from_secs(3600),
            quirks: crate::quirks::Quirks::default(),
            usage_headers: UsageHeaders::default(),
            login: crate::oauth::Login::Facebook,
        }
    }
}

/// One HTTP request the server received, with the status it answered.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path as received, without the query (trailing slash kept).
    pub path: String,
    /// Decoded URL query parameters, in order (form fields are in `body`).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// HTTP status answered; 0 while the request is still being served.
    pub status: u16,
    /// 0 for non-batch requests; the number of operations for a batch.
    pub batch_ops: usize,
    /// Raw request body (the form of a batch request).
    pub body: String,
    /// When the request arrived.
    pub received_at: Instant,
    /// Time from arrival to response (including latency); zero while in flight.
    pub duration: Duration,
}

impl RecordedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn is_batch(&self) -> bool {
        self.batch_ops > 0 || (self.method == "POST" && self.body.contains("batch="))
    }

    /// The `relative_url` of each operation of a batch request (empty otherwise).
    pub fn batch_relative_urls(&self) -> Vec<String> {
        batch_relative_urls(&self.body)
    }
}

/// The `relative_url` of each operation of a batch request's body (empty otherwise).
fn batch_relative_urls(body: &str) -> Vec<String> {
    let form = form_or_json(body);
    let Some(batch) = form.get("batch") else {
        return Vec::new();
    };
    let Ok(Value::Array(ops)) = serde_json::from_str::<Value>(batch) else {
        return Vec::new();
    };
    ops.iter().filter_map(|op| op.get("relative_url")?.as_str().map(str::to_string)).collect()
}

struct Shared {
    dataset: Arc<Dataset>,
    base_url: String,
    latency: Duration,
    page_size_cap: usize,
    retired_metrics: Vec<String>,
    retired_fields: Vec<(String, String)>,
    deleted_comments: Vec<String>,
    max_expanded_media: Option<usize>,
    max_answer_objects: Option<usize>,
    paging_base_url: Option<String>,
    faults: FaultState,
    quirks: crate::quirks::QuirkState,
    login: crate::oauth::Login,
    public: crate::public::PublicState,
    log: Mutex<Vec<RecordedRequest>>,
    serial: AtomicU64,
    /// TCP connections accepted.
    connections: AtomicU64,
    /// Waited before a new connection's first request is read (a TLS handshake's cost).
    connection_delay: Duration,
    tokens: Tokens,
    oauth: crate::oauth::OAuthState,
    usage_headers: UsageHeaderState,
    /// Answers from a recording instead of the dataset.
    replay: Option<crate::replay::ReplayState>,
}

/// A running fake Graph API server. Stops when dropped.
pub struct FakeGraph {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeGraph {
    /// Binds 127.0.0.1 (ephemeral port unless `options.port` is set) and serves
    /// `dataset` until dropped.
    pub fn start(dataset: Dataset, options: FakeOptions) -> io::Result<FakeGraph> {
        FakeGraph::start_with(dataset, options, None)
    }

    /// Serve `recording` instead of a dataset: every request is answered with the recorded
    /// answer to the same request (see [`crate::replay`]); `options` gives the port and latency.
    pub fn replay(recording: &crate::replay::Replay, options: FakeOptions) -> io::Result<FakeGraph> {
        let filler =
            Dataset::generate(&crate::DatasetSpec { accounts: 1, media_per_account: 1, ..crate::DatasetSpec::small() });
        FakeGraph::start_with(filler, options, Some(crate::replay::ReplayState::new(recording)))
    }

    /// Requests a replay had no recorded answer for, as `METHOD /path?query` (empty when not
    /// replaying).
    pub fn unmatched(&self) -> Vec<String> {
        self.shared.replay.as_ref().map(|r| r.unmatched()).unwrap_or_default()
    }

    fn start_with(
        dataset: Dataset,
        options: FakeOptions,
        replay: Option<crate::replay::ReplayState>,
    ) -> io::Result<FakeGraph> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", options.port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let tokens = Tokens::new(&dataset, options.tokens.clone());
        let shared = Arc::new(Shared {
            dataset: Arc::new(dataset),
            base_url: format!("http://127.0.0.1:{port}"),
            latency: options.latency,
            connection_delay: options.connection_delay,
            page_size_cap: options.page_size_cap.max(1),
            retired_metrics: options.retired_metrics.clone(),
            retired_fields: options.retired_fields.clone(),
            deleted_comments: options.deleted_comments.clone(),
            max_expanded_media: options.max_expanded_media,
            max_answer_objects: options.max_answer_objects,
            paging_base_url: options.paging_base_url.clone(),
            faults: FaultState::new(options.faults),
            quirks: crate::quirks::QuirkState::new(options.quirks.clone()),
            login: options.login,
            public: crate::public::PublicState::new(options.platform_calls_per_hour, options.platform_window),
            log: Mutex::new(Vec::new()),
            serial: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            tokens,
            oauth: Default::default(),
            usage_headers: UsageHeaderState::new(options.usage_headers),
            replay,
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fake-graph-accept".into())
                .spawn(move || runtime.block_on(accept_loop(listener, shared, stopped)))?
        };
        Ok(FakeGraph { shared, stop: Some(stop), acceptor: Some(acceptor) })
    }

    /// What the app budget ([`crate::FaultPlan::app_budget`]) saw so far.
    pub fn app_budget_report(&self) -> crate::AppBudgetReport {
        self.shared.faults.app_budget_report()
    }

    /// TCP connections accepted so far (a client that reuses connections opens few).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `base_url` + `path_and_query` (which should start with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.shared.base_url, path_and_query)
    }

    /// A paging link this server wrote (on its public origin, see
    /// [`FakeOptions::paging_base_url`]), made to reach this server: for clients that follow
    /// links themselves, as a connector moves them onto its `api_base_url`.
    pub fn local(&self, link: &str) -> String {
        match self.shared.paging_base_url.as_deref().and_then(|base| link.strip_prefix(base)) {
            Some(rest) => format!("{}{rest}", self.shared.base_url),
            None => link.to_string(),
        }
    }

    pub fn port(&self) -> u16 {
        self.shared.base_url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    /// The dataset's valid access token.
    pub fn token(&self) -> &str {
        self.shared.dataset.token()
    }

    pub fn dataset(&self) -> &Dataset {
        &self.shared.dataset
    }

    /// Every HTTP request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// A short-lived token, as a login's code exchange issues it (for tests that start where
    /// the platform's OAuth flow ends).
    pub fn short_lived_token(&self, login: crate::oauth::Login) -> String {
        let prefix = if login == crate::oauth::Login::Facebook { "EAAG" } else { "IGAA" };
        self.shared.tokens.issue(&self.shared.dataset, "test", prefix, true)
    }

    /// `n` more long-lived tokens for the dataset's accounts, each working like the dataset's
    /// own (as an agency's clients would each hold one).
    pub fn issue_tokens(&self, n: usize) -> Vec<String> {
        let ds = &self.shared.dataset;
        (0..n).map(|i| self.shared.tokens.issue(ds, &format!("client-{i}"), "fake-token-", false)).collect()
    }

    /// Every token a renewal endpoint issued so far, oldest first.
    pub fn renewed_tokens(&self) -> Vec<String> {
        self.shared.tokens.renewed()
    }

    /// The unique hashtags `ig_user_id` searched in the last 7 days.
    pub fn searched_hashtags(&self, ig_user_id: &str) -> Vec<String> {
        self.shared.public.searched(ig_user_id)
    }

    /// Empties the request log (fault and usage counters are kept).
    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts connections until told to stop; each is served by hyper (HTTP/1.1, keep-alive) after
/// the configured set-up delay, and each request is answered on a blocking thread.
async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        eprintln!("fake-graph: cannot listen");
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("fake-graph: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if !shared.connection_delay.is_zero() {
                tokio::time::sleep(shared.connection_delay).await;
            }
            let _ = stream.set_nodelay(true);
            let service = hyper::service::service_fn(move |request| answer(Arc::clone(&shared), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One HTTP request: the whole body, then [`serve`] on a blocking thread.
async fn answer(
    shared: Arc<Shared>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<AnswerBody>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    // A huge answer replaces a successful one under its path, or a batch's carrying an
    // operation under it (see `huge_body`).
    let huge = shared.faults.plan().huge_answer.clone().filter(|h| {
        let under = |path: &str| {
            let path = format!("/{}", path.trim_start_matches('/').split('?').next().unwrap_or_default());
            crate::request::GraphPath::parse(&path, crate::request::LATEST_VERSION)
                .is_ok_and(|p| h.applies_to(&p.versionless()))
        };
        under(parts.uri.path()) || batch_relative_urls(&String::from_utf8_lossy(&body)).iter().any(|u| under(u))
    });
    let reply = tokio::task::spawn_blocking(move || serve(&shared, parts, &body)).await;
    let (status, headers, body) = reply.unwrap_or_else(|_| (500, Vec::new(), b"fake-graph: handler failed".to_vec()));
    let body = match huge {
        Some(huge) if status == 200 => http_body_util::Either::Right(crate::huge_body::HugeBody::new(&huge)),
        _ => http_body_util::Either::Left(http_body_util::Full::new(bytes::Bytes::from(body))),
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (hyper::header::HeaderName::from_bytes(name.as_bytes()), hyper::header::HeaderValue::from_str(&value))
        {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

/// The body of an answer: a complete one, or a huge one streamed lazily.
type AnswerBody = http_body_util::Either<http_body_util::Full<bytes::Bytes>, crate::huge_body::HugeBody>;

/// What to send back for one HTTP request.
struct HttpReply {
    status: u16,
    content_type: &'static str,
    body: String,
    headers: Vec<(String, String)>,
    batch_ops: usize,
    delay: Duration,
}

const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// Content type Meta reports inside batch operation headers.
const BATCH_OP_CONTENT_TYPE: &str = "text/javascript; charset=UTF-8";

/// A response: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn serve(shared: &Shared, request: hyper::http::request::Parts, body_bytes: &[u8]) -> Answer {
    let method = request.method.as_str().to_ascii_uppercase();
    let raw_url = request.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    let (raw_path, raw_query) = raw_url.split_once('?').unwrap_or((raw_url.as_str(), ""));
    let query = Params::parse(raw_query);
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let body = String::from_utf8_lossy(body_bytes).into_owned();

    // The arrival time is taken under the log's lock, so the log is in arrival order.
    let (log_index, received_at) = {
        let mut log = shared.log.lock().unwrap();
        let received_at = Instant::now();
        log.push(RecordedRequest {
            method: method.clone(),
            path: raw_path.to_string(),
            query: query.0.clone(),
            headers: headers.clone(),
            status: 0,
            batch_ops: 0,
            body: body.clone(),
            received_at,
            duration: Duration::ZERO,
        });
        (log.len() - 1, received_at)
    };

    let serial = shared.serial.fetch_add(1, Ordering::Relaxed);
    let reply = match &shared.replay {
        Some(replay) => {
            let answer = replay.answer(&method, &raw_url, &body);
            HttpReply {
                status: answer.status,
                content_type: "",
                body: answer.body,
                headers: answer.headers,
                batch_ops: 0,
                delay: Duration::ZERO,
            }
        }
        None => route(shared, &method, raw_path, query, &headers, &body, serial),
    };
    let wait = shared.latency + reply.delay;
    if !wait.is_zero() {
        thread::sleep(wait);
    }

    // A replayed answer brings its own content type among its headers.
    let mut response_headers = Vec::new();
    if !reply.content_type.is_empty() {
        response_headers.push(("Content-Type".to_string(), reply.content_type.to_string()));
    }
    response_headers.extend(reply.headers);
    // Complete the log entry before answering, so a client that got its
    // response always finds the final status in `requests()`.
    {
        let mut log = shared.log.lock().unwrap();
        // The log may have been cleared meanwhile; only update our own entry.
        if let Some(entry) = log.get_mut(log_index).filter(|e| e.received_at == received_at && e.path == raw_path) {
            entry.status = reply.status;
            entry.batch_ops = reply.batch_ops;
            entry.duration = received_at.elapsed();
        }
    }
    (reply.status, response_headers, reply.body.into_bytes())
}

/// Where the access token came from.
struct Token {
    value: Option<String>,
    in_query: bool,
}

fn bearer_token(headers: &[(String, String)]) -> Option<String> {
    let value = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?.1.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")).then(|| token.trim().to_string())
}

fn route(
    shared: &Shared,
    method: &str,
    raw_path: &str,
    query: Params,
    headers: &[(String, String)],
    body: &str,
    serial: u64,
) -> HttpReply {
    let is_batch_path = raw_path.split('/').filter(|s| !s.is_empty()).count() <= 1
        && GraphPath::parse(raw_path, LATEST_VERSION).map(|p| p.segments.is_empty()).unwrap_or(true);
    if method == "POST" && is_batch_path {
        return serve_batch(shared, raw_path, query, headers, body, serial);
    }

    // A plain call. POST form fields count as parameters.
    let mut params = query;
    let query_token = params.get("access_token").map(str::to_string);
    if method == "POST" {
        params.0.extend(form_or_json(body).0);
    }
    let token = match bearer_token(headers) {
        Some(t) => Token { value: Some(t), in_query: false },
        None => Token { in_query: query_token.is_some(), value: params.get("access_token").map(str::to_string) },
    };
    let path = match GraphPath::parse(raw_path, LATEST_VERSION) {
        Ok(p) => p,
        Err(e) => {
            let key = format!("{method} {raw_path}");
            return error_reply(shared, &e, &key, None);
        }
    };
    if let Some(reply) = shared.oauth.answer(&shared.dataset, &shared.tokens, method, &path.segments, &params) {
        return oauth_reply(shared, reply, &format!("{method} {raw_path}"));
    }
    if let Some(answer) = shared.tokens.answer(&shared.dataset, &path.segments, &params) {
        return token_reply(shared, answer, &format!("{method} {raw_path}"));
    }
    let call = GraphCall {
        method: method.to_string(),
        path,
        params,
        body: if method == "POST" { body.to_string() } else { String::new() },
        token_in_query: token.in_query,
        serial,
    };
    let proof = call.params.get("appsecret_proof").map(str::to_string);
    let outcome = answer_call(shared, &call, token.value.as_deref(), proof.as_deref());
    let mut headers = usage_headers(shared, outcome.kind, &outcome.usage);
    headers.push(("facebook-api-version".into(), call.path.version.clone()));
    headers.push(("x-fb-trace-id".into(), fbtrace_id(&call.key())));
    headers.extend(outcome.extra_headers);
    HttpReply {
        status: outcome.status,
        content_type: outcome.content_type,
        body: outcome.body,
        headers,
        batch_ops: 0,
        delay: outcome.delay,
    }
}

/// The result of one call (plain or batch operation).
struct CallOutcome {
    status: u16,
    content_type: &'static str,
    body: String,
    usage: UsageSnapshot,
    delay: Duration,
    extra_headers: Vec<(String, String)>,
    /// The call's API version, when its path parsed.
    version: Option<String>,
    /// The kind of the caller's token, when it is valid (it decides the usage headers).
    kind: Option<TokenKind>,
}

/// Authenticates (the token, and the `appsecret_proof` that covers the call when the app
/// requires one), applies faults and usage, and answers one call.
fn answer_call(shared: &Shared, call: &GraphCall, token: Option<&str>, proof: Option<&str>) -> CallOutcome {
    let ds = &shared.dataset;
    let key = call.key();
    // Business discovery and hashtag calls count against the platform rate limit, not the
    // account's business use-case limit.
    let platform = crate::public::is_platform_call(ds.public(), call);
    let subject = call
        .path
        .segments
        .first()
        .and_then(|id| ds.owner_account(id))
        .map(|a| a.ig_user_id.clone())
        .filter(|_| !platform);
    shared.usage_headers.count_call();

    if let Err(e) = shared.tokens.check(ds, token).and_then(|_| shared.tokens.check_proof(token, proof)) {
        let (app, accounts) = shared.faults.peek_usage(subject.as_slice());
        let usage = UsageSnapshot { app, account: accounts.into_iter().next() };
        let auth_header = format!(
            "OAuth \"Facebook Platform\" \"{}\" \"{}\"",
            if e.code == 2500 { "invalid_request" } else { "invalid_token" },
            e.message.replace('"', "'")
        );
        return CallOutcome {
            status: e.http_status,
            content_type: JSON_CONTENT_TYPE,
            body: e.to_body(&fbtrace_id(&key)).to_string(),
            usage,
            delay: Duration::ZERO,
            extra_headers: vec![("WWW-Authenticate".into(), auth_header)],
            version: Some(call.path.version.clone()),
            kind: None,
        };
    }

    let mut verdict = shared.faults.on_call(&key, &call.path.versionless(), subject.as_deref(), call.asks_many());
    if platform && verdict.failure.is_none() {
        match shared.public.count_platform_call() {
            Ok(numbers) => verdict.usage = crate::faults::UsageSnapshot { app: numbers, account: None },
            Err((e, numbers)) => {
                verdict.usage = crate::faults::UsageSnapshot { app: numbers, account: None };
                verdict.failure = Some(InjectedFailure::Graph(e));
            }
        }
    }
    let (status, content_type, body) = match verdict.failure {
        Some(InjectedFailure::Graph(e)) => (e.http_status, JSON_CONTENT_TYPE, e.to_body(&fbtrace_id(&key)).to_string()),
        Some(InjectedFailure::Raw { status, body }) => {
            let content_type = if body.trim_start().starts_with('{') { JSON_CONTENT_TYPE } else { HTML_CONTENT_TYPE };
            (status, content_type, body)
        }
        None => {
            let ctx = ApiContext {
                dataset: ds,
                base_url: shared.paging_base_url.as_deref().unwrap_or(&shared.base_url),
                page_size_cap: shared.page_size_cap,
                retired_metrics: &shared.retired_metrics,
                retired_fields: &shared.retired_fields,
                deleted_comments: &shared.deleted_comments,
                max_expanded_media: shared.max_expanded_media,
                max_answer_objects: shared.max_answer_objects,
                expanded_media: &std::cell::Cell::new(0),
                paging_cycle: shared.faults.plan().paging_cycle,
                refuse_time_paging: shared.faults.plan().refuse_time_paging,
                public: &shared.public,
                quirks: &shared.quirks,
                login: shared.login,
            };
            match api::answer(&ctx, call) {
                Ok(value) => (200, JSON_CONTENT_TYPE, value.to_string()),
                Err(e) => (e.http_status, JSON_CONTENT_TYPE, e.to_body(&fbtrace_id(&key)).to_string()),
            }
        }
    };
    CallOutcome {
        status,
        content_type,
        body,
        usage: verdict.usage,
        delay: verdict.delay,
        extra_headers: Vec::new(),
        version: Some(call.path.version.clone()),
        kind: token.map(|t| shared.tokens.kind_of(ds, t)),
    }
}

/// The answer of a token endpoint (see `tokens`), with the usual app usage header.
fn token_reply(shared: &Shared, answer: Result<Value, GraphError>, key: &str) -> HttpReply {
    match answer {
        Ok(body) => {
            let (app, _) = shared.faults.peek_usage(&[]);
            let mut headers = usage_headers(shared, None, &UsageSnapshot { app, account: None });
            headers.push(("x-fb-trace-id".into(), fbtrace_id(key)));
            HttpReply {
                status: 200,
                content_type: JSON_CONTENT_TYPE,
                body: body.to_string(),
                headers,
                batch_ops: 0,
                delay: Duration::ZERO,
            }
        }
        Err(e) => error_reply(shared, &e, key, None),
    }
}

/// The answer of a login dialog or code exchange (see `oauth`).
fn oauth_reply(shared: &Shared, reply: crate::oauth::OAuthReply, key: &str) -> HttpReply {
    let (app, _) = shared.faults.peek_usage(&[]);
    let mut headers = usage_headers(shared, None, &UsageSnapshot { app, account: None });
    headers.push(("x-fb-trace-id".into(), fbtrace_id(key)));
    if let Some(location) = reply.location {
        headers.push(("Location".into(), location));
    }
    HttpReply {
        status: reply.status,
        content_type: if reply.html { HTML_CONTENT_TYPE } else { JSON_CONTENT_TYPE },
        body: reply.body,
        headers,
        batch_ops: 0,
        delay: Duration::ZERO,
    }
}

fn error_reply(shared: &Shared, error: &GraphError, key: &str, batch_ops: Option<usize>) -> HttpReply {
    let (app, _) = shared.faults.peek_usage(&[]);
    let mut headers = usage_headers(shared, None, &UsageSnapshot { app, account: None });
    headers.push(("x-fb-trace-id".into(), fbtrace_id(key)));
    HttpReply {
        status: error.http_status,
        content_type: JSON_CONTENT_TYPE,
        body: error.to_body(&fbtrace_id(key)).to_string(),
        headers,
        batch_ops: batch_ops.unwrap_or(0),
        delay: Duration::ZERO,
    }
}

/// The usage headers of one answer (see [`crate::usage_headers`]).
fn usage_headers(shared: &Shared, kind: Option<TokenKind>, usage: &UsageSnapshot) -> Vec<(String, String)> {
    shared.usage_headers.render(kind, &usage.app, usage.account.as_slice())
}

/// Parses a form-urlencoded body, or a JSON object body (values that are not
/// strings are kept as their JSON text).
fn form_or_json(body: &str) -> Params {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed)
    {
        return Params(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        );
    }
    Params::parse(body)
}

/// `POST /` or `POST /{version}` with `batch=[...]`.
fn serve_batch(
    shared: &Shared,
    raw_path: &str,
    query: Params,
    headers: &[(String, String)],
    body: &str,
    serial: u64,
) -> HttpReply {
    let envelope_key = format!("POST {raw_path}\n{body}");
    let version = match GraphPath::parse(raw_path, LATEST_VERSION) {
        Ok(p) => p.version,
        Err(e) => return error_reply(shared, &e, &envelope_key, None),
    };
    let form = form_or_json(body);
    let batch_raw = form.get("batch").or_else(|| query.get("batch")).map(str::to_string);
    let include_headers = form.get("include_headers").or_else(|| query.get("include_headers")) != Some("false");
    let batch_token = bearer_token(headers)
        .or_else(|| query.get("access_token").map(str::to_string))
        .or_else(|| form.get("access_token").map(str::to_string));
    let batch_proof = query.get("appsecret_proof").or_else(|| form.get("appsecret_proof")).map(str::to_string);

    if let Some(InjectedFailure::Raw { status, body }) =
        shared.faults.forced_for(crate::faults::BATCH_ENVELOPE).or_else(|| shared.faults.forced_for("/"))
    {
        let (app, _) = shared.faults.peek_usage(&[]);
        let content_type = if body.trim_start().starts_with('{') { JSON_CONTENT_TYPE } else { HTML_CONTENT_TYPE };
        return HttpReply {
            status,
            content_type,
            body,
            headers: usage_headers(shared, None, &UsageSnapshot { app, account: None }),
            batch_ops: 0,
            delay: Duration::ZERO,
        };
    }

    let Some(batch_raw) = batch_raw else {
        return error_reply(
            shared,
            &GraphError::invalid_parameter("The parameter batch is required"),
            &envelope_key,
            None,
        );
    };
    let ops = match serde_json::from_str::<Value>(&batch_raw) {
        Ok(Value::Array(ops)) => ops,
        _ => {
            let e = GraphError::invalid_parameter("The parameter batch must be a JSON-encoded array of requests");
            return error_reply(shared, &e, &envelope_key, None);
        }
    };
    if ops.len() > MAX_BATCH_OPERATIONS {
        return error_reply(shared, &GraphError::batch_too_large(MAX_BATCH_OPERATIONS), &envelope_key, Some(ops.len()));
    }
    // The batch needs a token unless every operation brings its own.
    let op_has_token = |op: &Value| {
        op.get("relative_url")
            .and_then(Value::as_str)
            .and_then(|u| u.split_once('?'))
            .is_some_and(|(_, q)| Params::parse(q).has("access_token"))
    };
    match batch_token.as_deref() {
        None if !ops.iter().all(op_has_token) => {
            return error_reply(shared, &GraphError::missing_token(), &envelope_key, Some(ops.len()));
        }
        Some(t) => {
            let checked = shared.tokens.check(&shared.dataset, Some(t));
            if let Err(e) = checked.and_then(|_| shared.tokens.check_proof(Some(t), batch_proof.as_deref())) {
                return error_reply(shared, &e, &envelope_key, Some(ops.len()));
            }
        }
        None => {}
    }

    let mut results = Vec::with_capacity(ops.len());
    let mut accounts: BTreeMap<String, UsageNumbers> = BTreeMap::new();
    let mut delay = Duration::ZERO;
    let mut last_app = None;
    for (index, op) in ops.iter().enumerate() {
        let op_serial = serial.wrapping_mul(1000).wrapping_add(index as u64);
        let outcome =
            batch_operation(shared, op, &version, (batch_token.as_deref(), batch_proof.as_deref()), op_serial);
        delay = delay.max(outcome.delay);
        last_app = Some(outcome.usage.app);
        if let Some((id, numbers)) = &outcome.usage.account {
            accounts.insert(id.clone(), *numbers);
        }
        let mut result = serde_json::Map::new();
        result.insert("code".into(), json!(outcome.status));
        if include_headers {
            let mut op_headers = vec![
                json!({ "name": "Content-Type", "value": if outcome.content_type == JSON_CONTENT_TYPE { BATCH_OP_CONTENT_TYPE } else { outcome.content_type } }),
                json!({ "name": "Cache-Control", "value": "private, no-cache, no-store, must-revalidate" }),
                json!({ "name": "facebook-api-version", "value": outcome.version.as_deref().unwrap_or(&version) }),
            ];
            for (name, value) in usage_headers(shared, outcome.kind, &outcome.usage) {
                op_headers.push(json!({ "name": name, "value": value }));
            }
            result.insert("headers".into(), Value::Array(op_headers));
        }
        result.insert("body".into(), json!(outcome.body));
        results.push(Value::Object(result));
    }

    let app = last_app.unwrap_or_else(|| shared.faults.peek_usage(&[]).0);
    let list: Vec<(String, UsageNumbers)> = accounts.into_iter().collect();
    let kind = batch_token.as_deref().map(|t| shared.tokens.kind_of(&shared.dataset, t));
    let mut headers = shared.usage_headers.render(kind, &app, &list);
    headers.push(("facebook-api-version".into(), version));
    headers.push(("x-fb-trace-id".into(), fbtrace_id(&envelope_key)));
    HttpReply {
        status: 200,
        content_type: JSON_CONTENT_TYPE,
        body: Value::Array(results).to_string(),
        headers,
        batch_ops: ops.len(),
        delay,
    }
}

/// One operation of a batch, answered like a plain call (with the batch's token and proof,
/// unless it brings its own token, which its own proof must then cover).
fn batch_operation(
    shared: &Shared,
    op: &Value,
    version: &str,
    (batch_token, batch_proof): (Option<&str>, Option<&str>),
    serial: u64,
) -> CallOutcome {
    let fail = |e: GraphError, key: &str| {
        let (app, _) = shared.faults.peek_usage(&[]);
        CallOutcome {
            status: e.http_status,
            content_type: JSON_CONTENT_TYPE,
            body: e.to_body(&fbtrace_id(key)).to_string(),
            usage: UsageSnapshot { app, account: None },
            delay: Duration::ZERO,
            extra_headers: Vec::new(),
            version: None,
            kind: None,
        }
    };
    let Some(relative_url) = op.get("relative_url").and_then(Value::as_str) else {
        return fail(GraphError::invalid_parameter("Each batch operation must have a relative_url"), &op.to_string());
    };
    let method = op.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let (path, query) = relative_url.split_once('?').unwrap_or((relative_url, ""));
    let params = Params::parse(query);
    let path = match GraphPath::parse(path, version) {
        Ok(p) => p,
        Err(e) => return fail(e, relative_url),
    };
    let op_token = params.get("access_token").map(str::to_string);
    let call = GraphCall {
        method,
        path,
        token_in_query: op_token.is_some(),
        params,
        body: op.get("body").and_then(Value::as_str).unwrap_or("").to_string(),
        serial,
    };
    let proof = if op_token.is_some() { call.params.get("appsecret_proof") } else { batch_proof };
    answer_call(shared, &call, op_token.as_deref().or(batch_token), proof)
}
