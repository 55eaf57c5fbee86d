//! The stream registry: every stream's declaration (name, keys, cursor, schema, Graph fields,
//! parent) lives in its family's module; this module lists them, builds SPEC and CATALOG from
//! them, and creates the selected families for a read.
//!
//! Adding a stream is one schema file, one module (its `StreamDef` and hooks), one line in
//! [`STREAMS`] (and, for a new family, one in [`families`]) and one test. This module must not
//! do I/O; `discover` advertises exactly what the declarations say, and `read` accepts exactly
//! the same.

pub mod comments;
pub mod competitors;
pub mod demographics;
pub mod hashtags;
pub mod media;
pub mod stories;
pub mod tagged;
pub mod user_insights;
pub mod user_insights_breakdowns;
pub mod users;

use crate::accounts::{Account, Prefetch};
use crate::catalog::Selection;
use crate::config::Config;
use crate::engine::Family;
use crate::error::Result;
use crate::state::AccountCursors;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub use crate::catalog::StreamDef;

pub const USERS: &str = users::USERS.name;
pub const MEDIA: &str = media::MEDIA.name;
pub const MEDIA_INSIGHTS: &str = media::MEDIA_INSIGHTS.name;
pub const STORIES: &str = stories::STORIES.name;
pub const STORY_INSIGHTS: &str = stories::STORY_INSIGHTS.name;
pub const USER_INSIGHTS: &str = user_insights::USER_INSIGHTS.name;
pub const USER_INSIGHTS_BREAKDOWNS: &str = user_insights_breakdowns::USER_INSIGHTS_BREAKDOWNS.name;
pub const USER_LIFETIME_INSIGHTS: &str = demographics::USER_LIFETIME_INSIGHTS.name;
pub const MEDIA_COMMENTS: &str = comments::MEDIA_COMMENTS.name;
pub const TAGGED_MEDIA: &str = tagged::TAGGED_MEDIA.name;

/// Every stream, in catalog order.
pub const STREAMS: &[&StreamDef] = &[
    &users::USERS,
    &media::MEDIA,
    &media::MEDIA_INSIGHTS,
    &stories::STORIES,
    &stories::STORY_INSIGHTS,
    &user_insights::USER_INSIGHTS,
    &user_insights_breakdowns::USER_INSIGHTS_BREAKDOWNS,
    &demographics::USER_LIFETIME_INSIGHTS,
    &comments::MEDIA_COMMENTS,
    &tagged::TAGGED_MEDIA,
    &competitors::COMPETITOR_PROFILES,
    &competitors::COMPETITOR_MEDIA,
    &hashtags::HASHTAG_MEDIA,
];

/// The stream registry as the engine sees it (wired in `lib.rs`: the engine does not import
/// the stream modules).
pub struct Registry;

impl crate::engine::Registry for Registry {
    fn declared(&self) -> &'static [&'static StreamDef] {
        STREAMS
    }

    fn prefetch(&self, selection: &Selection, config: &Config) -> Prefetch {
        prefetch(selection, config)
    }

    fn families(
        &self,
        selection: &Selection,
        config: &Config,
        state: &BTreeMap<String, Value>,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<Vec<Box<dyn Family>>> {
        families(selection, config, state, accounts, now)
    }
}

/// The families serving the selected streams, in the order their first requests go out.
pub fn families(
    selection: &Selection,
    config: &Config,
    state: &BTreeMap<String, Value>,
    accounts: &[Account],
    now: DateTime<Utc>,
) -> Result<Vec<Box<dyn Family>>> {
    let wants = |s: &str| selection.is_selected(s);
    let mut out: Vec<Box<dyn Family>> = Vec::new();
    if wants(USERS) {
        out.push(Box::new(users::Users));
    }
    if wants(MEDIA) || wants(MEDIA_INSIGHTS) || wants(MEDIA_COMMENTS) {
        // `media_comments` rides on the media walk: its posts come with the media pages.
        let rider: Option<Box<dyn crate::parts::media_riders::MediaRider>> = if wants(MEDIA_COMMENTS) {
            Some(Box::new(comments::Comments::new(selection, config, state, accounts, now)?))
        } else {
            None
        };
        out.push(Box::new(media::Media::new(selection, config, state, accounts, now, rider)?));
    }
    if wants(STORIES) || wants(STORY_INSIGHTS) {
        out.push(Box::new(stories::Stories::new(accounts)));
    }
    if wants(USER_LIFETIME_INSIGHTS) {
        out.push(Box::new(demographics::Demographics::default()));
    }
    if wants(TAGGED_MEDIA) {
        out.push(Box::new(tagged::Tagged::new(selection, config, state, accounts, now)?));
    }
    if wants(USER_INSIGHTS) || wants(USER_INSIGHTS_BREAKDOWNS) {
        out.push(Box::new(user_insights::UserInsights::new(selection, config, state, accounts, now)?));
    }
    let (competitors, hashtags) = crate::parts::public_content::gate(
        config,
        wants(competitors::COMPETITOR_PROFILES.name) || wants(competitors::COMPETITOR_MEDIA.name),
        wants(hashtags::HASHTAG_MEDIA.name),
    );
    if competitors {
        out.push(Box::new(competitors::Competitors::new()));
    }
    if hashtags {
        out.push(Box::new(hashtags::Hashtags::new(config, state, accounts, now)?));
    }
    Ok(out)
}

/// What the account list brings along for the selected streams (field expansion): the IG user
/// node for `users`, the first media page for `media`, `media_insights` and `media_comments`
/// (with the fields the media walk asks on every page).
pub fn prefetch(selection: &Selection, config: &Config) -> Prefetch {
    let wants = |s: &str| selection.is_selected(s);
    let own = wants(MEDIA) || wants(MEDIA_INSIGHTS);
    let extra = if wants(MEDIA_COMMENTS) { comments::post_fields() } else { Vec::new() };
    Prefetch {
        user_fields: wants(USERS).then(|| crate::graph_fields::user_fields(config.login)),
        media: (own || wants(MEDIA_COMMENTS))
            .then(|| (media::edge_fields(config.login, own, &extra), crate::graph::PAGE_LIMIT)),
    }
}

/// The oldest post timestamp `stream` reads for account `a`: on an incremental sync its cursor
/// minus `media_lookback_days`, never before `start_date`; `None` reads everything.
pub fn post_cutoff(
    selection: &Selection,
    config: &Config,
    stream: &str,
    cursors: &AccountCursors,
    a: &Account,
) -> Option<DateTime<Utc>> {
    let from_cursor = if selection.is_incremental(stream) {
        cursors.get(&a.ig_id).map(|c| c - Duration::days(config.media_lookback_days))
    } else {
        None
    };
    match (from_cursor, config.start_date) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The connection specification.
pub const SPEC: &str = include_str!("../../../schemas/spec.json");
/// Airbyte's `advanced_auth`: the declarative OAuth 2.0 flow the platform runs for both logins
/// (README, "Authenticate your Instagram account").
pub const ADVANCED_AUTH: &str = include_str!("../../../schemas/advanced_auth.json");

/// Our own docs (packaging/metadata.yaml says the same; tests/acceptance checks both).
pub const DOCUMENTATION_URL: &str = "https://github.com/source-instagram/source-instagram/blob/main/README.md";

/// The SPEC message body.
pub fn spec_json() -> Value {
    json!({
        "documentationUrl": DOCUMENTATION_URL,
        "connectionSpecification": serde_json::from_str::<Value>(SPEC).expect("spec.json is valid JSON (checked by tests)"),
        "supportsIncremental": true,
        "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
        "advanced_auth": serde_json::from_str::<Value>(ADVANCED_AUTH).expect("advanced_auth.json is valid JSON (checked by tests)"),
    })
}

/// The CATALOG message body.
pub fn catalog_json() -> Value {
    json!({ "streams": STREAMS.iter().map(|s| s.catalog_entry()).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded schema parses, is an object schema and declares its keys and cursor.
    #[test]
    fn schemas_declare_keys_and_cursors() {
        for s in STREAMS {
            let schema: Value = serde_json::from_str(s.schema).unwrap();
            let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{} has properties", s.name));
            for k in s.primary_key.iter().chain(s.cursor_field.iter()) {
                assert!(props.contains_key(*k), "{} declares {k}", s.name);
            }
            assert!(props.contains_key("business_account_id"), "{}", s.name);
            assert!(props.contains_key("page_id"), "{}", s.name);
        }
        assert_eq!(catalog_json()["streams"].as_array().unwrap().len(), 13);
        assert!(
            spec_json()["connectionSpecification"]["properties"]["access_token"]["airbyte_secret"].as_bool().unwrap()
        );
    }
}
