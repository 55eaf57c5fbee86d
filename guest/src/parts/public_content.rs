//! When the streams of public content (business discovery, hashtag search) may run.
//!
//! Owns the rule: only with Facebook Login (Meta serves business discovery and hashtag search
//! to Facebook Login apps only; with `login: instagram` and a list set, one warning names the
//! setting and the rest of the read goes on) and only when their list is set. It must not
//! send requests nor build the stream families (the registry in `streams` does).

use crate::config::{Config, Login};
use crate::emit;

/// Whether the competitor and hashtag families may run, given which of their streams are
/// selected: `(competitors, hashtags)`.
pub fn gate(config: &Config, competitors_selected: bool, hashtags_selected: bool) -> (bool, bool) {
    let competitors = competitors_selected && !config.watch.competitor_usernames.is_empty();
    let hashtags = hashtags_selected && !config.watch.hashtags.is_empty();
    if config.login != Login::Instagram {
        return (competitors, hashtags);
    }
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
    (false, false)
}
