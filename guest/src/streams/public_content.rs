//! The families reading public content through an account: competitors (business discovery)
//! and hashtags (hashtag search).
//!
//! Owns when they run: only with Facebook Login (Meta serves business discovery and hashtag
//! search to Facebook Login apps only; with `login: instagram` and a list set, one warning
//! names the setting and the rest of the read goes on) and only when their list is set. It
//! must not send requests.

use super::competitors::{COMPETITOR_MEDIA, COMPETITOR_PROFILES, Competitors};
use super::hashtags::{HASHTAG_MEDIA, Hashtags};
use crate::accounts::Account;
use crate::catalog::Selection;
use crate::config::{Config, Login};
use crate::emit;
use crate::engine::Family;
use crate::error::Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// The selected public-content families (none, with a warning, under Instagram Login).
pub fn families(
    selection: &Selection,
    config: &Config,
    state: &BTreeMap<String, Value>,
    accounts: &[Account],
    now: DateTime<Utc>,
) -> Result<Vec<Box<dyn Family>>> {
    let wants = |s: &str| selection.is_selected(s);
    let competitors = (wants(COMPETITOR_PROFILES.name) || wants(COMPETITOR_MEDIA.name))
        && !config.watch.competitor_usernames.is_empty();
    let hashtags = wants(HASHTAG_MEDIA.name) && !config.watch.hashtags.is_empty();
    if config.login == Login::Instagram {
        let set: Vec<&str> = [(competitors, "`competitor_usernames`"), (hashtags, "`hashtags`")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect();
        if !set.is_empty() {
            emit::warn(&format!(
                "{} set, but Meta serves business discovery and hashtag search only to apps with Facebook Login, and this connection uses `login: instagram`; competitor_profiles, competitor_media and hashtag_media stay empty (the other streams are read)",
                set.join(" and ") + if set.len() > 1 { " are" } else { " is" }
            ));
        }
        return Ok(Vec::new());
    }
    let mut out: Vec<Box<dyn Family>> = Vec::new();
    if competitors {
        out.push(Box::new(Competitors::new()));
    }
    if hashtags {
        out.push(Box::new(Hashtags::new(config, state, accounts, now)?));
    }
    Ok(out)
}
