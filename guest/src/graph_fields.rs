//! Which Graph fields the connector asks of each node, per login, as data: the one place to
//! edit when Meta adds or retires a field (beside `metrics`, the metric sets).
//!
//! Meta added to IG Media `is_ai_generated` (both logins, Jun 2026), and for Facebook Login
//! only the counts `reposts_count`, `saved_count`, `shares_count` and the ads-inclusive
//! `total_like_count`, `total_comments_count`, `total_views_count` (Apr 2026),
//! `media_audio_type` (Jun 2026) and the `collaborators` edge (asked through field expansion;
//! feed images, reels and carousels); `alt_text` and `is_shared_to_feed` (reels) are older.
//! IG users have `has_profile_pic` and `is_published` with Facebook Login. What a login does
//! not serve is not asked there; a field Meta stops serving is dropped by the retired-field
//! rule (`engine::fields`) with one warning. Pure data; no I/O.

use crate::config::Login;

/// The fields of IG Media both logins serve, without the carousel children.
macro_rules! media_fields_both {
    () => {
        "alt_text,caption,comments_count,id,ig_id,is_ai_generated,is_comment_enabled,is_shared_to_feed,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username"
    };
}

/// Carousel children through field expansion.
macro_rules! media_children {
    () => {
        "children{id,ig_id,media_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username}"
    };
}

/// Fields of the media edge with Facebook Login; carousel children and collaborators come
/// through field expansion.
pub const MEDIA_FIELDS: &str = concat!(
    media_fields_both!(),
    ",collaborators{id,username,invite_status},media_audio_type,reposts_count,saved_count,shares_count,total_comments_count,total_like_count,total_views_count,",
    media_children!()
);

/// Fields of the media edge with Instagram Login (graph.instagram.com).
pub const INSTAGRAM_LOGIN_MEDIA_FIELDS: &str = concat!(media_fields_both!(), ",", media_children!());

/// The media edge's fields for `login`.
pub fn media_fields(login: Login) -> &'static str {
    match login {
        Login::Facebook => MEDIA_FIELDS,
        Login::Instagram => INSTAGRAM_LOGIN_MEDIA_FIELDS,
    }
}

/// Fields of the stories edge.
pub const STORY_FIELDS: &str = "caption,id,ig_id,like_count,media_type,media_product_type,media_url,owner,permalink,shortcode,thumbnail_url,timestamp,username";

/// Fields of the IG user node for `users` (Facebook Login).
pub const USER_FIELDS: &str = "id,ig_id,username,name,biography,website,followers_count,follows_count,media_count,profile_picture_url,has_profile_pic,is_published";
/// The fields Instagram Login serves on graph.instagram.com.
pub const INSTAGRAM_LOGIN_USER_FIELDS: &str =
    "id,username,name,followers_count,follows_count,media_count,profile_picture_url";

/// The IG user fields for `login`.
pub fn user_fields(login: Login) -> &'static str {
    match login {
        Login::Facebook => USER_FIELDS,
        Login::Instagram => INSTAGRAM_LOGIN_USER_FIELDS,
    }
}

/// Profile fields business discovery serves.
pub const COMPETITOR_PROFILE_FIELDS: &str =
    "id,ig_id,username,name,biography,website,followers_count,follows_count,media_count,profile_picture_url";
/// Post fields business discovery serves (`view_count`: reels only, Jun 2025).
pub const COMPETITOR_MEDIA_FIELDS: &str = "id,caption,comments_count,like_count,media_type,media_product_type,media_url,permalink,timestamp,username,view_count";

#[cfg(test)]
mod tests {
    use super::*;

    /// Instagram Login asks no field Meta serves to Facebook Login only, and both logins ask
    /// the rest.
    #[test]
    fn logins() {
        let fields = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        let fb = fields(media_fields(Login::Facebook));
        let ig = fields(media_fields(Login::Instagram));
        for f in ["reposts_count", "saved_count", "total_views_count", "media_audio_type"] {
            assert!(fb.iter().any(|x| x == f) && !ig.iter().any(|x| x == f), "{f}");
        }
        assert!(MEDIA_FIELDS.contains("collaborators{id,username,invite_status}"));
        assert!(!INSTAGRAM_LOGIN_MEDIA_FIELDS.contains("collaborators"));
        for f in ["is_ai_generated", "alt_text", "is_shared_to_feed"] {
            assert!(ig.iter().any(|x| x == f), "{f}");
        }
        assert!(user_fields(Login::Facebook).contains("has_profile_pic"));
        assert!(!user_fields(Login::Instagram).contains("is_published"));
    }
}
