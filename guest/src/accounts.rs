//! The Instagram accounts a read covers: the token's Pages and their linked professional
//! accounts (Facebook Login) or the token's own account (Instagram Login), filtered by
//! `account_ids`.
//!
//! With Facebook Login the account list can bring along, through field expansion, what the
//! first requests of `users` and `media` would ask (the IG user node, the first media page), so
//! those streams start without a round trip of their own. If Meta refuses the expanded list
//! (too much data at once, or a field it no longer serves) the plain list is asked instead.
//!
//! Owns account discovery only; it must not read any stream (what to bring along is the
//! streams' [`Prefetch`], what it yields is handed over untouched in [`Prefetched`]).

use crate::config::{Config, Login};
use crate::emit;
use crate::error::{ConnectorError, Result};
use crate::graph::{self, ApiError, GraphClient, PAGE_LIMIT};
use serde_json::{Map, Value};
use std::cell::RefCell;

/// What the account list should bring along for the streams (Facebook Login only).
#[derive(Debug, Clone, Default)]
pub struct Prefetch {
    /// Fields of the IG user node (`users`).
    pub user_fields: Option<&'static str>,
    /// The first page of the media edge: its fields and `limit`.
    pub media: Option<(String, &'static str)>,
}

impl Prefetch {
    fn is_empty(&self) -> bool {
        self.user_fields.is_none() && self.media.is_none()
    }

    /// The `instagram_business_account{…}` selection.
    fn ig_user_selection(&self) -> String {
        let mut fields = vec!["id", "media_count"];
        for f in self.user_fields.iter().flat_map(|f| f.split(',')) {
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
        let mut out = fields.join(",");
        if let Some((media_fields, limit)) = &self.media {
            out.push_str(&format!(",media.limit({limit}){{{media_fields}}}"));
        }
        out
    }
}

/// What the account list brought along for one account; each part is taken once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prefetched {
    user: RefCell<Option<Map<String, Value>>>,
    media: RefCell<Option<Value>>,
}

impl Prefetched {
    /// The IG user node with the asked fields (without the expanded `media`).
    pub fn take_user(&self) -> Option<Map<String, Value>> {
        self.user.borrow_mut().take()
    }

    /// The first page of the media edge, as `{ig-user-id}/media` answers it.
    pub fn take_media(&self) -> Option<Value> {
        self.media.borrow_mut().take()
    }
}

/// An Instagram professional account and the Facebook Page it is linked to.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The linked Facebook Page (none with Instagram Login).
    pub page_id: Option<String>,
    /// The Instagram user id.
    pub ig_id: String,
    /// `media_count` of the IG user, when Meta sent it (for progress estimates).
    pub media_count: Option<u64>,
    /// What the account list brought along (see [`Prefetch`]).
    pub prefetched: Prefetched,
}

/// Every Instagram business account the token can see (pages without one are skipped),
/// restricted to `account_ids` when configured; with Facebook Login each brings along what
/// `prefetch` asks.
pub fn list(client: &GraphClient, config: &Config, prefetch: Prefetch) -> Result<Vec<Account>> {
    let mut accounts = match config.login {
        Login::Facebook if !prefetch.is_empty() => match facebook_accounts(client, prefetch) {
            Err(Refused::Graph(e)) if e.graph().is_some_and(|g| g.code == 100 || g.is_too_much_data()) => {
                emit::info(&format!(
                    "Meta refused the account list with the first pages of the streams ({}); listing the accounts alone",
                    e.graph().map(|g| g.message.as_str()).unwrap_or_default()
                ));
                facebook_accounts(client, Prefetch::default()).map_err(Refused::into_connector)?
            }
            other => other.map_err(Refused::into_connector)?,
        },
        Login::Facebook => facebook_accounts(client, prefetch).map_err(Refused::into_connector)?,
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
    Ok(Account {
        page_id: None,
        ig_id,
        media_count: me.get("media_count").and_then(Value::as_u64),
        prefetched: Prefetched::default(),
    })
}

/// Why listing the Facebook Pages stopped.
enum Refused {
    Graph(ApiError),
    Other(ConnectorError),
}

impl Refused {
    fn into_connector(self) -> ConnectorError {
        match self {
            Refused::Graph(e) => e.into_connector(LISTING),
            Refused::Other(e) => e,
        }
    }
}

const LISTING: &str = "listing the Facebook Pages of the token (me/accounts)";

/// Facebook Login: every Instagram business account linked to a Page the token can see.
fn facebook_accounts(client: &GraphClient, prefetch: Prefetch) -> std::result::Result<Vec<Account>, Refused> {
    let mut accounts = Vec::new();
    let mut pages_seen = 0usize;
    let fields = format!("id,instagram_business_account{{{}}}", prefetch.ig_user_selection());
    let mut url = client.url("me/accounts", &[("fields", &fields), ("limit", PAGE_LIMIT)]);
    let mut seen = std::collections::BTreeSet::from([url.clone()]);
    loop {
        let page = client.get_url(&url).and_then(|v| graph::parse_page(v, &url)).map_err(Refused::Graph)?;
        for page in page.data {
            pages_seen += 1;
            let page_id = id_of(&page).ok_or_else(|| {
                Refused::Other(
                    ConnectorError::system("The Graph API listed a Facebook Page without an `id`")
                        .with_internal(format!("page object: {page}")),
                )
            })?;
            let Some(Value::Object(mut ig)) = page.get("instagram_business_account").cloned() else {
                continue;
            };
            let Some(ig_id) = id_of(&Value::Object(ig.clone())) else {
                continue;
            };
            if accounts.iter().any(|a: &Account| a.ig_id == ig_id) {
                continue;
            }
            let media_count = ig.get("media_count").and_then(Value::as_u64);
            let media = ig.remove("media").filter(|_| prefetch.media.is_some());
            let prefetched =
                Prefetched { user: RefCell::new(prefetch.user_fields.map(|_| ig)), media: RefCell::new(media) };
            accounts.push(Account { page_id: Some(page_id), ig_id, media_count, prefetched });
        }
        match page.next {
            Some(next) if seen.insert(next.clone()) => url = next,
            _ => break,
        }
    }
    if accounts.is_empty() {
        return Err(Refused::Other(ConnectorError::config(format!(
            "No Instagram professional account is linked to the {pages_seen} Facebook Page(s) this access token can see. Link the Instagram account to a Facebook Page and grant the token pages_show_list and instagram_basic."
        ))));
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
