//! `check` and `read`: account discovery and every stream's read hook.
//!
//! Owns the order of work in a read: the account list is fetched once; then stream group by
//! stream group, all accounts advance together (each step's requests for every account go out
//! at once, answers are handled in account order). Each parent (user node, media edge, stories
//! edge) is fetched once and feeds every selected stream that needs it; insights go through
//! Graph batch requests. Checkpoints (STATE) follow the records they cover. It must not parse config/catalog/state formats itself (see
//! `config`, `catalog`, `state`) nor hard-code metric names (see `metrics`).

use crate::catalog::Selection;
use crate::config::{Config, Login};
use crate::emit::{self, Status};
use crate::error::{ConnectorError, Result};
use crate::graph::{self, ApiError, GraphClient, PAGE_LIMIT};
use crate::metrics::{self, MediaKind, MetricPolicy, MetricTable, RECENT_ONLY_DAYS, SERIES_WINDOW_DAYS};
use crate::state::{self, AccountCursors};
use crate::streams::{
    self, MEDIA, MEDIA_INSIGHTS, STORIES, STORY_INSIGHTS, USER_INSIGHTS, USER_LIFETIME_INSIGHTS, USERS,
};
use crate::transform::{self, format_timestamp, parse_timestamp};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// An Instagram professional account and the Facebook Page it is linked to.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The linked Facebook Page (none with Instagram Login).
    pub page_id: Option<String>,
    pub ig_id: String,
    /// `media_count` of the IG user, when Meta sent it (for progress estimates).
    pub media_count: Option<u64>,
}

/// Rounds of re-asking insights after Meta rejected a metric or did not run an operation.
const MAX_INSIGHT_ROUNDS: usize = 6;

/// `check`: the config is valid and the token sees at least one Instagram account.
pub fn check(config_json: &str) -> Result<()> {
    let config = Config::parse(config_json, Utc::now())?;
    let client = GraphClient::new(&config);
    let accounts = list_accounts(&client, &config)?;
    emit::info(&format!("Found {} Instagram business account(s)", accounts.len()));
    Ok(())
}

/// Every Instagram business account the token can see (pages without one are skipped),
/// restricted to `account_ids` when configured.
pub fn list_accounts(client: &GraphClient, config: &Config) -> Result<Vec<Account>> {
    let mut accounts = match config.login {
        Login::Facebook => facebook_accounts(client)?,
        Login::Instagram => vec![instagram_account(client)?],
    };
    if let Some(wanted) = &config.account_ids {
        let missing: Vec<&String> = wanted.iter().filter(|id| !accounts.iter().any(|a| &a.ig_id == *id)).collect();
        if !missing.is_empty() {
            let visible: Vec<&str> = accounts.iter().map(|a| a.ig_id.as_str()).collect();
            return Err(ConnectorError::config(format!(
                "`account_ids` lists {} which the access token cannot see (visible Instagram accounts: {})",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                if visible.is_empty() { "none".to_string() } else { visible.join(", ") }
            )));
        }
        accounts.retain(|a| wanted.contains(&a.ig_id));
    }
    Ok(accounts)
}

/// Instagram Login: the token's own professional account (`me`).
fn instagram_account(client: &GraphClient) -> Result<Account> {
    let me = client
        .get("me", &[("fields", "user_id,username,media_count")])
        .map_err(|e| e.into_connector("reading the Instagram account of the token (me)"))?;
    let ig_id = match me.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ConnectorError::config(
                "The token's `me` has no Instagram `user_id`: with `login: instagram` the token must be an Instagram user token (Business Login for Instagram) of a professional account",
            )
            .with_internal(me.to_string()));
        }
    };
    Ok(Account { page_id: None, ig_id, media_count: me.get("media_count").and_then(Value::as_u64) })
}

/// Facebook Login: every Instagram business account linked to a Page the token can see.
fn facebook_accounts(client: &GraphClient) -> Result<Vec<Account>> {
    let mut accounts = Vec::new();
    let mut pages_seen = 0usize;
    client.for_each_page(
        "me/accounts",
        &[("fields", "id,instagram_business_account{id,media_count}"), ("limit", PAGE_LIMIT)],
        |items| {
            for page in items {
                pages_seen += 1;
                let page_id = id_of(&page).ok_or_else(|| {
                    ConnectorError::system("The Graph API listed a Facebook Page without an `id`")
                        .with_internal(format!("page object: {page}"))
                })?;
                let ig = page.get("instagram_business_account");
                if let Some(ig_id) = ig.and_then(id_of)
                    && !accounts.iter().any(|a: &Account| a.ig_id == ig_id)
                {
                    let media_count = ig.and_then(|i| i.get("media_count")).and_then(Value::as_u64);
                    accounts.push(Account { page_id: Some(page_id), ig_id, media_count });
                }
            }
            Ok(true)
        },
        "listing the Facebook Pages of the token (me/accounts)",
    )?;
    if accounts.is_empty() {
        return Err(ConnectorError::config(format!(
            "No Instagram professional account is linked to the {pages_seen} Facebook Page(s) this access token can see. Link the Instagram account to a Facebook Page and grant the token pages_show_list and instagram_basic."
        )));
    }
    Ok(accounts)
}

/// An id that Meta sends as a string (or, rarely, a number).
fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `read`: every selected stream of every account.
pub fn read(config_json: &str, catalog_json: &str, state_json: Option<&str>) -> Result<()> {
    let now = Utc::now();
    let config = Config::parse(config_json, now)?;
    let selection = Selection::parse(catalog_json)?;
    let input = state::parse_input(state_json)?;
    let cursor = |stream: &str, key: &str| AccountCursors::parse(stream, key, input.get(stream));
    let mut run = Run {
        client: GraphClient::new(&config),
        table: metrics::table_for(config.version_major()),
        now,
        media_cursors: cursor(MEDIA, "timestamp")?,
        media_insights_cursors: cursor(MEDIA_INSIGHTS, "timestamp")?,
        user_insights_cursors: cursor(USER_INSIGHTS, "date")?,
        config,
        selection,
        policy: MetricPolicy::default(),
        pending_counts: BTreeMap::new(),
    };
    for note in &run.selection.notes {
        emit::info(note);
    }
    let streams: Vec<&'static str> = run.selection.names().collect();
    for s in &streams {
        emit::status(s, Status::Started);
    }
    let result = run.read_all();
    match &result {
        Ok(()) => streams.iter().for_each(|s| emit::status(s, Status::Complete)),
        Err(_) => streams.iter().for_each(|s| emit::status(s, Status::Incomplete)),
    }
    result
}

/// The state of one read.
struct Run {
    client: GraphClient,
    table: &'static MetricTable,
    now: DateTime<Utc>,
    config: Config,
    selection: Selection,
    media_cursors: AccountCursors,
    media_insights_cursors: AccountCursors,
    user_insights_cursors: AccountCursors,
    policy: MetricPolicy,
    /// Records emitted per stream since its last STATE.
    pending_counts: BTreeMap<&'static str, u64>,
}

/// What to do with one insights operation Meta answered with an error.
enum OpFailure {
    /// Ask again (a rejected metric was dropped, or Meta did not run the operation).
    Retry,
    /// No insights here; the reason is logged.
    Skip(String),
    Fail(ConnectorError),
}

/// A media object or story whose insights are wanted.
struct InsightTarget {
    id: String,
    kind: MediaKind,
    /// Index of its account in the read's account list.
    account: usize,
    /// Fields copied from the parent onto the insights record.
    extra: Map<String, Value>,
}

/// One account-insights time-series request: a metric set for one period and window.
struct SeriesOp {
    account: usize,
    /// Index of the 30-day window in the account's range.
    window: usize,
    period: &'static str,
    suffix: &'static str,
    metrics: Vec<&'static str>,
    since: i64,
    until: i64,
}

/// One account's walk down a paged edge (media or stories), newest first.
struct EdgeWalk {
    account: usize,
    /// The next page to fetch; `None` once the walk is done.
    next: Option<String>,
    newest: Option<DateTime<Utc>>,
    /// Items older than this are not wanted by any consumer (media only).
    stop_before: Option<DateTime<Utc>>,
}

impl Run {
    fn wants(&self, stream: &str) -> bool {
        self.selection.is_selected(stream)
    }

    fn record(&mut self, stream: &'static str, data: &Value) {
        emit::record(stream, data);
        *self.pending_counts.entry(stream).or_default() += 1;
    }

    fn checkpoint(&mut self, stream: &'static str, state: Value) {
        let count = self.pending_counts.remove(stream).unwrap_or(0);
        emit::state(stream, &state, count);
    }

    /// The one policy for failed insights operations: a metric Meta rejects is dropped for
    /// `scope` (logged once) and the operation asked again without it; an operation Meta did
    /// not run is asked again; `skip` names the answers that mean "no insights for this
    /// object"; anything else fails the stream.
    fn on_op_error(
        &mut self,
        err: ApiError,
        scope: &str,
        metrics: &[&str],
        skip: impl Fn(&ApiError) -> Option<String>,
        doing: &str,
    ) -> OpFailure {
        if let Some(metric) = err.graph().and_then(|g| metrics::rejected_metric(g, metrics)) {
            if self.policy.drop_metric(scope, &metric) {
                emit::warn(&format!(
                    "Meta rejected the metric `{metric}` for {scope} ({}); continuing without it",
                    err.graph().map(|g| g.message.as_str()).unwrap_or("")
                ));
            }
            return OpFailure::Retry;
        }
        if let Some(reason) = skip(&err) {
            return OpFailure::Skip(reason);
        }
        if is_unrun(&err) {
            return OpFailure::Retry;
        }
        OpFailure::Fail(err.into_connector(doing))
    }

    /// Every selected stream, stream group by stream group. Within a group all accounts
    /// advance together: their requests of one step go out at once (`num_workers` in
    /// flight) and the answers are handled in account order, so the output is deterministic.
    fn read_all(&mut self) -> Result<()> {
        let accounts = list_accounts(&self.client, &self.config)?;
        emit::info(&format!("Reading {} Instagram account(s)", accounts.len()));
        // A full read of the media edge yields `media_count` posts per account.
        let counts: Option<u64> = accounts.iter().map(|a| a.media_count).sum();
        for stream in [MEDIA, MEDIA_INSIGHTS] {
            if let (true, Some(n)) = (
                self.wants(stream) && !self.selection.is_incremental(stream) && self.config.start_date.is_none(),
                counts,
            ) {
                emit::estimate(stream, n);
            }
        }
        if self.wants(USERS) {
            self.read_users(&accounts).map_err(|e| e.in_stream(USERS))?;
        }
        if self.wants(MEDIA) || self.wants(MEDIA_INSIGHTS) {
            self.read_media(&accounts)?;
        }
        if self.wants(STORIES) || self.wants(STORY_INSIGHTS) {
            self.read_stories(&accounts)?;
        }
        if self.wants(USER_LIFETIME_INSIGHTS) {
            self.read_lifetime_insights(&accounts).map_err(|e| e.in_stream(USER_LIFETIME_INSIGHTS))?;
        }
        if self.wants(USER_INSIGHTS) {
            self.read_user_insights(&accounts).map_err(|e| e.in_stream(USER_INSIGHTS))?;
        }
        Ok(())
    }

    fn enrich(record: &mut Map<String, Value>, account: &Account) {
        record.insert("business_account_id".into(), Value::String(account.ig_id.clone()));
        record.insert("page_id".into(), account.page_id.clone().map(Value::String).unwrap_or(Value::Null));
    }

    /// The IG user node of every account, all at once.
    fn read_users(&mut self, accounts: &[Account]) -> Result<()> {
        let fields = streams::user_fields(self.config.login);
        let urls: Vec<String> = accounts.iter().map(|a| self.client.url(&a.ig_id, &[("fields", fields)])).collect();
        let mut failure = None;
        for (account, answer) in accounts.iter().zip(self.client.get_many(&urls)) {
            let user = match answer {
                Ok(Value::Object(user)) => user,
                Ok(_) => {
                    failure.get_or_insert_with(|| ConnectorError::system("The IG user node is not a JSON object"));
                    continue;
                }
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        e.into_connector(&format!("reading Instagram account {}", account.ig_id))
                    });
                    continue;
                }
            };
            let mut user = user;
            transform::clean_object(&mut user);
            Self::enrich(&mut user, account);
            self.record(USERS, &Value::Object(user));
            self.checkpoint(USERS, state::no_cursor_state());
        }
        failure.map_or(Ok(()), Err)
    }

    /// The earliest media timestamp a stream wants: the cursor minus the lookback in
    /// incremental mode, and never before `start_date`.
    fn media_cutoff(&self, stream: &str, cursors: &AccountCursors, account: &Account) -> Option<DateTime<Utc>> {
        if !self.wants(stream) {
            return None;
        }
        let from_cursor = if self.selection.is_incremental(stream) {
            cursors.get(&account.ig_id).map(|c| c - Duration::days(self.config.media_lookback_days))
        } else {
            None
        };
        match (from_cursor, self.config.start_date) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fetch the next page of every unfinished walk at once; answers in walk order. A walk
    /// whose page failed is closed and its error returned next to the other walks' pages, so
    /// the caller can still emit and checkpoint the work that succeeded before failing.
    fn next_pages(&self, walks: &mut [EdgeWalk], doing: &str) -> (Vec<(usize, graph::Page)>, Option<ConnectorError>) {
        let open: Vec<(usize, String)> =
            walks.iter().enumerate().filter_map(|(i, w)| w.next.clone().map(|u| (i, u))).collect();
        let urls: Vec<String> = open.iter().map(|(_, u)| u.clone()).collect();
        let mut pages = Vec::new();
        let mut failure = None;
        for ((walk, url), answer) in open.into_iter().zip(self.client.get_many(&urls)) {
            match answer.and_then(|v| graph::parse_page(v, &url)) {
                Ok(page) => pages.push((walk, page)),
                Err(e) => {
                    walks[walk].next = None;
                    failure.get_or_insert_with(|| e.into_connector(doing));
                }
            }
        }
        (pages, failure)
    }

    /// The media edges of all accounts, page by page (newest first). Each round's media
    /// records and their insights are emitted and checkpointed before the next pages are
    /// fetched; an account's cursor only moves once its edge is done, so a resume never skips
    /// older posts.
    fn read_media(&mut self, accounts: &[Account]) -> Result<()> {
        let fields = streams::media_fields();
        let mut walks = Vec::new();
        let mut cutoffs = Vec::new();
        for (i, account) in accounts.iter().enumerate() {
            let media_cutoff = self.media_cutoff(MEDIA, &self.media_cursors.clone(), account);
            let insights_cutoff = self.media_cutoff(MEDIA_INSIGHTS, &self.media_insights_cursors.clone(), account);
            // Page until both consumers are satisfied: a full-refresh consumer needs everything.
            let needs_all = (self.wants(MEDIA) && media_cutoff.is_none())
                || (self.wants(MEDIA_INSIGHTS) && insights_cutoff.is_none());
            let stop_before =
                if needs_all { None } else { [media_cutoff, insights_cutoff].into_iter().flatten().min() };
            let url = self
                .client
                .url(&format!("{}/media", account.ig_id), &[("fields", fields.as_str()), ("limit", PAGE_LIMIT)]);
            walks.push(EdgeWalk { account: i, next: Some(url), newest: None, stop_before });
            cutoffs.push((media_cutoff, insights_cutoff));
        }
        let keep = |cutoff: Option<DateTime<Utc>>, ts: Option<DateTime<Utc>>| match (cutoff, ts) {
            (Some(c), Some(t)) => t >= c,
            _ => true,
        };
        let edge_stream = if self.wants(MEDIA) { MEDIA } else { MEDIA_INSIGHTS };
        while walks.iter().any(|w| w.next.is_some()) {
            let (pages, failure) = self.next_pages(&mut walks, "reading the media of the Instagram accounts");
            let mut targets = Vec::new();
            let mut finished = Vec::new();
            for (w, page) in pages {
                let account = &accounts[walks[w].account];
                let (media_cutoff, insights_cutoff) = cutoffs[walks[w].account];
                let mut page_oldest: Option<DateTime<Utc>> = None;
                for item in page.data {
                    let Value::Object(mut media) = item else {
                        return Err(ConnectorError::system("The media edge returned an item that is not an object")
                            .in_stream(edge_stream));
                    };
                    let Some(id) = media.get("id").and_then(Value::as_str).map(str::to_string) else {
                        return Err(ConnectorError::system("The media edge returned an item without `id`")
                            .with_internal(Value::Object(media).to_string())
                            .in_stream(edge_stream));
                    };
                    let ts = media.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp);
                    if let Some(t) = ts {
                        walks[w].newest = Some(walks[w].newest.map_or(t, |n| n.max(t)));
                        page_oldest = Some(page_oldest.map_or(t, |o| o.min(t)));
                    }
                    transform::clean_object(&mut media);
                    inline_children(&mut media);
                    Self::enrich(&mut media, account);
                    let media_type = media.get("media_type").and_then(Value::as_str).unwrap_or("").to_string();
                    let product = media.get("media_product_type").and_then(Value::as_str).unwrap_or("").to_string();
                    if self.wants(MEDIA_INSIGHTS) && keep(insights_cutoff, ts) {
                        let mut extra = Map::new();
                        for k in ["media_type", "media_product_type", "timestamp"] {
                            if let Some(v) = media.get(k) {
                                extra.insert(k.into(), v.clone());
                            }
                        }
                        targets.push(InsightTarget {
                            id,
                            kind: MediaKind::of(&media_type, &product),
                            account: walks[w].account,
                            extra,
                        });
                    }
                    if self.wants(MEDIA) && keep(media_cutoff, ts) {
                        self.record(MEDIA, &Value::Object(media));
                    }
                }
                // The edge is newest first: once a page reaches past the cutoff, stop.
                let past_cutoff =
                    matches!((walks[w].stop_before, page_oldest), (Some(cut), Some(oldest)) if oldest < cut);
                let current = walks[w].next.take();
                walks[w].next = page.next.filter(|n| !past_cutoff && Some(n) != current.as_ref());
                if walks[w].next.is_none() {
                    finished.push(w);
                }
            }
            if self.wants(MEDIA) {
                for w in &finished {
                    if let Some(t) = walks[*w].newest {
                        self.media_cursors.advance(&accounts[walks[*w].account].ig_id, t);
                    }
                }
                let s = self.media_cursors.to_state("timestamp");
                self.checkpoint(MEDIA, s);
            }
            if self.wants(MEDIA_INSIGHTS) {
                self.read_insights(MEDIA_INSIGHTS, accounts, targets).map_err(|e| e.in_stream(MEDIA_INSIGHTS))?;
                for w in &finished {
                    if let Some(t) = walks[*w].newest {
                        self.media_insights_cursors.advance(&accounts[walks[*w].account].ig_id, t);
                    }
                }
                let s = self.media_insights_cursors.to_state("timestamp");
                self.checkpoint(MEDIA_INSIGHTS, s);
            }
            if let Some(e) = failure {
                return Err(e.in_stream(edge_stream));
            }
        }
        Ok(())
    }

    /// The live stories of all accounts (and their insights).
    fn read_stories(&mut self, accounts: &[Account]) -> Result<()> {
        let mut walks: Vec<EdgeWalk> =
            accounts
                .iter()
                .enumerate()
                .map(|(i, a)| EdgeWalk {
                    account: i,
                    next: Some(self.client.url(
                        &format!("{}/stories", a.ig_id),
                        &[("fields", streams::STORY_FIELDS), ("limit", PAGE_LIMIT)],
                    )),
                    newest: None,
                    stop_before: None,
                })
                .collect();
        while walks.iter().any(|w| w.next.is_some()) {
            let (pages, failure) = self.next_pages(&mut walks, "reading the stories of the Instagram accounts");
            let mut targets = Vec::new();
            for (w, page) in pages {
                let account = &accounts[walks[w].account];
                for item in page.data {
                    let Value::Object(mut story) = item else {
                        return Err(ConnectorError::system("The stories edge returned an item that is not an object")
                            .in_stream(STORIES));
                    };
                    let Some(id) = story.get("id").and_then(Value::as_str).map(str::to_string) else {
                        return Err(
                            ConnectorError::system("The stories edge returned an item without `id`").in_stream(STORIES)
                        );
                    };
                    transform::clean_object(&mut story);
                    Self::enrich(&mut story, account);
                    targets.push(InsightTarget {
                        id,
                        kind: MediaKind::Story,
                        account: walks[w].account,
                        extra: Map::new(),
                    });
                    if self.wants(STORIES) {
                        self.record(STORIES, &Value::Object(story));
                    }
                }
                let current = walks[w].next.take();
                walks[w].next = page.next.filter(|n| Some(n) != current.as_ref());
            }
            if self.wants(STORIES) {
                self.checkpoint(STORIES, state::no_cursor_state());
            }
            if self.wants(STORY_INSIGHTS) {
                self.read_insights(STORY_INSIGHTS, accounts, targets).map_err(|e| e.in_stream(STORY_INSIGHTS))?;
                self.checkpoint(STORY_INSIGHTS, state::no_cursor_state());
            }
            if let Some(e) = failure {
                return Err(e.in_stream(STORIES));
            }
        }
        Ok(())
    }

    /// Media or story insights through batch requests. Per-object errors stay per object:
    /// a rejected metric is dropped for that media kind and the object asked again; known
    /// "no insights for this object" answers skip its insights record with a warning.
    fn read_insights(&mut self, stream: &'static str, accounts: &[Account], targets: Vec<InsightTarget>) -> Result<()> {
        let mut pending: Vec<InsightTarget> = targets;
        for round in 0..MAX_INSIGHT_ROUNDS {
            if pending.is_empty() {
                return Ok(());
            }
            let mut asked = Vec::new();
            let mut ops = Vec::new();
            for t in pending.drain(..) {
                let metrics = self.policy.active(t.kind.name(), self.table.media_metrics(t.kind));
                if metrics.is_empty() {
                    continue;
                }
                ops.push(self.client.relative_url(&format!("{}/insights", t.id), &[("metric", &metrics.join(","))]));
                asked.push((t, metrics));
            }
            if ops.is_empty() {
                return Ok(());
            }
            let results = self.client.batch(&ops).map_err(|e| e.into_connector(&format!("requesting {stream}")))?;
            for ((target, metrics), result) in asked.into_iter().zip(results) {
                match result {
                    Ok(body) => {
                        let mut record = flatten_insights(&body).map_err(|detail| {
                            ConnectorError::system(format!(
                                "The insights of {} are not what Meta documents: {detail}",
                                target.id
                            ))
                            .with_internal(body.to_string())
                        })?;
                        record.insert("id".into(), Value::String(target.id.clone()));
                        for (k, v) in &target.extra {
                            record.insert(k.clone(), v.clone());
                        }
                        Self::enrich(&mut record, &accounts[target.account]);
                        self.record(stream, &Value::Object(record));
                    }
                    Err(err) => {
                        let doing = format!("reading {stream} of {}", target.id);
                        match self.on_op_error(err, target.kind.name(), &metrics, |e| skip_reason(stream, e), &doing) {
                            OpFailure::Retry => pending.push(target),
                            OpFailure::Skip(reason) => {
                                emit::warn(&format!("No {stream} for {} {}: {reason}", target.kind.name(), target.id))
                            }
                            OpFailure::Fail(e) => return Err(e),
                        }
                    }
                }
            }
            if round + 1 == MAX_INSIGHT_ROUNDS && !pending.is_empty() {
                return Err(ConnectorError::system(format!(
                    "Meta kept rejecting {stream} requests for {} object(s)",
                    pending.len()
                )));
            }
        }
        Ok(())
    }

    /// Audience demographics of all accounts: one operation per account and breakdown.
    fn read_lifetime_insights(&mut self, accounts: &[Account]) -> Result<()> {
        const SCOPE: &str = "demographics";
        let mut pending: Vec<(usize, &'static str)> =
            (0..accounts.len()).flat_map(|a| self.table.breakdowns.iter().map(move |b| (a, *b))).collect();
        for _ in 0..MAX_INSIGHT_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let metrics = self.policy.active(SCOPE, self.table.demographics);
            if metrics.is_empty() {
                break;
            }
            let joined = metrics.join(",");
            let ops: Vec<String> = pending
                .iter()
                .map(|(a, b)| {
                    self.client.relative_url(
                        &format!("{}/insights", accounts[*a].ig_id),
                        &[
                            ("metric", joined.as_str()),
                            ("period", "lifetime"),
                            ("metric_type", "total_value"),
                            ("breakdown", b),
                            ("timeframe", self.table.demographics_timeframe),
                        ],
                    )
                })
                .collect();
            let results = self.client.batch(&ops).map_err(|e| e.into_connector("requesting audience demographics"))?;
            let mut retry = Vec::new();
            for ((a, breakdown), result) in pending.drain(..).zip(results) {
                let account = &accounts[a];
                match result {
                    Ok(body) => {
                        for item in body.get("data").and_then(Value::as_array).into_iter().flatten() {
                            if let Some(mut record) =
                                demographic_record(item, breakdown, self.table.demographics_timeframe)
                            {
                                Self::enrich(&mut record, account);
                                self.record(USER_LIFETIME_INSIGHTS, &Value::Object(record));
                            }
                        }
                    }
                    Err(err) => {
                        let doing = format!("reading audience demographics of {} by {breakdown}", account.ig_id);
                        match self.on_op_error(err, SCOPE, &metrics, no_insights_for_account, &doing) {
                            OpFailure::Retry => retry.push((a, breakdown)),
                            OpFailure::Skip(reason) => emit::warn(&format!(
                                "No audience demographics for account {} by {breakdown}: {reason}",
                                account.ig_id
                            )),
                            OpFailure::Fail(e) => return Err(e),
                        }
                    }
                }
            }
            pending = retry;
        }
        self.checkpoint(USER_LIFETIME_INSIGHTS, state::no_cursor_state());
        Ok(())
    }

    /// Daily account insights of all accounts: time series in 30-day windows, then the
    /// `total_value` metrics per day, merged into one record per account and `date`.
    fn read_user_insights(&mut self, accounts: &[Account]) -> Result<()> {
        let earliest = self.config.insights_start(self.now);
        let starts: Vec<DateTime<Utc>> = accounts
            .iter()
            .map(|a| match (self.selection.is_incremental(USER_INSIGHTS), self.user_insights_cursors.get(&a.ig_id)) {
                (true, Some(cursor)) => (cursor - Duration::days(self.config.insights_lookback_days)).max(earliest),
                _ => earliest,
            })
            .collect();
        let mut days: Vec<BTreeMap<DateTime<Utc>, Map<String, Value>>> = vec![BTreeMap::new(); accounts.len()];
        self.read_series(accounts, &starts, &mut days)?;
        self.read_daily_totals(accounts, &mut days)?;
        for ((account, start), account_days) in accounts.iter().zip(&starts).zip(days) {
            let mut emitted = 0u64;
            for (date, metrics) in account_days {
                if metrics.is_empty() || date > self.now {
                    continue;
                }
                let mut record = metrics;
                record.insert("date".into(), Value::String(format_timestamp(date)));
                Self::enrich(&mut record, account);
                self.record(USER_INSIGHTS, &Value::Object(record));
                self.user_insights_cursors.advance(&account.ig_id, date);
                emitted += 1;
            }
            if emitted == 0 {
                emit::info(&format!(
                    "No new {USER_INSIGHTS} for account {} since {}",
                    account.ig_id,
                    format_timestamp(*start)
                ));
            }
            let s = self.user_insights_cursors.to_state("date");
            self.checkpoint(USER_INSIGHTS, s);
        }
        Ok(())
    }

    /// Account time series in 30-day windows. With more than one window (a first sync), the
    /// first request of each window (daily reach) goes out alone, and the other periods are
    /// asked only for windows that have data: months before an account's insights begin cost
    /// one operation each instead of four.
    fn read_series(
        &mut self,
        accounts: &[Account],
        starts: &[DateTime<Utc>],
        days: &mut [BTreeMap<DateTime<Utc>, Map<String, Value>>],
    ) -> Result<()> {
        let recent_from = self.now - Duration::days(RECENT_ONLY_DAYS);
        let mut first = Vec::new();
        let mut deferred = Vec::new();
        for (account, start) in starts.iter().enumerate() {
            let mut since = *start;
            let mut windows = Vec::new();
            while since < self.now {
                let until = (since + Duration::days(SERIES_WINDOW_DAYS)).min(self.now);
                windows.push((since, until));
                since = until;
            }
            let probe = windows.len() > 1;
            for (window, (since, until)) in windows.into_iter().enumerate() {
                for (i, req) in self.table.user_series.iter().enumerate() {
                    let metrics: Vec<&'static str> = req
                        .metrics
                        .iter()
                        .copied()
                        .filter(|m| until > recent_from || !self.table.recent_only.contains(m))
                        .collect();
                    if metrics.is_empty() {
                        continue;
                    }
                    let op = SeriesOp {
                        account,
                        window,
                        period: req.period,
                        suffix: req.column_suffix,
                        metrics,
                        since: since.timestamp(),
                        until: until.timestamp(),
                    };
                    if probe && i > 0 { deferred.push(op) } else { first.push(op) }
                }
            }
        }
        let mut with_data = std::collections::BTreeSet::new();
        self.run_series_ops(accounts, first, days, &mut with_data)?;
        let rest: Vec<SeriesOp> =
            deferred.into_iter().filter(|op| with_data.contains(&(op.account, op.window))).collect();
        self.run_series_ops(accounts, rest, days, &mut with_data)
    }

    /// Ask series operations (rounds for dropped metrics and unrun operations) and merge the
    /// values into `days`; `with_data` collects the (account, window) pairs that had any.
    fn run_series_ops(
        &mut self,
        accounts: &[Account],
        mut pending: Vec<SeriesOp>,
        days: &mut [BTreeMap<DateTime<Utc>, Map<String, Value>>],
        with_data: &mut std::collections::BTreeSet<(usize, usize)>,
    ) -> Result<()> {
        for _ in 0..MAX_INSIGHT_ROUNDS {
            if pending.is_empty() {
                return Ok(());
            }
            let mut asked = Vec::new();
            let mut ops = Vec::new();
            for op in pending.drain(..) {
                let scope = format!("user_insights/{}", op.period);
                let metrics = self.policy.active(&scope, &op.metrics);
                if metrics.is_empty() {
                    continue;
                }
                ops.push(self.client.relative_url(
                    &format!("{}/insights", accounts[op.account].ig_id),
                    &[
                        ("metric", metrics.join(",").as_str()),
                        ("period", op.period),
                        ("since", &op.since.to_string()),
                        ("until", &op.until.to_string()),
                    ],
                ));
                asked.push((op, scope, metrics));
            }
            let results = self.client.batch(&ops).map_err(|e| e.into_connector("requesting account insights"))?;
            for ((op, scope, metrics), result) in asked.into_iter().zip(results) {
                let account = &accounts[op.account];
                match result {
                    Ok(body) => {
                        for item in body.get("data").and_then(Value::as_array).into_iter().flatten() {
                            let Some(name) = item.get("name").and_then(Value::as_str) else { continue };
                            for v in item.get("values").and_then(Value::as_array).into_iter().flatten() {
                                let (Some(end), Some(value)) = (
                                    v.get("end_time").and_then(Value::as_str).and_then(parse_timestamp),
                                    v.get("value"),
                                ) else {
                                    continue;
                                };
                                if value.is_null() {
                                    continue;
                                }
                                days[op.account]
                                    .entry(end)
                                    .or_default()
                                    .insert(format!("{name}{}", op.suffix), value.clone());
                                with_data.insert((op.account, op.window));
                            }
                        }
                    }
                    Err(err) => {
                        let doing = format!("reading account insights ({}) of {}", op.period, account.ig_id);
                        match self.on_op_error(err, &scope, &metrics, no_insights_for_account, &doing) {
                            OpFailure::Retry => pending.push(op),
                            OpFailure::Skip(reason) => emit::warn(&format!(
                                "No {} insights ({}) for account {}: {reason}",
                                op.period,
                                metrics.join(","),
                                account.ig_id
                            )),
                            OpFailure::Fail(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn read_daily_totals(
        &mut self,
        accounts: &[Account],
        days: &mut [BTreeMap<DateTime<Utc>, Map<String, Value>>],
    ) -> Result<()> {
        const SCOPE: &str = "user_insights/total_value";
        let mut pending: Vec<(usize, DateTime<Utc>)> = days
            .iter()
            .enumerate()
            .flat_map(|(a, d)| d.keys().copied().filter(|d| *d <= self.now).map(move |d| (a, d)))
            .collect();
        for _ in 0..MAX_INSIGHT_ROUNDS {
            if pending.is_empty() {
                return Ok(());
            }
            let metrics = self.policy.active(SCOPE, self.table.user_totals);
            if metrics.is_empty() {
                return Ok(());
            }
            let joined = metrics.join(",");
            let ops: Vec<String> = pending
                .iter()
                .map(|(a, day)| {
                    self.client.relative_url(
                        &format!("{}/insights", accounts[*a].ig_id),
                        &[
                            ("metric", joined.as_str()),
                            ("metric_type", "total_value"),
                            ("period", "day"),
                            ("since", &(*day - Duration::days(1)).timestamp().to_string()),
                            ("until", &day.timestamp().to_string()),
                        ],
                    )
                })
                .collect();
            let results = self.client.batch(&ops).map_err(|e| e.into_connector("requesting daily account totals"))?;
            let mut retry = Vec::new();
            for ((a, day), result) in pending.drain(..).zip(results) {
                match result {
                    Ok(body) => {
                        let record = days[a].entry(day).or_default();
                        for item in body.get("data").and_then(Value::as_array).into_iter().flatten() {
                            if let (Some(name), Some(value)) = (
                                item.get("name").and_then(Value::as_str),
                                item.pointer("/total_value/value").filter(|v| !v.is_null()),
                            ) {
                                record.insert(name.to_string(), value.clone());
                            }
                        }
                    }
                    Err(err) => {
                        let doing = format!("reading daily account totals of {}", accounts[a].ig_id);
                        match self.on_op_error(err, SCOPE, &metrics, no_insights_for_account, &doing) {
                            OpFailure::Retry => retry.push((a, day)),
                            OpFailure::Skip(reason) => emit::warn(&format!(
                                "No daily totals for account {} on {}: {reason}",
                                accounts[a].ig_id,
                                format_timestamp(day)
                            )),
                            OpFailure::Fail(e) => return Err(e),
                        }
                    }
                }
            }
            pending = retry;
        }
        Ok(())
    }
}

/// Carousel `children: {data: [...]}` (from field expansion) → a plain array of cleaned child
/// objects, as Airbyte's connector shapes it.
fn inline_children(media: &mut Map<String, Value>) {
    if let Some(children) = media.remove("children") {
        let list = match children {
            Value::Object(mut o) => o.remove("data").unwrap_or(Value::Array(vec![])),
            other => other,
        };
        let cleaned: Vec<Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_object().cloned())
            .map(|mut c| {
                transform::clean_object(&mut c);
                Value::Object(c)
            })
            .collect();
        media.insert("children".into(), Value::Array(cleaned));
    }
}

/// `{"data":[{"name":"reach","values":[{"value":5}]}, …]}` → `{"reach":5, …}`.
pub fn flatten_insights(body: &Value) -> std::result::Result<Map<String, Value>, String> {
    let data = body.get("data").and_then(Value::as_array).ok_or("no `data` array")?;
    let mut out = Map::new();
    for item in data {
        let name = item.get("name").and_then(Value::as_str).ok_or("an insight without `name`")?;
        let value = item
            .pointer("/values/0/value")
            .or_else(|| item.pointer("/total_value/value"))
            .cloned()
            .unwrap_or(Value::Null);
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// One `user_lifetime_insights` record from one demographics metric, keeping every dimension.
pub fn demographic_record(item: &Value, breakdown: &str, timeframe: &str) -> Option<Map<String, Value>> {
    let metric = item.get("name")?.as_str()?;
    let first = item.pointer("/total_value/breakdowns/0")?;
    let keys = first.get("dimension_keys").cloned().unwrap_or_else(|| json!(breakdown.split(',').collect::<Vec<_>>()));
    let mut value = Map::new();
    let mut results = Vec::new();
    for r in first.get("results").and_then(Value::as_array).into_iter().flatten() {
        let dims: Vec<String> = r
            .get("dimension_values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string()))
            .collect();
        let v = r.get("value").cloned().unwrap_or(Value::Null);
        value.insert(dims.join(","), v.clone());
        results.push(json!({"dimension_values": dims, "value": v}));
    }
    let mut record = Map::new();
    record.insert("breakdown".into(), json!(breakdown));
    record.insert("metric".into(), json!(metric));
    record.insert("timeframe".into(), json!(timeframe));
    record.insert("dimension_keys".into(), keys);
    record.insert("value".into(), Value::Object(value));
    record.insert("results".into(), Value::Array(results));
    Some(record)
}

/// Answers meaning "this object has no insights", with the reason shown to the user.
fn skip_reason(stream: &str, err: &ApiError) -> Option<String> {
    let g = err.graph()?;
    let why = match (g.code, g.error_subcode) {
        (_, Some(2108006)) => "it was posted before the account became a business account",
        (100, Some(33)) => "the object does not exist or is not accessible to this token",
        (10, _) if stream == STORY_INSIGHTS => "Meta reports fewer than 5 viewers (not enough viewers)",
        (10, _) => "the token has no permission for this media's insights (instagram_manage_insights)",
        _ => return None,
    };
    Some(format!("{why} ({})", g.message))
}

/// Account-level insights Meta declines with a permission answer (e.g. fewer than 100
/// followers): skipped with a warning.
fn no_insights_for_account(err: &ApiError) -> Option<String> {
    err.graph().filter(|g| g.code == 10).map(|g| g.message.clone())
}

/// Meta did not run the operation (null batch slot or a 5xx inside the batch): ask again.
fn is_unrun(err: &ApiError) -> bool {
    match err {
        ApiError::Status { status, .. } => *status >= 500,
        ApiError::Graph { status, error, .. } => {
            *status >= 500 || error.is_transient == Some(true) && !error.is_throttle()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `age,gender` keeps both dimensions; no two buckets collapse.
    #[test]
    fn demographics_keep_every_dimension() {
        let item = json!({"name": "follower_demographics", "total_value": {"breakdowns": [{
        "dimension_keys": ["age", "gender"],
        "results": [
            {"dimension_values": ["18-24", "F"], "value": 5},
            {"dimension_values": ["18-24", "M"], "value": 7},
        ]}]}});
        let r = demographic_record(&item, "age,gender", "this_month").unwrap();
        assert_eq!(r["value"], json!({"18-24,F": 5, "18-24,M": 7}));
        assert_eq!(r["results"].as_array().unwrap().len(), 2);
        assert_eq!(r["dimension_keys"], json!(["age", "gender"]));
    }

    /// Lifetime and total_value insight shapes both flatten.
    #[test]
    fn insights_flatten() {
        let body = json!({"data": [
            {"name": "reach", "period": "lifetime", "values": [{"value": 3}]},
            {"name": "views", "total_value": {"value": 9}},
        ]});
        let r = flatten_insights(&body).unwrap();
        assert_eq!(r["reach"], 3);
        assert_eq!(r["views"], 9);
        assert!(flatten_insights(&json!({})).is_err());
    }

    /// Children from field expansion become a plain, cleaned array.
    #[test]
    fn children_are_inlined() {
        let mut m = json!({"children": {"data": [{"id": "1", "timestamp": "2024-01-01T00:00:00+0000"}]}})
            .as_object()
            .unwrap()
            .clone();
        inline_children(&mut m);
        assert_eq!(m["children"], json!([{"id": "1", "timestamp": "2024-01-01T00:00:00+00:00"}]));
    }
}
