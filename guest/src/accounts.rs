//! The Instagram accounts a read covers: the token's Pages and their linked professional
//! accounts (Facebook Login) or the token's own account (Instagram Login), filtered by
//! `account_ids`.
//!
//! Owns account discovery only; it must not read any stream.

use crate::config::{Config, Login};
use crate::error::{ConnectorError, Result};
use crate::graph::{GraphClient, PAGE_LIMIT};
use serde_json::Value;

/// An Instagram professional account and the Facebook Page it is linked to.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The linked Facebook Page (none with Instagram Login).
    pub page_id: Option<String>,
    /// The Instagram user id.
    pub ig_id: String,
    /// `media_count` of the IG user, when Meta sent it (for progress estimates).
    pub media_count: Option<u64>,
}

/// Every Instagram business account the token can see (pages without one are skipped),
/// restricted to `account_ids` when configured.
pub fn list(client: &GraphClient, config: &Config) -> Result<Vec<Account>> {
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
