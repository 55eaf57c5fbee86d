//! What the read bench and the timeline example read: the seven original streams, and every
//! stream the connector declares with the public-content lists set (the fake's whole public
//! world: three competitors, three hashtags), as a new user who selects everything would.

use serde_json::{Value, json};

/// The seven original streams (the bench's main read).
pub const SEVEN: &[&str] =
    &["users", "media", "media_insights", "stories", "story_insights", "user_insights", "user_lifetime_insights"];

/// Every stream the connector declares.
pub const EVERY_STREAM: &[&str] = &[
    "users",
    "media",
    "media_insights",
    "stories",
    "story_insights",
    "user_insights",
    "user_lifetime_insights",
    "media_comments",
    "tagged_media",
    "competitor_profiles",
    "competitor_media",
    "hashtag_media",
];

/// Config keys that turn the public-content streams on.
pub fn public_lists() -> Value {
    json!({
        "competitor_usernames": ["rival_roasters", "summit_gear", "quiet_studio"],
        "hashtags": ["sunset", "coffee", "handmade"],
    })
}
